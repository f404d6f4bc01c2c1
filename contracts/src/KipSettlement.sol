// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IKipSettlement} from "./interfaces/IKipSettlement.sol";
import {IKipAssets} from "./interfaces/IKipAssets.sol";

/// @title KipSettlement: prepaid deposits, session keys and batched settlement of signed query receipts.
/// @notice A payer deposits the payment token, then signs one EIP-712 `Session` with their wallet that
/// authorizes a session key up to `spendCap` until `expiry`. The session key signs one EIP-712 `Receipt` per
/// query. Anyone may settle receipts in packed batches (docs/settlement-format.md): each receipt is verified
/// and either settled (payer debited, slots credited less the protocol fee) or skipped with a reason. Only a
/// settler the owner authorized may charge less than a receipt's signed maxima (the server charges an unused
/// dataset 0); anyone else settles receipts at exactly their signed maxima. The net revenue of a batch is
/// transferred to KipAssets and credited to its slots in one call.
/// @dev Conservation: token.balanceOf(this) == totalDeposits() + feesAccrued() at every moment (plus
/// anything sent here without `deposit`).
contract KipSettlement is IKipSettlement, EIP712, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Highest protocol fee: 10 %.
    uint256 public constant MAX_FEE_BPS = 1000;

    /// @notice Longest withdrawal delay (also keeps `readyAt` far inside its uint64 field).
    uint256 public constant MAX_WITHDRAW_DELAY = 30 days;

    /// @notice Gas a smart-wallet payer's ERC-1271 `isValidSignature` gets to approve a session. A wallet that
    /// needs more, reverts or answers anything else leaves its session invalid; it cannot sink the batch.
    uint256 public constant SESSION_WALLET_GAS = 100_000;

    /// @notice keccak256 of the EIP-712 Session type.
    bytes32 public constant SESSION_TYPEHASH =
        keccak256("Session(address payer,address key,uint256 spendCap,uint256 expiry,uint256 nonce)");

    /// @notice keccak256 of the EIP-712 Receipt type.
    bytes32 public constant RECEIPT_TYPEHASH =
        keccak256("Receipt(address payer,uint256[] slots,uint256[] maxAmounts,uint256 nonce,uint256 deadline)");

    // Literal copies for inline assembly (which cannot read keccak256 constants); KipSettlement.t.sol checks
    // that each equals the keccak256 of its string.
    /// @dev RECEIPT_TYPEHASH
    uint256 private constant _RECEIPT_TYPEHASH_LITERAL =
        0xec05e9934ede6a9061f468bc4208e20e01c0c697d2cdd33bf6b90921d7110382;
    /// @dev SESSION_TYPEHASH
    uint256 private constant _SESSION_TYPEHASH_LITERAL =
        0xbbb392134fe8d9c31f8c90f8814e1d0eceba9896391bdda7acc0719aad2782d5;
    /// @dev keccak256("ReceiptSettled(address,uint256,bytes32,uint256[])")
    uint256 private constant _RECEIPT_SETTLED_TOPIC =
        0x3e905de398428e2ad2c1961652d94896326dfc33bee7f794d7fc6d0bd6dcc9c4;
    /// @dev keccak256("ReceiptRejected(address,uint256,uint8)")
    uint256 private constant _RECEIPT_REJECTED_TOPIC =
        0xa18245e47675ce32fb41a4d689a513f06f3c80961756c0f7a96143c053b06571;
    /// @dev bytes4(keccak256("MalformedBatch(uint256)")) left-aligned
    uint256 private constant _MALFORMED_SELECTOR =
        0x70ac562d00000000000000000000000000000000000000000000000000000000;

    /// @dev secp256k1 order / 2: a larger s is the malleable twin of a valid signature.
    uint256 private constant _HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    // Byte sizes of the packed format.
    uint256 private constant _SESSION_FIXED_BYTES = 70; // payer 20, key 20, spendCap 16, expiry 5, nonce 8, sigLen 1
    uint256 private constant _RECEIPT_HEAD_BYTES = 15; // sessionIndex 1, nonce 8, deadline 5, n 1
    uint256 private constant _SLOT_BYTES = 20; // slotId 8, price 12
    uint256 private constant _MAX_SLOTS = 64; // a charge's ref has 6 index bits
    uint256 private constant _SIG_BYTES = 65; // r 32, s 32, v 1

    // Gas `settle` must have left before a wallet's ERC-1271 check so that the call gets all of
    // SESSION_WALLET_GAS (a call forwards at most 63/64 of what is left), plus the call's own cost.
    uint256 private constant _WALLET_CHECK_GAS_NEEDED = SESSION_WALLET_GAS * 64 / 63 + 5000;

    // Reason of a charge set by its flag bits (see `_settleReceipts`): byte `bits` (counted from the lowest)
    // of this word. bit 0 (1) AmountAboveMax 5, bit 1 (2) UnknownSlot 6, bit 3 (8) AmountNotSignedMax 10,
    // first in that order. bit 2 (a slot index past the table) reverts before.
    // bits: 11 10  9  8  7  6  5  4  3  2  1  0
    //        5  6  5 10  -  -  -  -  5  6  5  0
    uint256 private constant _CHARGE_REASONS = 0x0506050a0000000005060500;

    // Memory layout of a session record (see `_loadSessions`), in bytes from the record's start.
    uint256 private constant _S_PAYER = 0x000;
    uint256 private constant _S_KEY = 0x020;
    uint256 private constant _S_HASH = 0x040;
    uint256 private constant _S_CAP = 0x060;
    uint256 private constant _S_EXPIRY = 0x080;
    uint256 private constant _S_SPENT = 0x0a0;
    uint256 private constant _S_STATUS = 0x0c0; // 0 or the RejectReason every receipt of the session gets
    uint256 private constant _S_PAYER_REC = 0x0e0; // record holding this payer's cached balance and bitmap
    uint256 private constant _S_BALANCE = 0x100; // payer record only
    uint256 private constant _S_BALANCE_ORIG = 0x120;
    uint256 private constant _S_BITMAP_BASE = 0x140; // keccak256(payer . _nonceBitmap.slot)
    uint256 private constant _S_WORD_INDEX = 0x160; // cached bitmap word index + 1 (0: none cached)
    uint256 private constant _S_WORD = 0x180;
    uint256 private constant _S_WORD_ORIG = 0x1a0;
    uint256 private constant _S_WORD_KEY = 0x1c0;
    uint256 private constant _S_STATE_ORIG = 0x1e0; // storage word of the session state
    uint256 private constant _S_NONCE = 0x200;
    uint256 private constant _S_SIZE = 0x220;

    // Memory layout of the batch context (see `_loadHeader`), in bytes from its start.
    uint256 private constant _C_END = 0x000; // calldata offset of the batch's end
    uint256 private constant _C_RECEIPTS = 0x020; // calldata offset of the first receipt
    uint256 private constant _C_SESSION_COUNT = 0x040;
    uint256 private constant _C_SLOT_COUNT = 0x060;
    uint256 private constant _C_SESSIONS = 0x080; // first session record
    uint256 private constant _C_SLOTS = 0x0a0; // first slot entry
    uint256 private constant _C_START = 0x0c0; // calldata offset of the batch's start (for MalformedBatch)
    uint256 private constant _C_SETTLED = 0x0e0;
    uint256 private constant _C_REJECTED = 0x100;
    uint256 private constant _C_GROSS = 0x120;
    // Scratch: [sessionHash, 0x40, n, charges[n]] (the ReceiptSettled data), then slots[n], maxAmounts[n]
    // and the slot-table entry of each charge. Holds the current charge set, reused by repeat receipts.
    uint256 private constant _C_SCRATCH = 0x140;
    // The current run: receipts sharing one charge set (a receipt with n = 0 repeats the previous set).
    uint256 private constant _C_RUN_N = 0x160; // charges in the set (0: no set yet)
    uint256 private constant _C_RUN_TOTAL = 0x180; // sum of the set's amounts
    uint256 private constant _C_RUN_REASON = 0x1a0; // the whole set's charge reason (_CHARGE_REASONS) or None
    uint256 private constant _C_RUN_SETTLED = 0x1c0; // receipts of the run settled so far (gross not yet added)
    // Charge-set flag bits that reject: 0x0b, or 0x03 for an authorized settler (who may charge less than
    // the signed maxima, flag 0x08).
    uint256 private constant _C_CHARGE_MASK = 0x1e0;
    // Hash buffers, from _C_HASH: Receipt struct [typehash, payer, slotsHash, maxHash, nonce, deadline]
    // (0x000-0x0bf; slotsHash and maxHash stay for repeats); "\x19\x01" || domainSeparator || structHash
    // (0x0c0-0x101); ecrecover input [digest, v, r, s] (0x120-0x19f) and output (0x1a0).
    uint256 private constant _C_HASH = 0x200;
    uint256 private constant _C_SIZE = 0x200 + 0x1c0;

    // A slot-table entry: [slotId, gross charged in this batch, flags, price]. flags: 2 = the slot does not
    // exist in KipAssets (its receipts are rejected).
    uint256 private constant _T_SIZE = 0x80;

    IERC20 private immutable _token;
    IKipAssets private immutable _assets;
    uint256 private immutable _withdrawDelay;

    address private _treasury;
    uint16 private _feeBps;
    uint256 private _feesAccrued;
    uint256 private _totalDeposits;

    mapping(address payer => uint256) private _balances;
    mapping(address payer => Withdrawal) private _withdrawals;
    /// @dev Unordered nonces: bit (nonce & 255) of word (nonce >> 8); consecutive nonces share a word.
    mapping(address payer => mapping(uint256 word => uint256)) private _nonceBitmap;
    /// @dev Session state word: bit 0 = registered, bits 1.. = spent.
    mapping(bytes32 sessionHash => uint256) private _sessionStates;
    /// @dev Accounts that may charge less than a receipt's signed maxima.
    mapping(address account => bool) private _settlers;

    /// @param token_ Payment token (EIP-2612 permit optional).
    /// @param assets_ KipAssets deployment revenue is credited to.
    /// @param treasury_ Receiver of protocol fees.
    /// @param feeBps_ Protocol fee in basis points (<= MAX_FEE_BPS).
    /// @param withdrawDelay_ Seconds between a withdrawal request and the withdrawal (<= MAX_WITHDRAW_DELAY).
    /// @param owner_ Admin: fee, treasury and settlers.
    constructor(
        IERC20 token_,
        IKipAssets assets_,
        address treasury_,
        uint256 feeBps_,
        uint256 withdrawDelay_,
        address owner_
    ) EIP712("KIP Settlement", "1") Ownable(owner_) {
        if (address(token_) == address(0)) revert InvalidAddress("token");
        if (address(assets_) == address(0)) revert InvalidAddress("assets");
        if (treasury_ == address(0)) revert InvalidTreasury(treasury_);
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        if (withdrawDelay_ > MAX_WITHDRAW_DELAY) {
            revert WithdrawDelayTooLong(withdrawDelay_, MAX_WITHDRAW_DELAY);
        }
        // Revenue is transferred to KipAssets in this token and paid out by it in its own.
        address assetsToken = assets_.paymentToken();
        if (assetsToken != address(token_)) revert PaymentTokenMismatch(address(token_), assetsToken);
        _token = token_;
        _assets = assets_;
        _withdrawDelay = withdrawDelay_;
        _treasury = treasury_;
        _feeBps = uint16(feeBps_);
    }

    // ---------------------------------------------------------------------------------------------
    // Deposits and withdrawals
    // ---------------------------------------------------------------------------------------------

    /// @notice Deposits `amount` payment tokens (approved to this contract beforehand) for the caller.
    /// @param amount Amount in payment-token units (> 0).
    function deposit(uint256 amount) external nonReentrant {
        _deposit(amount);
    }

    /// @notice Deposits with an EIP-2612 permit signed by the caller. A permit that was front-run (already
    /// used) does not block the deposit if the allowance is there.
    /// @param amount Amount in payment-token units (> 0).
    /// @param deadline Permit deadline.
    /// @param v Permit signature v.
    /// @param r Permit signature r.
    /// @param s Permit signature s.
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {}
        catch {} // the transferFrom below fails anyway if there is no allowance
        _deposit(amount);
    }

    /// @notice Requests a withdrawal of `amount` (<= balance), payable after the withdraw delay. Replaces an
    /// earlier request. The funds stay available to settlement until withdrawn, so receipts signed before
    /// the request can still settle during the delay.
    /// @param amount Amount to withdraw (> 0).
    function requestWithdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 balance = _balances[msg.sender];
        if (amount > balance) revert InsufficientBalance(msg.sender, balance, amount);
        uint256 readyAt = block.timestamp + _withdrawDelay;
        // balance fits uint128 (deposits are capped); readyAt is a timestamp plus at most 30 days.
        _withdrawals[msg.sender] = Withdrawal({amount: uint128(amount), readyAt: uint64(readyAt)});
        emit WithdrawalRequested(msg.sender, amount, readyAt);
    }

    /// @notice Cancels the caller's withdrawal request.
    function cancelWithdraw() external nonReentrant {
        if (_withdrawals[msg.sender].amount == 0) revert NoWithdrawalRequested(msg.sender);
        delete _withdrawals[msg.sender];
        emit WithdrawalCancelled(msg.sender);
    }

    /// @notice Pays min(requested, current balance) to the caller once the delay has passed.
    /// @return amount The amount paid.
    function withdraw() external nonReentrant returns (uint256 amount) {
        Withdrawal memory request = _withdrawals[msg.sender];
        if (request.amount == 0) revert NoWithdrawalRequested(msg.sender);
        if (block.timestamp < request.readyAt) revert WithdrawalNotReady(msg.sender, request.readyAt);
        uint256 balance = _balances[msg.sender];
        amount = request.amount < balance ? request.amount : balance;
        delete _withdrawals[msg.sender];
        // amount <= balance <= totalDeposits.
        unchecked {
            _balances[msg.sender] = balance - amount;
            _totalDeposits -= amount;
        }
        emit Withdrawn(msg.sender, amount);
        if (amount != 0) _token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------------------------------------
    // Fees (owner)
    // ---------------------------------------------------------------------------------------------

    /// @notice Owner only: sets the protocol fee taken from each slot's gross in a batch.
    /// @param feeBps_ Fee in basis points (<= MAX_FEE_BPS).
    function setFeeBps(uint256 feeBps_) external onlyOwner {
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        uint256 old = _feeBps;
        _feeBps = uint16(feeBps_);
        emit FeeBpsUpdated(old, feeBps_);
    }

    /// @notice Owner only: sets the receiver of protocol fees.
    /// @param treasury_ New treasury (non-zero).
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert InvalidTreasury(treasury_);
        address old = _treasury;
        _treasury = treasury_;
        emit TreasuryUpdated(old, treasury_);
    }

    /// @notice Owner only: allows or disallows `settler` to charge less than a receipt's signed maxima.
    /// Anyone may settle; receipts settled by anyone else must charge exactly their signed maxima.
    /// @param settler The account (non-zero).
    /// @param allowed Whether it may charge less.
    function setSettler(address settler, bool allowed) external onlyOwner {
        if (settler == address(0)) revert InvalidAddress("settler");
        _settlers[settler] = allowed;
        emit SettlerUpdated(settler, allowed);
    }

    /// @notice Pays all accrued fees to the treasury. Anyone may call it.
    /// @return amount The amount paid.
    function withdrawFees() external nonReentrant returns (uint256 amount) {
        amount = _feesAccrued;
        if (amount == 0) return 0;
        _feesAccrued = 0;
        address treasury_ = _treasury;
        emit FeesWithdrawn(treasury_, amount);
        _token.safeTransfer(treasury_, amount);
    }

    // ---------------------------------------------------------------------------------------------
    // Settlement
    // ---------------------------------------------------------------------------------------------

    /// @notice Settles a packed batch of sessions and receipts (format: docs/settlement-format.md).
    /// Anyone may call it; a caller that is not an authorized settler (`isSettler`) must charge every
    /// charge at its signed maxAmount, else that receipt is skipped (AmountNotSignedMax). Each receipt either
    /// settles (emits ReceiptSettled) or is skipped (emits ReceiptRejected); structural errors revert with
    /// MalformedBatch(offset).
    /// @param batch The packed batch.
    /// @return settled Receipts settled.
    /// @return rejected Receipts skipped.
    function settle(bytes calldata batch) external nonReentrant returns (uint256 settled, uint256 rejected) {
        uint256 ctx = _loadHeader(batch);
        _settleReceipts(ctx);
        uint256 gross;
        assembly ("memory-safe") {
            settled := mload(add(ctx, _C_SETTLED))
            rejected := mload(add(ctx, _C_REJECTED))
            gross := mload(add(ctx, _C_GROSS))
        }
        _writeBack(ctx, gross);
        uint256 fees = _creditSlots(ctx);
        emit BatchSettled(msg.sender, settled, rejected, gross, fees);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice Whether `account` may charge less than a receipt's signed maxima.
    /// @param account The account.
    function isSettler(address account) external view returns (bool) {
        return _settlers[account];
    }

    /// @notice Unspent deposit of `payer` (including any amount requested for withdrawal).
    /// @param payer The payer.
    function balanceOf(address payer) external view returns (uint256) {
        return _balances[payer];
    }

    /// @notice Pending withdrawal request of `payer` (amount 0: none).
    /// @param payer The payer.
    function withdrawalOf(address payer) external view returns (Withdrawal memory) {
        return _withdrawals[payer];
    }

    /// @notice Whether `nonce` of `payer` was settled.
    /// @param payer The payer.
    /// @param nonce The receipt nonce.
    function nonceUsed(address payer, uint256 nonce) external view returns (bool) {
        return (_nonceBitmap[payer][nonce >> 8] >> (nonce & 0xff)) & 1 == 1;
    }

    /// @notice State of a session: registered (its wallet signature was verified) and spent so far.
    /// @param sessionHash EIP-712 struct hash of the session (see `hashSession`).
    function sessionState(bytes32 sessionHash) external view returns (bool registered, uint256 spent) {
        uint256 word = _sessionStates[sessionHash];
        return (word & 1 == 1, word >> 1);
    }

    /// @notice EIP-712 struct hash of a Session (the key of `sessionState`).
    function hashSession(address payer, address key, uint256 spendCap, uint256 expiry, uint256 nonce)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(SESSION_TYPEHASH, payer, key, spendCap, expiry, nonce));
    }

    /// @notice EIP-712 struct hash of a Receipt.
    function hashReceipt(
        address payer,
        uint256[] calldata slots,
        uint256[] calldata maxAmounts,
        uint256 nonce,
        uint256 deadline
    ) external pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RECEIPT_TYPEHASH,
                payer,
                keccak256(abi.encodePacked(slots)),
                keccak256(abi.encodePacked(maxAmounts)),
                nonce,
                deadline
            )
        );
    }

    /// @notice The EIP-712 digest a wallet or session key signs for `structHash`.
    /// @param structHash Output of `hashSession` or `hashReceipt`.
    function hashTypedData(bytes32 structHash) external view returns (bytes32) {
        return _hashTypedDataV4(structHash);
    }

    /// @notice EIP-712 domain separator (name "KIP Settlement", version "1", chain id, this address).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice Protocol fee in basis points.
    function feeBps() external view returns (uint256) {
        return _feeBps;
    }

    /// @notice Receiver of protocol fees.
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @notice Fees accrued and not yet withdrawn.
    function feesAccrued() external view returns (uint256) {
        return _feesAccrued;
    }

    /// @notice Sum of all payer balances (kept as a running sum).
    function totalDeposits() external view returns (uint256) {
        return _totalDeposits;
    }

    /// @notice Seconds between a withdrawal request and the withdrawal.
    function withdrawDelay() external view returns (uint256) {
        return _withdrawDelay;
    }

    /// @notice The payment token.
    function paymentToken() external view returns (address) {
        return address(_token);
    }

    /// @notice The KipAssets deployment revenue is credited to.
    function assets() external view returns (address) {
        return address(_assets);
    }

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    /// @dev Reads the batch header, the session table and the slot table into memory and returns the
    /// context pointer. Verifies and registers new sessions. Everything structural reverts MalformedBatch.
    function _loadHeader(bytes calldata batch) private returns (uint256 ctx) {
        bytes32 domain = _domainSeparatorV4();
        uint256 onChainSlots = _assets.slotCount();
        bool authorized = _settlers[msg.sender];
        uint256 sessionCount;
        uint256 p;
        assembly ("memory-safe") {
            // Allocate the context and the session and slot tables; zero what is read before written.
            ctx := mload(0x40)
            let start := batch.offset
            let end := add(start, batch.length)
            if lt(batch.length, 2) {
                mstore(0x00, _MALFORMED_SELECTOR)
                mstore(0x04, 0)
                revert(0x00, 0x24)
            }
            let head := calldataload(start)
            sessionCount := byte(0, head)
            let slotCount := byte(1, head)
            if gt(slotCount, _MAX_SLOTS) {
                mstore(0x00, _MALFORMED_SELECTOR)
                mstore(0x04, 1)
                revert(0x00, 0x24)
            }
            let slots := add(ctx, _C_SIZE)
            let sessions := add(slots, mul(slotCount, _T_SIZE))
            let scratch := add(sessions, mul(sessionCount, _S_SIZE))
            mstore(add(ctx, _C_END), end)
            mstore(add(ctx, _C_SESSION_COUNT), sessionCount)
            mstore(add(ctx, _C_SLOT_COUNT), slotCount)
            mstore(add(ctx, _C_SESSIONS), sessions)
            mstore(add(ctx, _C_SLOTS), slots)
            mstore(add(ctx, _C_START), start)
            mstore(add(ctx, _C_SETTLED), 0)
            mstore(add(ctx, _C_REJECTED), 0)
            mstore(add(ctx, _C_GROSS), 0)
            mstore(add(ctx, _C_SCRATCH), scratch)
            mstore(add(ctx, _C_RUN_N), 0)
            mstore(add(ctx, _C_RUN_TOTAL), 0)
            mstore(add(ctx, _C_RUN_REASON), 0)
            mstore(add(ctx, _C_RUN_SETTLED), 0)
            mstore(add(ctx, _C_CHARGE_MASK), sub(0x0b, shl(3, authorized)))
            // Fixed parts of the hash buffers: the Receipt typehash and the EIP-712 prefix + domain.
            let h := add(ctx, _C_HASH)
            mstore(h, _RECEIPT_TYPEHASH_LITERAL)
            mstore(add(h, 0xc0), shl(240, 0x1901))
            mstore(add(h, 0xc2), domain)
            mstore(0x40, scratch)
            p := add(start, 2)
        }
        for (uint256 i; i < sessionCount; ++i) {
            p = _loadSession(batch, ctx, i, p);
        }
        assembly ("memory-safe") {
            // Slot table: slotCount entries of slotId (uint64) and price (uint96).
            let slotCount := mload(add(ctx, _C_SLOT_COUNT))
            let entry := mload(add(ctx, _C_SLOTS))
            let tableEnd := add(p, mul(slotCount, _SLOT_BYTES))
            if gt(tableEnd, mload(add(ctx, _C_END))) {
                mstore(0x00, _MALFORMED_SELECTOR)
                mstore(0x04, sub(p, batch.offset))
                revert(0x00, 0x24)
            }
            for {} lt(p, tableEnd) { p := add(p, _SLOT_BYTES) } {
                let id := shr(192, calldataload(p))
                mstore(entry, id)
                mstore(add(entry, 0x20), 0)
                // Slot ids are 1..onChainSlots; id - 1 wraps for 0.
                mstore(add(entry, 0x40), shl(1, iszero(lt(sub(id, 1), onChainSlots))))
                mstore(add(entry, 0x60), shr(160, calldataload(add(p, 8))))
                entry := add(entry, _T_SIZE)
            }
            mstore(add(ctx, _C_RECEIPTS), p)
        }
    }

    /// @dev Parses session `i` at calldata offset `p` into its record, registers it if it carries a valid
    /// wallet signature, links it to the record caching its payer's balance and nonce bitmap, and returns
    /// the offset after it.
    function _loadSession(bytes calldata batch, uint256 ctx, uint256 i, uint256 p) private returns (uint256 next) {
        uint256 rec;
        uint256 sigLen;
        assembly ("memory-safe") {
            // Fixed part: payer 20, key 20, spendCap 16, expiry 5, nonce 8, sigLen 1; then the signature.
            let end := mload(add(ctx, _C_END))
            next := add(p, _SESSION_FIXED_BYTES)
            if iszero(gt(next, end)) {
                sigLen := byte(0, calldataload(add(p, 69)))
                next := add(next, sigLen)
            }
            // sigLen 0: a registered session; 65: an EOA (or a smart wallet); any other: a smart wallet.
            if gt(next, end) {
                mstore(0x00, _MALFORMED_SELECTOR)
                mstore(0x04, sub(p, batch.offset))
                revert(0x00, 0x24)
            }
            rec := add(mload(add(ctx, _C_SESSIONS)), mul(i, _S_SIZE))
            mstore(add(rec, _S_PAYER), shr(96, calldataload(p)))
            mstore(add(rec, _S_KEY), shr(96, calldataload(add(p, 20))))
            mstore(add(rec, _S_CAP), shr(128, calldataload(add(p, 40))))
            mstore(add(rec, _S_EXPIRY), shr(216, calldataload(add(p, 56))))
            // Session struct hash over [typehash, payer, key, spendCap, expiry, nonce], built in scratch.
            let m := mload(0x40)
            mstore(m, _SESSION_TYPEHASH_LITERAL)
            mstore(add(m, 0x20), mload(add(rec, _S_PAYER)))
            mstore(add(m, 0x40), mload(add(rec, _S_KEY)))
            mstore(add(m, 0x60), mload(add(rec, _S_CAP)))
            mstore(add(m, 0x80), mload(add(rec, _S_EXPIRY)))
            let nonce := shr(192, calldataload(add(p, 61)))
            mstore(add(rec, _S_NONCE), nonce)
            mstore(add(m, 0xa0), nonce)
            mstore(add(rec, _S_HASH), keccak256(m, 0xc0))
        }
        (uint256 state, RejectReason status) = _sessionStatus(batch, rec, p, sigLen);
        assembly ("memory-safe") {
            // Finish the record; find an earlier record of the same payer (its cache is shared) and reject a
            // session listed twice (two records would each allow spendCap).
            let payer := mload(add(rec, _S_PAYER))
            let sessionHash := mload(add(rec, _S_HASH))
            mstore(add(rec, _S_SPENT), shr(1, state))
            mstore(add(rec, _S_STATUS), status)
            mstore(add(rec, _S_STATE_ORIG), state)
            let payerRec := rec
            let other := mload(add(ctx, _C_SESSIONS))
            for {} lt(other, rec) { other := add(other, _S_SIZE) } {
                if eq(mload(add(other, _S_HASH)), sessionHash) {
                    mstore(0x00, _MALFORMED_SELECTOR)
                    mstore(0x04, sub(p, batch.offset))
                    revert(0x00, 0x24)
                }
                if and(eq(payerRec, rec), eq(mload(add(other, _S_PAYER)), payer)) {
                    payerRec := mload(add(other, _S_PAYER_REC))
                }
            }
            mstore(add(rec, _S_PAYER_REC), payerRec)
            if eq(payerRec, rec) {
                mstore(0x00, payer)
                mstore(0x20, _balances.slot)
                let bal := sload(keccak256(0x00, 0x40))
                mstore(add(rec, _S_BALANCE), bal)
                mstore(add(rec, _S_BALANCE_ORIG), bal)
                mstore(0x20, _nonceBitmap.slot)
                mstore(add(rec, _S_BITMAP_BASE), keccak256(0x00, 0x40))
                mstore(add(rec, _S_WORD_INDEX), 0)
            }
        }
    }

    /// @dev The state word of the session in record `rec` and the reason its receipts are rejected (None if
    /// usable). Verifies the wallet signature of an unregistered session and registers it.
    function _sessionStatus(bytes calldata batch, uint256 rec, uint256 p, uint256 sigLen)
        private
        returns (uint256 state, RejectReason status)
    {
        address payer;
        address key;
        uint256 expiry;
        bytes32 sessionHash;
        assembly ("memory-safe") {
            payer := mload(add(rec, _S_PAYER))
            key := mload(add(rec, _S_KEY))
            expiry := mload(add(rec, _S_EXPIRY))
            sessionHash := mload(add(rec, _S_HASH))
        }
        state = _sessionStates[sessionHash];
        if (payer == address(0) || key == address(0)) return (state, RejectReason.SessionInvalid);
        if (expiry < block.timestamp) return (state, RejectReason.SessionExpired);
        if (state & 1 == 1) return (state, RejectReason.None);
        if (sigLen == 0) return (state, RejectReason.SessionInvalid);
        uint256 sigStart = p + _SESSION_FIXED_BYTES - _offsetOf(batch);
        bytes32 digest = _hashTypedDataV4(sessionHash);
        if (!_isPayerSignature(payer, digest, batch[sigStart:sigStart + sigLen])) {
            return (state, RejectReason.SessionInvalid);
        }
        _sessionStates[sessionHash] = 1;
        _emitSessionRegistered(rec);
        return (1, RejectReason.None);
    }

    /// @dev Whether `signature` is `payer`'s signature of `digest`: an ECDSA signature by the payer (v may be
    /// 0/1 or 27/28; s must be low), else, if the payer has code, its ERC-1271 approval given within
    /// SESSION_WALLET_GAS. A wallet that reverts, runs out of gas or answers anything else only fails its own
    /// session; `settle` reverts only if the caller did not send enough gas to give the wallet its budget.
    function _isPayerSignature(address payer, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool)
    {
        if (signature.length == _SIG_BYTES) {
            bytes32 r;
            bytes32 s;
            uint8 v;
            assembly ("memory-safe") {
                r := calldataload(signature.offset)
                s := calldataload(add(signature.offset, 0x20))
                v := byte(0, calldataload(add(signature.offset, 0x40)))
            }
            // Wallets (hardware ones especially) also sign with v = 0/1; a session is identified by its
            // hash, not its signature, so accepting both forms opens no replay.
            if (v < 27) v += 27;
            (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(digest, v, r, s);
            if (error == ECDSA.RecoverError.NoError && signer == payer) return true;
        }
        if (payer.code.length == 0) return false;
        uint256 gasLeft = gasleft();
        if (gasLeft < _WALLET_CHECK_GAS_NEEDED) {
            revert InsufficientGasForWalletCheck(gasLeft, _WALLET_CHECK_GAS_NEEDED);
        }
        bytes memory query = abi.encodeCall(IERC1271.isValidSignature, (digest, signature));
        bool success;
        bytes32 answer;
        assembly ("memory-safe") {
            // Fixed gas; only the first word of the answer is copied (no return-data bomb).
            mstore(0x00, 0)
            success := staticcall(SESSION_WALLET_GAS, payer, add(query, 0x20), mload(query), 0x00, 0x20)
            answer := mload(0x00)
            success := and(success, gt(returndatasize(), 0x1f))
        }
        return success && answer == bytes32(IERC1271.isValidSignature.selector);
    }

    function _emitSessionRegistered(uint256 rec) private {
        emit SessionRegistered(
            bytes32(_word(rec, _S_HASH)),
            address(uint160(_word(rec, _S_PAYER))),
            address(uint160(_word(rec, _S_KEY))),
            _word(rec, _S_CAP),
            _word(rec, _S_EXPIRY),
            _word(rec, _S_NONCE)
        );
    }

    function _word(uint256 ptr, uint256 offset) private pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := mload(add(ptr, offset))
        }
    }

    /// @dev Verifies and applies every receipt; results accumulate in the context (settled, rejected,
    /// gross, per-slot gross, cached balances, spends and nonce words). One assembly block: this loop is
    /// the gas budget of the whole protocol (bench/gas.ts). Scratch memory above the free pointer holds the
    /// current charge set and the event data. The context pointer is kept at 0x00 (scratch space) because
    /// the stack cannot hold every per-batch constant.
    function _settleReceipts(uint256 ctx) private {
        assembly ("memory-safe") {
            mstore(0x00, ctx)
            for { let p := mload(add(ctx, _C_RECEIPTS)) } lt(p, mload(add(mload(0x00), _C_END))) {} {
                // ---- head: sessionIndex 1, nonce 8, deadline 5, n 1
                let n
                let rec
                let nonce
                let reason
                {
                    let w := calldataload(p)
                    n := byte(14, w)
                    nonce := shr(192, shl(8, w))
                    rec := byte(0, w)
                    let c := mload(0x00)
                    if or(gt(add(p, _RECEIPT_HEAD_BYTES), mload(add(c, _C_END))), iszero(lt(rec, mload(add(c, _C_SESSION_COUNT))))) {
                        _malformed(sub(p, mload(add(c, _C_START))))
                    }
                    rec := add(mload(add(c, _C_SESSIONS)), mul(rec, _S_SIZE))
                    reason := mload(add(rec, _S_STATUS))
                    let deadline := shr(216, shl(72, w))
                    if iszero(reason) {
                        if or(lt(deadline, timestamp()), gt(deadline, mload(add(rec, _S_EXPIRY)))) { reason := 3 }
                    }
                    mstore(add(c, add(_C_HASH, 0xa0)), deadline)
                }
                let q := add(p, _RECEIPT_HEAD_BYTES)
                switch n
                case 0 {
                    // A repeat: same slots, maxAmounts and amounts as the previous receipt's charge set.
                    if iszero(mload(add(mload(0x00), _C_RUN_N))) { _malformed(sub(p, mload(add(mload(0x00), _C_START)))) }
                }
                default {
                    // ---- a new charge set: first add the finished run's settled amounts to slot gross
                    _flushRun()
                    // ---- charges: ref 1 [maxAmount 12 if ref & 0x80] [amount 12 if ref & 0x40]; slot index
                    // = ref & 0x3f; maxAmount defaults to the slot's price, amount to maxAmount.
                    let c := mload(0x00)
                    let slots := mload(add(c, _C_SLOTS))
                    let slotCount := mload(add(c, _C_SLOT_COUNT))
                    let nb := shl(5, n)
                    let o := add(mload(add(c, _C_SCRATCH)), 0x60)
                    let total := 0
                    // bit 0 (1): amount above max; 1 (2): unknown slot; 2 (4): index past the table; 3 (8):
                    // amount below max (rejects only if the caller is not an authorized settler)
                    let bad := 0
                    for { let oEnd := add(o, nb) } lt(o, oEnd) { o := add(o, 0x20) } {
                        let entry := byte(0, calldataload(q))
                        let maxAmount
                        let amount
                        {
                            let ref := entry
                            entry := and(ref, 0x3f)
                            bad := or(bad, shl(2, iszero(lt(entry, slotCount))))
                            entry := add(slots, shl(7, entry))
                            q := add(q, 1)
                            maxAmount := mload(add(entry, 0x60))
                            if and(ref, 0x80) {
                                maxAmount := shr(160, calldataload(q))
                                q := add(q, 12)
                            }
                            amount := maxAmount
                            if and(ref, 0x40) {
                                amount := shr(160, calldataload(q))
                                q := add(q, 12)
                                bad := or(bad, shl(3, lt(amount, maxAmount)))
                            }
                        }
                        let id := mload(entry)
                        mstore(o, or(shl(128, id), amount))
                        let o2 := add(o, nb)
                        mstore(o2, id)
                        o2 := add(o2, nb)
                        mstore(o2, maxAmount)
                        mstore(add(o2, nb), entry)
                        // Amounts < 2**96 and n < 256: the total cannot overflow.
                        total := add(total, amount)
                        bad := or(bad, or(gt(amount, maxAmount), mload(add(entry, 0x40))))
                    }
                    if and(bad, 4) { _malformed(sub(p, mload(add(c, _C_START)))) }
                    let h := add(c, _C_HASH)
                    mstore(add(h, 0x40), keccak256(o, nb))
                    mstore(add(h, 0x60), keccak256(add(o, nb), nb))
                    mstore(add(c, _C_RUN_N), n)
                    mstore(add(c, _C_RUN_TOTAL), total)
                    let data := mload(add(c, _C_SCRATCH))
                    mstore(add(data, 0x20), 0x40)
                    mstore(add(data, 0x40), n)
                    // AmountAboveMax (5), else UnknownSlot (6), else AmountNotSignedMax (10), else None.
                    bad := and(bad, mload(add(c, _C_CHARGE_MASK)))
                    mstore(add(c, _C_RUN_REASON), and(shr(shl(3, bad), _CHARGE_REASONS), 0xff))
                }
                if gt(add(q, _SIG_BYTES), mload(add(mload(0x00), _C_END))) {
                    _malformed(sub(p, mload(add(mload(0x00), _C_START))))
                }
                let total := mload(add(mload(0x00), _C_RUN_TOTAL))
                // ---- replay: the payer's bitmap word is cached in its payer record; another word flushes
                // the cached one (if changed) and loads the new one.
                let payerRec := mload(add(rec, _S_PAYER_REC))
                if iszero(reason) {
                    let index := add(shr(8, nonce), 1)
                    if iszero(eq(mload(add(payerRec, _S_WORD_INDEX)), index)) {
                        if mload(add(payerRec, _S_WORD_INDEX)) {
                            let word := mload(add(payerRec, _S_WORD))
                            if iszero(eq(word, mload(add(payerRec, _S_WORD_ORIG)))) {
                                sstore(mload(add(payerRec, _S_WORD_KEY)), word)
                            }
                        }
                        let h := add(mload(0x00), _C_HASH)
                        mstore(add(h, 0x120), shr(8, nonce))
                        mstore(add(h, 0x140), mload(add(payerRec, _S_BITMAP_BASE)))
                        let wordKey := keccak256(add(h, 0x120), 0x40)
                        let word := sload(wordKey)
                        mstore(add(payerRec, _S_WORD_INDEX), index)
                        mstore(add(payerRec, _S_WORD), word)
                        mstore(add(payerRec, _S_WORD_ORIG), word)
                        mstore(add(payerRec, _S_WORD_KEY), wordKey)
                    }
                    if and(shr(and(nonce, 0xff), mload(add(payerRec, _S_WORD))), 1) { reason := 4 }
                }
                // ---- the charge set's reason (AmountAboveMax, UnknownSlot, AmountNotSignedMax): after
                // Replayed, so a replay is reported as one whatever it charges
                if iszero(reason) { reason := mload(add(mload(0x00), _C_RUN_REASON)) }
                // ---- balance, then the session's spend cap (spent <= cap < 2**128: no overflow)
                if iszero(reason) {
                    if lt(mload(add(payerRec, _S_BALANCE)), total) { reason := 7 }
                }
                if iszero(reason) {
                    if gt(add(mload(add(rec, _S_SPENT)), total), mload(add(rec, _S_CAP))) { reason := 8 }
                }
                // ---- signature by the session key: low s, v in {27, 28}, ecrecover == key
                if iszero(reason) {
                    let h := add(mload(0x00), _C_HASH)
                    mstore(add(h, 0x20), mload(add(rec, _S_PAYER)))
                    mstore(add(h, 0x80), nonce)
                    mstore(add(h, 0xe2), keccak256(h, 0xc0))
                    mstore(add(h, 0x120), keccak256(add(h, 0xc0), 0x42))
                    let v := byte(0, calldataload(add(q, 0x40)))
                    mstore(add(h, 0x140), v)
                    mstore(add(h, 0x160), calldataload(q))
                    let s := calldataload(add(q, 0x20))
                    mstore(add(h, 0x180), s)
                    mstore(add(h, 0x1a0), 0)
                    pop(staticcall(gas(), 0x01, add(h, 0x120), 0x80, add(h, 0x1a0), 0x20))
                    if or(
                        or(gt(s, _HALF_ORDER), iszero(or(eq(v, 27), eq(v, 28)))),
                        iszero(eq(mload(add(h, 0x1a0)), mload(add(rec, _S_KEY))))
                    ) { reason := 9 }
                }
                let c := mload(0x00)
                let data := mload(add(c, _C_SCRATCH))
                switch reason
                case 0 {
                    // ---- effects, in memory; written back once per batch by _writeBack, slot gross when
                    // the run ends (_flushRun)
                    mstore(add(payerRec, _S_WORD), or(mload(add(payerRec, _S_WORD)), shl(and(nonce, 0xff), 1)))
                    // balance >= total was checked above.
                    mstore(add(payerRec, _S_BALANCE), sub(mload(add(payerRec, _S_BALANCE)), total))
                    mstore(add(rec, _S_SPENT), add(mload(add(rec, _S_SPENT)), total))
                    mstore(add(c, _C_RUN_SETTLED), add(mload(add(c, _C_RUN_SETTLED)), 1))
                    // ReceiptSettled(payer, nonce, sessionHash, charges): data = [hash, 0x40, n, charges...];
                    // only the hash changes within a run.
                    mstore(data, mload(add(rec, _S_HASH)))
                    log3(data, add(0x60, shl(5, mload(add(c, _C_RUN_N)))), _RECEIPT_SETTLED_TOPIC, mload(add(rec, _S_PAYER)), nonce)
                }
                default {
                    mstore(add(c, _C_REJECTED), add(mload(add(c, _C_REJECTED)), 1))
                    // The event data area is rebuilt per receipt: its first word is the session hash.
                    mstore(data, reason)
                    log3(data, 0x20, _RECEIPT_REJECTED_TOPIC, mload(add(rec, _S_PAYER)), nonce)
                }
                p := add(q, _SIG_BYTES)
            }
            _flushRun()

            // Adds amount * settled receipts of the current run to each charged slot's gross, and the run's
            // total to the batch gross and settled count.
            function _flushRun() {
                let c := mload(0x00)
                let settledInRun := mload(add(c, _C_RUN_SETTLED))
                if settledInRun {
                    let n := mload(add(c, _C_RUN_N))
                    let nb := shl(5, n)
                    let o := add(mload(add(c, _C_SCRATCH)), 0x60)
                    // gross <= settled receipts * 255 * 2**96 per slot: no overflow.
                    for { let oEnd := add(o, nb) } lt(o, oEnd) { o := add(o, 0x20) } {
                        let g := add(mload(add(o, mul(nb, 3))), 0x20)
                        mstore(g, add(mload(g), mul(and(mload(o), 0xffffffffffffffffffffffff), settledInRun)))
                    }
                    mstore(add(c, _C_SETTLED), add(mload(add(c, _C_SETTLED)), settledInRun))
                    mstore(add(c, _C_GROSS), add(mload(add(c, _C_GROSS)), mul(mload(add(c, _C_RUN_TOTAL)), settledInRun)))
                    mstore(add(c, _C_RUN_SETTLED), 0)
                }
            }

            function _malformed(offset) {
                mstore(0x00, _MALFORMED_SELECTOR)
                mstore(0x04, offset)
                revert(0x00, 0x24)
            }
        }
    }

    /// @dev Writes the cached balances, nonce words and session spends back to storage, once each.
    function _writeBack(uint256 ctx, uint256 gross) private {
        assembly ("memory-safe") {
            let rec := mload(add(ctx, _C_SESSIONS))
            let last := add(rec, mul(mload(add(ctx, _C_SESSION_COUNT)), _S_SIZE))
            for {} lt(rec, last) { rec := add(rec, _S_SIZE) } {
                if iszero(mload(add(rec, _S_STATUS))) {
                    // bit 0: registered; bits 1..: spent (<= spendCap < 2**128)
                    let state := or(1, shl(1, mload(add(rec, _S_SPENT))))
                    if iszero(eq(state, mload(add(rec, _S_STATE_ORIG)))) {
                        mstore(0x00, mload(add(rec, _S_HASH)))
                        mstore(0x20, _sessionStates.slot)
                        sstore(keccak256(0x00, 0x40), state)
                    }
                }
                if eq(mload(add(rec, _S_PAYER_REC)), rec) {
                    if mload(add(rec, _S_WORD_INDEX)) {
                        let word := mload(add(rec, _S_WORD))
                        if iszero(eq(word, mload(add(rec, _S_WORD_ORIG)))) { sstore(mload(add(rec, _S_WORD_KEY)), word) }
                    }
                    let bal := mload(add(rec, _S_BALANCE))
                    if iszero(eq(bal, mload(add(rec, _S_BALANCE_ORIG)))) {
                        mstore(0x00, mload(add(rec, _S_PAYER)))
                        mstore(0x20, _balances.slot)
                        sstore(keccak256(0x00, 0x40), bal)
                    }
                }
            }
        }
        // gross <= sum of the debited balances <= totalDeposits.
        unchecked {
            if (gross != 0) _totalDeposits -= gross;
        }
    }

    /// @dev Takes the fee from each slot's gross, accrues it, and pays the net to KipAssets in one transfer
    /// and one `credit` call. Returns the fees.
    function _creditSlots(uint256 ctx) private returns (uint256 fees) {
        uint256 count;
        uint256 entry;
        assembly ("memory-safe") {
            count := mload(add(ctx, _C_SLOT_COUNT))
            entry := mload(add(ctx, _C_SLOTS))
        }
        uint256[] memory slots = new uint256[](count);
        uint256[] memory nets = new uint256[](count);
        uint256 feeBps_ = _feeBps;
        uint256 credited;
        uint256 netTotal;
        for (uint256 i; i < count; ++i) {
            uint256 id;
            uint256 gross;
            assembly ("memory-safe") {
                id := mload(entry)
                gross := mload(add(entry, 0x20))
                entry := add(entry, _T_SIZE)
            }
            if (gross == 0) continue;
            // gross < 2**104 per slot per batch and feeBps <= 1000: no overflow; fee <= gross.
            unchecked {
                uint256 fee = gross * feeBps_ / 10_000;
                fees += fee;
                slots[credited] = id;
                nets[credited] = gross - fee;
                netTotal += gross - fee;
                ++credited;
            }
        }
        assembly ("memory-safe") {
            // Shrink both arrays to the slots that earned something.
            mstore(slots, credited)
            mstore(nets, credited)
        }
        if (fees != 0) _feesAccrued += fees;
        if (netTotal != 0) {
            _token.safeTransfer(address(_assets), netTotal);
            _assets.credit(slots, nets);
        }
    }

    function _offsetOf(bytes calldata batch) private pure returns (uint256 offset) {
        assembly ("memory-safe") {
            offset := batch.offset
        }
    }

    function _deposit(uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        uint256 total = _totalDeposits + amount;
        // Balances live in uint128 fields of withdrawal requests and packed batch caps.
        if (total > type(uint128).max) revert AmountTooLarge(amount);
        _totalDeposits = total;
        // balance <= totalDeposits < 2**128.
        uint256 balance;
        unchecked {
            balance = _balances[msg.sender] + amount;
        }
        _balances[msg.sender] = balance;
        emit Deposited(msg.sender, amount, balance);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }
}
