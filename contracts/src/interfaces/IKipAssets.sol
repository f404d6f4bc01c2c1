// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Types, errors and events of KipAssets (ERC-3525 asset slots with revenue shares).
interface IKipAssetsTypes {
    /// @notice What a listing is.
    enum AssetKind {
        Dataset,
        Model,
        App
    }

    /// @notice Everything known about a slot (one listed asset).
    struct SlotInfo {
        address creator;
        AssetKind kind;
        bool active;
        uint256 pricePerQuery; // payment-token units
        uint256 revenue; // cumulative net revenue credited to the slot
        bytes32 contentHash; // hash of what `uri` serves
        string uri;
    }
}

/// @title Errors of KipAssets (EIP-6093 style, with the values that failed).
interface IKipAssetsErrors {
    /// @dev `tokenId` does not hold `needed` value.
    error ERC3525InsufficientBalance(uint256 tokenId, uint256 balance, uint256 needed);
    /// @dev `operator` may move only `allowance` out of `tokenId`.
    error ERC3525InsufficientAllowance(uint256 tokenId, address operator, uint256 allowance, uint256 needed);
    /// @dev Value can only move between tokens of the same slot.
    error ERC3525SlotMismatch(uint256 fromSlot, uint256 toSlot);
    /// @dev The owner of the receiving token rejected the value (wrong or no `onERC3525Received` answer).
    error ERC3525InvalidReceiver(address receiver);
    /// @dev A value allowance cannot be given to the token's owner.
    error ERC3525ApproveToOwner(uint256 tokenId, address owner);
    /// @dev `slot` was never listed.
    error UnknownSlot(uint256 slot);
    /// @dev Only the slot's creator may do this.
    error NotSlotCreator(uint256 slot, address caller, address creator);
    /// @dev Only the settlement and licence contracts may credit revenue.
    error NotSettlement(address caller);
    /// @dev The settlement contract is set once.
    error SettlementAlreadySet(address settlement);
    /// @dev The licence contract is set once.
    error LicencesAlreadySet(address licences);
    /// @dev The settlement address must be a contract address, not zero.
    error InvalidSettlement(address settlement);
    /// @dev The price does not fit the slot header (uint80).
    error PriceTooHigh(uint256 price, uint256 max);
    /// @dev `credit` got arrays of different lengths.
    error LengthMismatch(uint256 slots, uint256 amounts);
    /// @dev A slot's cumulative revenue would not fit its uint96 accumulator.
    error RevenueOverflow(uint256 slot, uint256 revenue);
}

/// @title Events of KipAssets (past tense, emitted right after the state change).
interface IKipAssetsEvents is IKipAssetsTypes {
    /// @notice A new asset was listed as `slot`; `tokenId` holds all its shares.
    event AssetListed(
        uint256 indexed slot,
        address indexed creator,
        IKipAssetsTypes.AssetKind indexed kind,
        uint256 tokenId,
        uint256 pricePerQuery,
        string uri,
        bytes32 contentHash
    );
    /// @notice The slot's price per query changed.
    event PriceUpdated(uint256 indexed slot, uint256 oldPrice, uint256 newPrice);
    /// @notice The slot's metadata URI and content hash changed.
    event MetadataUpdated(uint256 indexed slot, string uri, bytes32 contentHash);
    /// @notice The slot was (de)activated; inactive slots are hidden from the market but keep earning
    /// on receipts already signed.
    event ActiveUpdated(uint256 indexed slot, bool active);
    /// @notice The metadata base URI changed.
    event BaseURIUpdated(string baseURI);
    /// @notice The settlement contract was set.
    event SettlementSet(address indexed settlement);
    /// @notice The licence contract was set.
    event LicencesSet(address indexed licences);
    /// @notice Net revenue was credited to `slot` (the payment tokens are already held here).
    event RevenueCredited(uint256 indexed slot, uint256 amount);
    /// @notice `amount` of revenue of `tokenId` was paid to its owner.
    event RevenueClaimed(uint256 indexed tokenId, address indexed owner, uint256 amount);
}

/// @title KipAssets: ERC-3525 asset slots with revenue shares.
interface IKipAssets is IKipAssetsErrors, IKipAssetsEvents {
    /// @notice Lists a new asset; mints its full share supply to the caller.
    function list(AssetKind kind, uint256 pricePerQuery, string calldata uri, bytes32 contentHash)
        external
        returns (uint256 slot, uint256 tokenId);

    /// @notice Creator only: sets the price per query.
    function setPrice(uint256 slot, uint256 pricePerQuery) external;

    /// @notice Creator only: sets the metadata URI and content hash.
    function setMetadata(uint256 slot, string calldata uri, bytes32 contentHash) external;

    /// @notice Creator only: (de)activates the listing.
    function setActive(uint256 slot, bool active) external;

    /// @notice Settlement or licences only: credits net revenue already transferred to this contract.
    function credit(uint256[] calldata slots, uint256[] calldata amounts) external;

    /// @notice Pays the claimable revenue of `tokenId` to its owner.
    function claim(uint256 tokenId) external returns (uint256 amount);

    /// @notice Pays the claimable revenue of each token to its owner.
    function claimMany(uint256[] calldata tokenIds) external returns (uint256 total);

    /// @notice Revenue `tokenId` can claim now.
    function claimable(uint256 tokenId) external view returns (uint256);

    /// @notice Everything about a slot.
    function slotInfo(uint256 slot) external view returns (SlotInfo memory);

    /// @notice Number of slots listed so far (slot ids are 1..slotCount).
    function slotCount() external view returns (uint256);

    /// @notice Whether `slot` was listed.
    function slotExists(uint256 slot) external view returns (bool);

    /// @notice The ERC-20 revenue is paid in.
    function paymentToken() external view returns (address);
}
