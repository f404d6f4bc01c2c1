// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {ERC165Checker} from "@openzeppelin/contracts/utils/introspection/ERC165Checker.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {IERC3525, IERC3525Metadata, IERC3525Receiver} from "./interfaces/IERC3525.sol";
import {IKipAssets} from "./interfaces/IKipAssets.sol";

/// @title KipAssets: every listed AI asset is an ERC-3525 slot whose fixed share supply earns its revenue.
/// @notice One listing = one slot. Listing mints one token holding all SHARES_PER_SLOT shares to the creator;
/// ERC-3525 value transfers split them. Revenue credited to a slot is shared pro rata to value, exactly:
/// each token keeps a checkpoint of the slot's cumulative revenue and an owed amount scaled by
/// SHARES_PER_SLOT, so no rounding is lost; a token's sub-unit remainder (< 1 unit) stays with it.
/// Tokens are never burnt, so the values of a slot always sum to SHARES_PER_SLOT.
contract KipAssets is IKipAssets, IERC3525Metadata, IERC721Errors, ERC165, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Strings for uint256;

    /// @notice Shares minted per slot: 1_000_000 with 6 value decimals = one whole asset.
    uint256 public constant SHARES_PER_SLOT = 1_000_000;

    /// @dev Owner, slot and approval epoch in one word: what ownership checks and transfers read.
    /// The epoch grows on every ERC-721 transfer; value allowances are keyed by it, so a transfer
    /// clears all of them without iterating.
    struct TokenHeader {
        address owner;
        uint64 slot;
        uint32 epoch;
    }

    /// @dev Value and revenue accounting in one word. value <= SHARES_PER_SLOT < 2**32;
    /// checkpoint is a slot revenue (< 2**96, enforced in `credit`); owedScaled <= 2**32 * 2**96.
    struct TokenShares {
        uint32 value;
        uint96 checkpoint;
        uint128 owedScaled;
    }

    /// @dev Slot header in one word.
    struct SlotHeader {
        address creator;
        AssetKind kind;
        bool active;
        uint80 price;
    }

    IERC20 private immutable _paymentToken;

    address private _settlement;
    /// @dev KipLicences: the second (and last) contract allowed to credit revenue, for licence purchases.
    address private _licences;
    uint64 private _slotCount;
    uint64 private _tokenCount;
    string private _baseURI;

    mapping(uint256 tokenId => TokenHeader) private _headers;
    mapping(uint256 tokenId => TokenShares) private _shares;
    mapping(uint256 slot => SlotHeader) private _slots;
    mapping(uint256 slot => uint256) private _slotRevenue;
    mapping(uint256 slot => bytes32) private _slotContentHash;
    mapping(uint256 slot => string) private _slotURIs;
    mapping(address owner => uint256) private _balances;
    mapping(uint256 tokenId => address) private _tokenApprovals;
    mapping(address owner => mapping(address operator => bool)) private _operatorApprovals;
    mapping(uint256 tokenId => mapping(uint256 epoch => mapping(address operator => uint256))) private _allowances;

    /// @param paymentToken_ The ERC-20 revenue is paid in.
    /// @param baseURI_ Prefix of token and contract metadata URIs (ends with "/").
    /// @param owner_ Admin: sets the settlement contract once and the base URI.
    constructor(IERC20 paymentToken_, string memory baseURI_, address owner_) Ownable(owner_) {
        _paymentToken = paymentToken_;
        _baseURI = baseURI_;
    }

    // ---------------------------------------------------------------------------------------------
    // Listing
    // ---------------------------------------------------------------------------------------------

    /// @notice Lists a new asset as a new slot and mints one token holding all its shares to the caller.
    /// @param kind Dataset, Model or App.
    /// @param pricePerQuery Price per query in payment-token units (< 2**80).
    /// @param uri Metadata URI of the asset.
    /// @param contentHash Hash of what `uri` serves, so the metadata can be checked.
    /// @return slot The new slot id (sequential from 1).
    /// @return tokenId The new token id (sequential from 1).
    function list(AssetKind kind, uint256 pricePerQuery, string calldata uri, bytes32 contentHash)
        external
        returns (uint256 slot, uint256 tokenId)
    {
        if (pricePerQuery > type(uint80).max) revert PriceTooHigh(pricePerQuery, type(uint80).max);
        // Counters are uint64 and grow by one per call: they cannot overflow in practice.
        unchecked {
            slot = uint256(_slotCount) + 1;
            tokenId = uint256(_tokenCount) + 1;
        }
        _slotCount = uint64(slot);
        _tokenCount = uint64(tokenId);
        _slots[slot] = SlotHeader({creator: msg.sender, kind: kind, active: true, price: uint80(pricePerQuery)});
        _slotURIs[slot] = uri;
        if (contentHash != bytes32(0)) _slotContentHash[slot] = contentHash;
        emit AssetListed(slot, msg.sender, kind, tokenId, pricePerQuery, uri, contentHash);

        _mintToken(msg.sender, tokenId, slot, 0);
        _shares[tokenId] = TokenShares({value: uint32(SHARES_PER_SLOT), checkpoint: 0, owedScaled: 0});
        emit TransferValue(0, tokenId, SHARES_PER_SLOT);
    }

    /// @notice Creator only: sets the slot's price per query.
    /// @param slot The slot.
    /// @param pricePerQuery New price in payment-token units (< 2**80).
    function setPrice(uint256 slot, uint256 pricePerQuery) external {
        SlotHeader storage header = _creatorSlot(slot);
        if (pricePerQuery > type(uint80).max) revert PriceTooHigh(pricePerQuery, type(uint80).max);
        uint256 oldPrice = header.price;
        header.price = uint80(pricePerQuery);
        emit PriceUpdated(slot, oldPrice, pricePerQuery);
    }

    /// @notice Creator only: sets the slot's metadata URI and the hash of what it serves.
    /// @param slot The slot.
    /// @param uri New metadata URI.
    /// @param contentHash Hash of the content behind `uri`.
    function setMetadata(uint256 slot, string calldata uri, bytes32 contentHash) external {
        _creatorSlot(slot);
        _slotURIs[slot] = uri;
        _slotContentHash[slot] = contentHash;
        emit MetadataUpdated(slot, uri, contentHash);
    }

    /// @notice Creator only: (de)activates the listing. Receipts already signed for it still settle.
    /// @param slot The slot.
    /// @param active Whether the market should offer it.
    function setActive(uint256 slot, bool active) external {
        SlotHeader storage header = _creatorSlot(slot);
        header.active = active;
        emit ActiveUpdated(slot, active);
    }

    // ---------------------------------------------------------------------------------------------
    // Admin
    // ---------------------------------------------------------------------------------------------

    /// @notice Owner only, once: sets the settlement contract allowed to credit revenue.
    /// @param settlement_ The KipSettlement deployment.
    function setSettlement(address settlement_) external onlyOwner {
        if (_settlement != address(0)) revert SettlementAlreadySet(_settlement);
        if (settlement_ == address(0)) revert InvalidSettlement(settlement_);
        _settlement = settlement_;
        emit SettlementSet(settlement_);
    }

    /// @notice Owner only, once: sets the licence contract allowed to credit revenue from licence purchases.
    /// @param licences_ The KipLicences deployment.
    function setLicences(address licences_) external onlyOwner {
        if (_licences != address(0)) revert LicencesAlreadySet(_licences);
        if (licences_ == address(0)) revert InvalidSettlement(licences_);
        _licences = licences_;
        emit LicencesSet(licences_);
    }

    /// @notice Owner only: sets the prefix of `tokenURI` and `contractURI`.
    /// @param baseURI_ New base URI (should end with "/").
    function setBaseURI(string calldata baseURI_) external onlyOwner {
        _baseURI = baseURI_;
        emit BaseURIUpdated(baseURI_);
    }

    // ---------------------------------------------------------------------------------------------
    // Revenue
    // ---------------------------------------------------------------------------------------------

    /// @notice Settlement or licences only: credits net revenue to slots. The caller has already
    /// transferred the sum of `amounts` to this contract. Query revenue (KipSettlement) and licence
    /// purchases (KipLicences) reach holders through this one path.
    /// @param slots Slot ids (must exist).
    /// @param amounts Net revenue per slot, in payment-token units.
    function credit(uint256[] calldata slots, uint256[] calldata amounts) external {
        // msg.sender is never the zero address, so an unset contract matches nobody.
        if (msg.sender != _settlement && msg.sender != _licences) revert NotSettlement(msg.sender);
        if (slots.length != amounts.length) revert LengthMismatch(slots.length, amounts.length);
        uint256 count = _slotCount;
        for (uint256 i; i < slots.length; ++i) {
            uint256 slot = slots[i];
            if (slot == 0 || slot > count) revert UnknownSlot(slot);
            uint256 revenue = _slotRevenue[slot] + amounts[i];
            if (revenue > type(uint96).max) revert RevenueOverflow(slot, revenue);
            _slotRevenue[slot] = revenue;
            emit RevenueCredited(slot, amounts[i]);
        }
    }

    /// @notice Pays the claimable revenue of `tokenId` to its current owner. Anyone may call it.
    /// @param tokenId The token.
    /// @return amount Paid amount (0 if nothing was claimable).
    function claim(uint256 tokenId) external nonReentrant returns (uint256 amount) {
        address owner;
        (owner, amount) = _claim(tokenId);
        if (amount != 0) _paymentToken.safeTransfer(owner, amount);
    }

    /// @notice Pays the claimable revenue of each token to its owner; consecutive tokens of one owner are
    /// paid in one transfer. Anyone may call it.
    /// @param tokenIds The tokens.
    /// @return total Sum paid.
    function claimMany(uint256[] calldata tokenIds) external nonReentrant returns (uint256 total) {
        address pendingOwner;
        uint256 pendingAmount;
        for (uint256 i; i < tokenIds.length; ++i) {
            (address owner, uint256 amount) = _claim(tokenIds[i]);
            if (owner != pendingOwner) {
                if (pendingAmount != 0) _paymentToken.safeTransfer(pendingOwner, pendingAmount);
                pendingOwner = owner;
                pendingAmount = 0;
            }
            pendingAmount += amount;
            total += amount;
        }
        if (pendingAmount != 0) _paymentToken.safeTransfer(pendingOwner, pendingAmount);
    }

    /// @notice Revenue `tokenId` can claim now, in payment-token units.
    /// @param tokenId The token.
    function claimable(uint256 tokenId) external view returns (uint256) {
        TokenHeader memory header = _requireHeader(tokenId);
        return _owedScaledNow(_shares[tokenId], _slotRevenue[header.slot]) / SHARES_PER_SLOT;
    }

    /// @notice The token's owed revenue scaled by SHARES_PER_SLOT (claimable * SHARES_PER_SLOT + dust).
    /// @param tokenId The token.
    function owedScaled(uint256 tokenId) external view returns (uint256) {
        TokenHeader memory header = _requireHeader(tokenId);
        return _owedScaledNow(_shares[tokenId], _slotRevenue[header.slot]);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice Everything about `slot`.
    /// @param slot The slot.
    function slotInfo(uint256 slot) external view returns (SlotInfo memory info) {
        SlotHeader memory header = _requireSlot(slot);
        info = SlotInfo({
            creator: header.creator,
            kind: header.kind,
            active: header.active,
            pricePerQuery: header.price,
            revenue: _slotRevenue[slot],
            contentHash: _slotContentHash[slot],
            uri: _slotURIs[slot]
        });
    }

    /// @notice Number of slots listed; slot ids are 1..slotCount().
    function slotCount() external view returns (uint256) {
        return _slotCount;
    }

    /// @notice Number of tokens minted; token ids are 1..tokenCount().
    function tokenCount() external view returns (uint256) {
        return _tokenCount;
    }

    /// @notice Whether `slot` was listed.
    /// @param slot The slot.
    function slotExists(uint256 slot) external view returns (bool) {
        return slot != 0 && slot <= _slotCount;
    }

    /// @notice The ERC-20 revenue is paid in.
    function paymentToken() external view returns (address) {
        return address(_paymentToken);
    }

    /// @notice The settlement contract allowed to credit revenue.
    function settlement() external view returns (address) {
        return _settlement;
    }

    /// @notice The licence contract allowed to credit revenue from licence purchases.
    function licences() external view returns (address) {
        return _licences;
    }

    /// @notice Prefix of token and contract metadata URIs.
    function baseURI() external view returns (string memory) {
        return _baseURI;
    }

    // ---------------------------------------------------------------------------------------------
    // ERC-3525
    // ---------------------------------------------------------------------------------------------

    /// @notice 6: SHARES_PER_SLOT (1_000_000) is one whole asset.
    function valueDecimals() external pure returns (uint8) {
        return 6;
    }

    /// @notice Shares held by `tokenId`.
    /// @param tokenId The token.
    function balanceOf(uint256 tokenId) external view returns (uint256) {
        _requireHeader(tokenId);
        return _shares[tokenId].value;
    }

    /// @notice Slot of `tokenId`.
    /// @param tokenId The token.
    function slotOf(uint256 tokenId) external view returns (uint256) {
        return _requireHeader(tokenId).slot;
    }

    /// @notice Lets `operator` move up to `value` shares out of `tokenId` (type(uint256).max = unlimited).
    /// Caller: the owner, an operator of the owner, or the token's approved address.
    /// @param tokenId The token.
    /// @param operator Who may move value.
    /// @param value Allowance.
    function approve(uint256 tokenId, address operator, uint256 value) external {
        TokenHeader memory header = _requireHeader(tokenId);
        if (operator == header.owner) revert ERC3525ApproveToOwner(tokenId, operator);
        if (!_isApprovedOrOwner(msg.sender, tokenId, header.owner)) {
            revert ERC721InsufficientApproval(msg.sender, tokenId);
        }
        _allowances[tokenId][header.epoch][operator] = value;
        emit ApprovalValue(tokenId, operator, value);
    }

    /// @notice Shares `operator` may still move out of `tokenId` (cleared by every ERC-721 transfer).
    /// @param tokenId The token.
    /// @param operator The operator.
    function allowance(uint256 tokenId, address operator) external view returns (uint256) {
        TokenHeader memory header = _requireHeader(tokenId);
        return _allowances[tokenId][header.epoch][operator];
    }

    /// @notice Moves `value` shares from `fromTokenId` to `toTokenId` (same slot). Revenue earned before
    /// the move stays with the token that held the shares.
    /// @param fromTokenId Source token.
    /// @param toTokenId Destination token.
    /// @param value Shares to move.
    function transferFrom(uint256 fromTokenId, uint256 toTokenId, uint256 value) external {
        _spendAllowance(msg.sender, fromTokenId, value);
        TokenHeader memory to = _requireHeader(toTokenId);
        _transferValue(fromTokenId, toTokenId, to.slot, value);
        _checkOnERC3525Received(to.owner, fromTokenId, toTokenId, value, "");
    }

    /// @notice Moves `value` shares from `fromTokenId` into a new token of the same slot owned by `to`.
    /// @param fromTokenId Source token.
    /// @param to Owner of the new token.
    /// @param value Shares to move.
    /// @return newTokenId The new token.
    function transferFrom(uint256 fromTokenId, address to, uint256 value)
        external
        returns (uint256 newTokenId)
    {
        TokenHeader memory from = _spendAllowance(msg.sender, fromTokenId, value);
        if (to == address(0)) revert ERC721InvalidReceiver(address(0));
        // uint64 counter, grows by one per mint: cannot overflow in practice.
        unchecked {
            newTokenId = uint256(_tokenCount) + 1;
        }
        _tokenCount = uint64(newTokenId);
        uint256 revenue = _slotRevenue[from.slot];
        _mintToken(to, newTokenId, from.slot, revenue);
        emit TransferValue(0, newTokenId, 0);
        _transferValue(fromTokenId, newTokenId, from.slot, value);
        _checkOnERC3525Received(to, fromTokenId, newTokenId, value, "");
    }

    // ---------------------------------------------------------------------------------------------
    // ERC-721
    // ---------------------------------------------------------------------------------------------

    /// @notice Number of tokens `owner` holds.
    /// @param owner The owner.
    function balanceOf(address owner) external view returns (uint256) {
        if (owner == address(0)) revert ERC721InvalidOwner(address(0));
        return _balances[owner];
    }

    /// @notice Owner of `tokenId`.
    /// @param tokenId The token.
    function ownerOf(uint256 tokenId) public view returns (address) {
        return _requireHeader(tokenId).owner;
    }

    /// @notice Transfers `tokenId` (with its value and unclaimed revenue) and checks the receiver hook.
    /// @param from Current owner.
    /// @param to New owner.
    /// @param tokenId The token.
    /// @param data Passed to `onERC721Received`.
    function safeTransferFrom(address from, address to, uint256 tokenId, bytes calldata data) external {
        transferFrom(from, to, tokenId);
        ERC721Utils.checkOnERC721Received(msg.sender, from, to, tokenId, data);
    }

    /// @notice Transfers `tokenId` (with its value and unclaimed revenue) and checks the receiver hook.
    /// @param from Current owner.
    /// @param to New owner.
    /// @param tokenId The token.
    function safeTransferFrom(address from, address to, uint256 tokenId) external {
        transferFrom(from, to, tokenId);
        ERC721Utils.checkOnERC721Received(msg.sender, from, to, tokenId, "");
    }

    /// @notice Transfers `tokenId` with its value and its unclaimed revenue. Clears the token approval and
    /// every value allowance.
    /// @param from Current owner.
    /// @param to New owner.
    /// @param tokenId The token.
    function transferFrom(address from, address to, uint256 tokenId) public {
        if (to == address(0)) revert ERC721InvalidReceiver(address(0));
        TokenHeader storage header = _headers[tokenId];
        address owner = header.owner;
        if (owner == address(0)) revert ERC721NonexistentToken(tokenId);
        if (owner != from) revert ERC721IncorrectOwner(from, tokenId, owner);
        if (!_isApprovedOrOwner(msg.sender, tokenId, owner)) revert ERC721InsufficientApproval(msg.sender, tokenId);

        if (_tokenApprovals[tokenId] != address(0)) delete _tokenApprovals[tokenId];
        header.owner = to;
        // 2**32 transfers of one token are out of reach; wrapping would only revive allowances from
        // 2**32 transfers ago.
        unchecked {
            header.epoch += 1;
            _balances[from] -= 1;
            _balances[to] += 1;
        }
        emit Transfer(from, to, tokenId);
    }

    /// @notice Approves `to` to transfer `tokenId` and move all its value.
    /// @param to Approved address (zero to clear).
    /// @param tokenId The token.
    function approve(address to, uint256 tokenId) external {
        address owner = _requireHeader(tokenId).owner;
        if (msg.sender != owner && !_operatorApprovals[owner][msg.sender]) revert ERC721InvalidApprover(msg.sender);
        _tokenApprovals[tokenId] = to;
        emit Approval(owner, to, tokenId);
    }

    /// @notice Address approved for `tokenId`.
    /// @param tokenId The token.
    function getApproved(uint256 tokenId) external view returns (address) {
        _requireHeader(tokenId);
        return _tokenApprovals[tokenId];
    }

    /// @notice Lets `operator` manage all of the caller's tokens.
    /// @param operator The operator.
    /// @param approved Whether it may.
    function setApprovalForAll(address operator, bool approved) external {
        if (operator == address(0) || operator == msg.sender) revert ERC721InvalidOperator(operator);
        _operatorApprovals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    /// @notice Whether `operator` manages all tokens of `owner`.
    /// @param owner The owner.
    /// @param operator The operator.
    function isApprovedForAll(address owner, address operator) external view returns (bool) {
        return _operatorApprovals[owner][operator];
    }

    // ---------------------------------------------------------------------------------------------
    // Metadata
    // ---------------------------------------------------------------------------------------------

    /// @notice "KIP Assets".
    function name() external pure returns (string memory) {
        return "KIP Assets";
    }

    /// @notice "KIPA".
    function symbol() external pure returns (string memory) {
        return "KIPA";
    }

    /// @notice baseURI + "tokens/" + tokenId.
    /// @param tokenId The token.
    function tokenURI(uint256 tokenId) external view returns (string memory) {
        _requireHeader(tokenId);
        return string.concat(_baseURI, "tokens/", tokenId.toString());
    }

    /// @notice baseURI + "contract".
    function contractURI() external view returns (string memory) {
        return string.concat(_baseURI, "contract");
    }

    /// @notice The metadata URI stored for `slot`.
    /// @param slot The slot.
    function slotURI(uint256 slot) external view returns (string memory) {
        _requireSlot(slot);
        return _slotURIs[slot];
    }

    /// @inheritdoc ERC165
    function supportsInterface(bytes4 interfaceId) public view override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IERC721).interfaceId || interfaceId == type(IERC721Metadata).interfaceId
            || interfaceId == type(IERC3525).interfaceId || interfaceId == type(IERC3525Metadata).interfaceId
            || super.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    function _requireHeader(uint256 tokenId) private view returns (TokenHeader memory header) {
        header = _headers[tokenId];
        if (header.owner == address(0)) revert ERC721NonexistentToken(tokenId);
    }

    function _requireSlot(uint256 slot) private view returns (SlotHeader memory header) {
        header = _slots[slot];
        if (header.creator == address(0)) revert UnknownSlot(slot);
    }

    function _creatorSlot(uint256 slot) private view returns (SlotHeader storage header) {
        header = _slots[slot];
        address creator = header.creator;
        if (creator == address(0)) revert UnknownSlot(slot);
        if (creator != msg.sender) revert NotSlotCreator(slot, msg.sender, creator);
    }

    function _isApprovedOrOwner(address spender, uint256 tokenId, address owner) private view returns (bool) {
        return spender == owner || _operatorApprovals[owner][spender] || _tokenApprovals[tokenId] == spender;
    }

    /// @dev Owner, operator and token-approved callers move any value; others spend their value allowance
    /// (type(uint256).max is never decreased).
    function _spendAllowance(address operator, uint256 tokenId, uint256 value)
        private
        returns (TokenHeader memory header)
    {
        header = _requireHeader(tokenId);
        if (_isApprovedOrOwner(operator, tokenId, header.owner)) return header;
        mapping(address => uint256) storage allowances = _allowances[tokenId][header.epoch];
        uint256 current = allowances[operator];
        if (current == type(uint256).max) return header;
        if (current < value) revert ERC3525InsufficientAllowance(tokenId, operator, current, value);
        // current >= value checked above.
        unchecked {
            allowances[operator] = current - value;
        }
        emit ApprovalValue(tokenId, operator, current - value);
    }

    function _mintToken(address to, uint256 tokenId, uint256 slot, uint256 revenue) private {
        _headers[tokenId] = TokenHeader({owner: to, slot: uint64(slot), epoch: 0});
        if (revenue != 0) _shares[tokenId] = TokenShares({value: 0, checkpoint: uint96(revenue), owedScaled: 0});
        // One token per mint: an owner's count cannot overflow.
        unchecked {
            _balances[to] += 1;
        }
        emit Transfer(address(0), to, tokenId);
        emit SlotChanged(tokenId, 0, slot);
    }

    /// @dev Checkpoints both tokens at the slot's current revenue, then moves the shares, so revenue earned
    /// before the move stays with the token that held them.
    function _transferValue(uint256 fromTokenId, uint256 toTokenId, uint256 toSlot, uint256 value) private {
        uint256 fromSlot = _headers[fromTokenId].slot;
        if (fromSlot != toSlot) revert ERC3525SlotMismatch(fromSlot, toSlot);
        uint256 revenue = _slotRevenue[fromSlot];
        TokenShares memory from = _shares[fromTokenId];
        if (from.value < value) revert ERC3525InsufficientBalance(fromTokenId, from.value, value);
        if (fromTokenId != toTokenId) {
            TokenShares memory to = _shares[toTokenId];
            _checkpoint(from, revenue);
            _checkpoint(to, revenue);
            // from.value >= value (checked) and the two values sum to at most SHARES_PER_SLOT.
            unchecked {
                from.value -= uint32(value);
                to.value += uint32(value);
            }
            _shares[fromTokenId] = from;
            _shares[toTokenId] = to;
        }
        emit TransferValue(fromTokenId, toTokenId, value);
    }

    function _checkpoint(TokenShares memory shares, uint256 revenue) private pure {
        shares.owedScaled = uint128(_owedScaledNow(shares, revenue));
        shares.checkpoint = uint96(revenue);
    }

    function _owedScaledNow(TokenShares memory shares, uint256 revenue) private pure returns (uint256) {
        // revenue >= checkpoint (revenue only grows) and value * revenue < 2**32 * 2**96: no overflow.
        unchecked {
            return uint256(shares.owedScaled) + uint256(shares.value) * (revenue - shares.checkpoint);
        }
    }

    /// @dev Effects of a claim; the caller transfers `amount` to `owner`.
    function _claim(uint256 tokenId) private returns (address owner, uint256 amount) {
        TokenHeader memory header = _requireHeader(tokenId);
        owner = header.owner;
        uint256 revenue = _slotRevenue[header.slot];
        TokenShares memory shares = _shares[tokenId];
        uint256 scaled = _owedScaledNow(shares, revenue);
        amount = scaled / SHARES_PER_SLOT;
        if (amount == 0) return (owner, 0);
        // amount * SHARES_PER_SLOT <= scaled; the remainder (< SHARES_PER_SLOT) stays with the token.
        unchecked {
            shares.owedScaled = uint128(scaled - amount * SHARES_PER_SLOT);
        }
        shares.checkpoint = uint96(revenue);
        _shares[tokenId] = shares;
        emit RevenueClaimed(tokenId, owner, amount);
    }

    /// @dev ERC-3525 receiver check (as Solv's reference): only when the owner of the receiving token is a
    /// contract that declares IERC3525Receiver through ERC-165.
    function _checkOnERC3525Received(
        address to,
        uint256 fromTokenId,
        uint256 toTokenId,
        uint256 value,
        bytes memory data
    ) private {
        if (to.code.length == 0) return;
        if (!ERC165Checker.supportsERC165InterfaceUnchecked(to, type(IERC3525Receiver).interfaceId)) return;
        try IERC3525Receiver(to).onERC3525Received(msg.sender, fromTokenId, toTokenId, value, data) returns (
            bytes4 retval
        ) {
            if (retval != IERC3525Receiver.onERC3525Received.selector) revert ERC3525InvalidReceiver(to);
        } catch (bytes memory reason) {
            if (reason.length == 0) revert ERC3525InvalidReceiver(to);
            assembly ("memory-safe") {
                // Bubble up the receiver's revert reason unchanged.
                revert(add(reason, 0x20), mload(reason))
            }
        }
    }
}
