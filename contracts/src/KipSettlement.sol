// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IKipAssets} from "./interfaces/IKipAssets.sol";
import {IKipSettlement} from "./interfaces/IKipSettlement.sol";
import {SettlementRecords} from "./SettlementRecords.sol";

/// @title KipSettlement v3: per-operator prepaid accounts, operator-bound session keys, cumulative vouchers.
/// @notice How a query is paid (docs/settlement-format.md):
/// 1. The payer deposits the payment token for one operator (the server's settlement account): the
///    account (payer, operator) holds its balance, the seq of the newest voucher settled and the cumulative
///    total ever charged, in one storage word.
/// 2. The payer's wallet signs an EIP-712 `Session` {payer, key, operator, spendCap, expiry, nonce}: the
///    key may sign vouchers that only `operator` can settle, while the account's cumulative charged total
///    stays within `spendCap`. A payer may hold several sessions at once (one per device).
/// 3. For every query, whichever session key the query came through signs a `Voucher` {session, seq,
///    issuedAt, cumulativeMax, charges}: the account's query number and the most its cumulative charged
///    total may be by then, with a hash of this query's own per-slot maxima. A newer voucher covers every
///    query before it, so settling the newest voucher of an account settles all of them.
/// 4. The operator calls `settle` with, per account, the newest voucher and one packed record per query
///    since the last settled seq (what the query paid each slot). The contract checks the voucher, the
///    session, the records' total against the signed cumulative maximum, the spend cap and the balance,
///    debits the payer, and credits each slot's gross, less the protocol fee, to KipAssets in one transfer
///    and one `credit` call per batch.
/// @dev Conservation: token.balanceOf(this) == totalDeposits() + feesAccrued() at every moment (plus
/// anything sent here without `deposit`). Plain Solidity except the record walk (SettlementRecords), which
/// has a plain reference it is fuzzed against.
contract KipSettlement is IKipSettlement, EIP712, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Highest protocol fee: 10 %.
    uint256 public constant MAX_FEE_BPS = 1000;

    /// @notice Longest withdrawal delay (also keeps `readyAt` far inside its uint64 field).
    uint256 public constant MAX_WITHDRAW_DELAY = 30 days;

    /// @notice Seconds between a revocation and the time from which the session's vouchers are refused:
    /// vouchers the operator admitted just before it saw the revocation still settle.
    uint256 public constant REVOKE_DELAY = 120;

    /// @notice Most entries in a batch's slot table: a record names an entry with one byte.
    uint256 public constant MAX_BATCH_SLOTS = 256;

    /// @notice Gas a smart-wallet payer's ERC-1271 `isValidSignature` gets to approve a session. A wallet
    /// that needs more, reverts or answers anything else leaves its session invalid; it cannot sink the batch.
    uint256 public constant SESSION_WALLET_GAS = 100_000;

    /// @notice keccak256 of the EIP-712 Session type.
    bytes32 public constant SESSION_TYPEHASH = keccak256(
        "Session(address payer,address key,address operator,uint256 spendCap,uint256 expiry,uint256 nonce)"
    );

    /// @notice keccak256 of the EIP-712 Voucher type.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(bytes32 session,uint256 seq,uint256 issuedAt,uint256 cumulativeMax,bytes32 charges)"
    );

    /// @dev Gas `settle` must have left before a wallet's ERC-1271 check so that the call gets all of
    /// SESSION_WALLET_GAS (a call forwards at most 63/64 of what is left), plus the call's own cost.
    uint256 private constant _WALLET_CHECK_GAS_NEEDED = SESSION_WALLET_GAS * 64 / 63 + 5000;

    IERC20 private immutable _token;
    IKipAssets private immutable _assets;
    uint256 private immutable _withdrawDelay;

    address private _treasury;
    uint16 private _feeBps;
    uint256 private _feesAccrued;
    /// @dev Sum of all balances; < 2**128 (deposits are capped).
    uint256 private _totalDeposits;

    /// @dev One word per account (`_pack`): balance in bits 0..95, seq in 96..143, charged in 144..255.
    mapping(address payer => mapping(address operator => uint256)) private _accounts;
    mapping(address payer => mapping(address operator => Withdrawal)) private _withdrawals;
    /// @dev 0: not revoked; else vouchers with issuedAt >= this are refused.
    mapping(bytes32 sessionId => uint256) private _revokedAt;
    /// @dev Sessions a smart-wallet payer approved (ERC-1271) at an earlier settlement.
    mapping(bytes32 sessionId => bool) private _walletApproved;

    /// @dev What one item does once every check has passed.
    struct Outcome {
        RejectReason reason;
        uint256 total; // the item's charge (sum of its records' amounts)
        bool approve; // a smart wallet approved the session just now: remember it
    }

    /// @param token_ Payment token (EIP-2612 permit optional).
    /// @param assets_ KipAssets deployment revenue is credited to.
    /// @param treasury_ Receiver of protocol fees.
    /// @param feeBps_ Protocol fee in basis points (<= MAX_FEE_BPS).
    /// @param withdrawDelay_ Seconds between a withdrawal request and the withdrawal (<= MAX_WITHDRAW_DELAY).
    /// @param owner_ Admin: fee and treasury.
    constructor(
        IERC20 token_,
        IKipAssets assets_,
        address treasury_,
        uint256 feeBps_,
        uint256 withdrawDelay_,
        address owner_
    ) EIP712("KIP Settlement", "3") Ownable(owner_) {
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
        // feeBps_ <= MAX_FEE_BPS fits uint16.
        // forge-lint: disable-next-line(unsafe-typecast)
        _feeBps = uint16(feeBps_);
    }

    // ---------------------------------------------------------------------------------------------
    // Deposits and withdrawals (per payer and operator)
    // ---------------------------------------------------------------------------------------------

    /// @notice Deposits `amount` payment tokens (approved to this contract beforehand) into the caller's
    /// balance with `operator`. Only `operator` can settle charges against it.
    /// @param operator The operator the balance is for (non-zero).
    /// @param amount Amount in payment-token units (> 0).
    function deposit(address operator, uint256 amount) external nonReentrant {
        _deposit(operator, amount);
    }

    /// @notice Deposits with an EIP-2612 permit signed by the caller. A permit that was front-run (already
    /// used) does not block the deposit if the allowance is there.
    /// @param operator The operator the balance is for (non-zero).
    /// @param amount Amount in payment-token units (> 0).
    /// @param deadline Permit deadline.
    /// @param v Permit signature v.
    /// @param r Permit signature r.
    /// @param s Permit signature s.
    function depositWithPermit(
        address operator,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant {
        // A failed permit is ignored: the transferFrom below fails anyway if there is no allowance.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {}
            catch {}
        _deposit(operator, amount);
    }

    /// @notice Requests a withdrawal of `amount` (<= balance) from the caller's balance with `operator`,
    /// payable after the withdraw delay. Replaces an earlier request for that operator. The funds stay
    /// available to settlement until withdrawn: the operator settles what it admitted within the delay.
    /// @param operator The operator of the balance.
    /// @param amount Amount to withdraw (> 0).
    function requestWithdraw(address operator, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 balance = _unpack(_accounts[msg.sender][operator]).balance;
        if (amount > balance) revert InsufficientBalance(msg.sender, balance, amount);
        uint256 readyAt = block.timestamp + _withdrawDelay;
        // amount <= balance < 2**96; readyAt is a timestamp plus at most 30 days.
        // forge-lint: disable-next-line(unsafe-typecast)
        _withdrawals[msg.sender][operator] = Withdrawal({amount: uint128(amount), readyAt: uint64(readyAt)});
        emit WithdrawalRequested(msg.sender, operator, amount, readyAt);
    }

    /// @notice Cancels the caller's withdrawal request with `operator`.
    /// @param operator The operator of the balance.
    function cancelWithdraw(address operator) external nonReentrant {
        if (_withdrawals[msg.sender][operator].amount == 0) revert NoWithdrawalRequested(msg.sender);
        delete _withdrawals[msg.sender][operator];
        emit WithdrawalCancelled(msg.sender, operator);
    }

    /// @notice Pays min(requested, current balance) of the caller's balance with `operator` once the delay
    /// has passed.
    /// @param operator The operator of the balance.
    /// @return amount The amount paid.
    function withdraw(address operator) external nonReentrant returns (uint256 amount) {
        Withdrawal memory request = _withdrawals[msg.sender][operator];
        if (request.amount == 0) revert NoWithdrawalRequested(msg.sender);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < request.readyAt) revert WithdrawalNotReady(msg.sender, request.readyAt);
        AccountState memory account = _unpack(_accounts[msg.sender][operator]);
        uint256 balance = account.balance;
        amount = request.amount < balance ? request.amount : balance;
        delete _withdrawals[msg.sender][operator];
        // amount <= balance <= totalDeposits.
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            account.balance = uint96(balance - amount);
            _totalDeposits -= amount;
        }
        _accounts[msg.sender][operator] = _pack(account);
        emit Withdrawn(msg.sender, operator, amount);
        if (amount != 0) _token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------------------------------------
    // Sessions
    // ---------------------------------------------------------------------------------------------

    /// @notice Revokes `session`: from `block.timestamp + REVOKE_DELAY` on, its vouchers issued at or after
    /// that time are refused (earlier ones still settle). Only the session's payer or key may call it. A
    /// session already revoked keeps its first revocation time (calling again changes nothing).
    /// @param session The session, as its payer signed it.
    function revokeSession(Session calldata session) external {
        bytes32 id = hashSession(session);
        if (msg.sender != session.payer && msg.sender != session.key) revert NotPayerOrKey(id, msg.sender);
        if (_revokedAt[id] != 0) return;
        uint256 effectiveAt = block.timestamp + REVOKE_DELAY;
        _revokedAt[id] = effectiveAt;
        emit SessionRevoked(id, session.payer, effectiveAt);
    }

    // ---------------------------------------------------------------------------------------------
    // Settlement
    // ---------------------------------------------------------------------------------------------

    /// @notice Settles accounts (format and checks: docs/settlement-format.md). Each item is checked in
    /// the order of `RejectReason` and either settles whole or is skipped with SessionRejected and changes
    /// nothing; a bad item never reverts the batch. Only each session's operator may settle it. At the end
    /// each slot's gross, less the protocol fee, is credited to KipAssets.
    /// @param items One entry per account: its newest voucher and the records of the queries since.
    /// @param slots The batch's slot table: the records name slots by their index in it.
    /// @return settled Items settled.
    /// @return rejected Items skipped.
    function settle(Settlement[] calldata items, uint256[] calldata slots)
        external
        nonReentrant
        returns (uint256 settled, uint256 rejected)
    {
        if (items.length == 0) revert EmptyBatch();
        if (slots.length > MAX_BATCH_SLOTS) revert SlotTableTooLong(slots.length);
        // KipAssets lists slots 1..slotCount() and never removes one: entry j flags a slot that does not exist.
        uint256 slotCount = _assets.slotCount();
        uint256 unknown;
        for (uint256 j; j < slots.length; ++j) {
            if (slots[j] == 0 || slots[j] > slotCount) unknown |= 1 << j;
        }
        // A record names table entries with one byte: any index has an entry (those past the table stay 0).
        uint256[] memory gross = new uint256[](MAX_BATCH_SLOTS);
        uint256 total;
        for (uint256 i; i < items.length; ++i) {
            (bool ok, uint256 charged) = _settleItem(i, items[i], slots.length, gross, unknown);
            if (ok) {
                ++settled;
                total += charged;
            } else {
                ++rejected;
            }
        }
        _creditSlots(slots, gross, total, settled, rejected);
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
    // Admin (owner)
    // ---------------------------------------------------------------------------------------------

    /// @notice Owner only: sets the protocol fee taken from each slot's gross in a batch.
    /// @param feeBps_ Fee in basis points (<= MAX_FEE_BPS).
    function setFeeBps(uint256 feeBps_) external onlyOwner {
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        uint256 old = _feeBps;
        // feeBps_ <= MAX_FEE_BPS fits uint16.
        // forge-lint: disable-next-line(unsafe-typecast)
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

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice Unspent balance of `payer` with `operator` (including any amount requested for withdrawal).
    /// @param payer The payer.
    /// @param operator The operator.
    function balanceOf(address payer, address operator) external view returns (uint256) {
        return _unpack(_accounts[payer][operator]).balance;
    }

    /// @notice The account of `payer` with `operator`: balance, the newest settled seq and the cumulative
    /// total ever charged.
    /// @param payer The payer.
    /// @param operator The operator.
    function accountOf(address payer, address operator) external view returns (AccountState memory) {
        return _unpack(_accounts[payer][operator]);
    }

    /// @notice Pending withdrawal request of `payer` with `operator` (amount 0: none).
    /// @param payer The payer.
    /// @param operator The operator.
    function withdrawalOf(address payer, address operator) external view returns (Withdrawal memory) {
        return _withdrawals[payer][operator];
    }

    /// @notice From when the session's vouchers are refused (those issued at or after it): 0 if not revoked.
    /// @param sessionId The session's id (`hashSession`).
    function revokedAt(bytes32 sessionId) external view returns (uint256) {
        return _revokedAt[sessionId];
    }

    /// @notice Whether a smart-wallet payer approved the session (ERC-1271) at an earlier settlement.
    /// @param sessionId The session's id (`hashSession`).
    function walletApproved(bytes32 sessionId) external view returns (bool) {
        return _walletApproved[sessionId];
    }

    /// @notice EIP-712 struct hash of `session` (not the digest): the session's id.
    /// @param session The session.
    function hashSession(Session calldata session) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                SESSION_TYPEHASH,
                session.payer,
                session.key,
                session.operator,
                session.spendCap,
                session.expiry,
                session.nonce
            )
        );
    }

    /// @notice The full EIP-712 digest the session key signs for `voucher` (domain of this deployment).
    /// @param voucher The voucher.
    function voucherDigest(Voucher calldata voucher) public view returns (bytes32) {
        return _voucherDigest(voucher.session, voucher.seq, voucher.issuedAt, voucher.cumulativeMax, voucher.charges);
    }

    /// @notice EIP-712 domain separator (name "KIP Settlement", version "3", chain id, this address).
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

    /// @notice Sum of all balances (kept as a running sum).
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
    // Internals: one item
    // ---------------------------------------------------------------------------------------------

    /// @dev Checks item `index` and either applies it (debit, new seq and charged total, slot gross) or
    /// emits why not and changes nothing. Returns whether it settled and what it charged.
    function _settleItem(
        uint256 index,
        Settlement calldata item,
        uint256 tableLength,
        uint256[] memory gross,
        uint256 unknown
    )
        private
        returns (bool settled, uint256 total)
    {
        Session calldata session = item.session;
        bytes32 id = _sessionId(session);
        AccountState memory account = _unpack(_accounts[session.payer][session.operator]);
        Outcome memory outcome = _checkAuthorization(item, id, account.seq);
        if (outcome.reason == RejectReason.None) outcome = _applyRecords(item, account, tableLength, gross, unknown, outcome);
        if (outcome.reason != RejectReason.None) {
            emit SessionRejected(index, id, outcome.reason);
            return (false, 0);
        }
        total = outcome.total;
        // _applyRecords checked total <= balance and charged + total <= cumulativeMax < 2**112; seq < 2**48.
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            account.balance -= uint96(total);
            // forge-lint: disable-next-line(unsafe-typecast)
            account.charged += uint112(total);
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        account.seq = uint48(item.seq);
        _accounts[session.payer][session.operator] = _pack(account);
        if (outcome.approve) {
            _walletApproved[id] = true;
            emit SessionApproved(id, session.payer);
        }
        return (true, total);
    }

    /// @dev Checks 1 to 7: whether this voucher of this session may be settled by the caller at all.
    function _checkAuthorization(Settlement calldata item, bytes32 id, uint256 settledSeq)
        private
        returns (Outcome memory outcome)
    {
        Session calldata session = item.session;
        // 1. Only the operator the payer named settles the session.
        if (msg.sender != session.operator) return _reject(RejectReason.NotOperator);
        // 2. The session's fields.
        if (
            session.payer == address(0) || session.key == address(0) || session.spendCap > type(uint112).max
                || session.expiry > type(uint40).max || session.nonce > type(uint64).max
        ) return _reject(RejectReason.SessionInvalid);
        // 3. The voucher's own fields.
        if (
            item.seq == 0 || item.seq > type(uint48).max || item.issuedAt > session.expiry
                || item.cumulativeMax > type(uint112).max
        ) return _reject(RejectReason.VoucherInvalid);
        // 4. Revocation: vouchers issued from revokedAt on are refused.
        uint256 revoked = _revokedAt[id];
        if (revoked != 0 && item.issuedAt >= revoked) return _reject(RejectReason.Revoked);
        // 5. Newer than what the account settled last.
        if (item.seq <= settledSeq) return _reject(RejectReason.StaleVoucher);
        // 6. Signed by the session key.
        bytes32 digest = _itemVoucherDigest(item, id);
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(digest, item.r, item.vs);
        if (error != ECDSA.RecoverError.NoError || signer != session.key) return _reject(RejectReason.BadSignature);
        // 7. The session signed by its payer.
        (bool approved, bool approvedNow) = _isApprovedByPayer(session.payer, id, item.sessionSignature);
        if (!approved) return _reject(RejectReason.BadSessionSignature);
        outcome.approve = approvedNow;
    }

    /// @dev Checks 8 to 12 and adds the records' amounts to `gross`; a rejected item's amounts are taken out
    /// again, so `gross` only ever holds what settles.
    function _applyRecords(
        Settlement calldata item,
        AccountState memory account,
        uint256 tableLength,
        uint256[] memory gross,
        uint256 unknown,
        Outcome memory outcome
    ) private pure returns (Outcome memory) {
        bytes calldata records = item.records;
        SettlementRecords.Walk memory walk = SettlementRecords.walk(records, tableLength, gross);
        RejectReason reason = RejectReason.None;
        // 8. Whole records naming table entries, at most one per seq since the last settlement (check 5).
        if (!walk.ok || walk.count > item.seq - account.seq) reason = RejectReason.MalformedRecords;
        // 9. Within the voucher's cumulative maximum (so a voucher below what was charged never settles).
        else if (account.charged + walk.total > item.cumulativeMax) reason = RejectReason.AboveMax;
        // 10. Within the session's spend cap.
        else if (account.charged + walk.total > item.session.spendCap) reason = RejectReason.SpendCapExceeded;
        // 11. The payer's balance with this operator (already reduced by earlier items of the batch).
        else if (walk.total > account.balance) reason = RejectReason.InsufficientBalance;
        // 12. Every slot paid something exists in KipAssets.
        else if (unknown != 0 && SettlementRecords.paysUnknown(records, unknown)) reason = RejectReason.UnknownSlot;
        if (reason != RejectReason.None) {
            SettlementRecords.walkReference(records[:walk.end], tableLength, gross, false);
            outcome.reason = reason;
            return outcome;
        }
        outcome.total = walk.total;
        return outcome;
    }

    function _reject(RejectReason reason) private pure returns (Outcome memory outcome) {
        outcome.reason = reason;
    }

    /// @dev `hashSession` for a session in calldata, hashing its six words where they are (the Session
    /// struct is static, so its ABI encoding is exactly the EIP-712 encoding of its fields). Every field was
    /// validated by the ABI decoder when the item was read; the result equals `hashSession` (tested).
    function _sessionId(Session calldata session) private pure returns (bytes32 id) {
        bytes32 typehash = SESSION_TYPEHASH;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typehash)
            calldatacopy(add(m, 0x20), session, 0xc0)
            id := keccak256(m, 0xe0)
        }
    }

    /// @dev The voucher digest of an item: its seq, issuedAt, cumulativeMax and charges are four consecutive
    /// words of the Settlement struct, hashed where they are after the type hash and the session id. Equals
    /// `voucherDigest` of the same voucher (tested).
    function _itemVoucherDigest(Settlement calldata item, bytes32 id) private view returns (bytes32 structHash) {
        bytes32 typehash = VOUCHER_TYPEHASH;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typehash)
            mstore(add(m, 0x20), id)
            calldatacopy(add(m, 0x40), add(item, 0xe0), 0x80) // after the session (6 words) and an offset
            structHash := keccak256(m, 0xc0)
        }
        return _hashTypedDataV4(structHash);
    }

    /// @dev The EIP-712 digest of a voucher.
    function _voucherDigest(bytes32 session, uint256 seq, uint256 issuedAt, uint256 cumulativeMax, bytes32 charges)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, session, seq, issuedAt, cumulativeMax, charges)));
    }

    /// @dev The payer approved the session: an ECDSA signature by the payer (65 bytes, low-s) of the session
    /// digest, or, if the payer has code, an earlier or a present ERC-1271 approval: `isValidSignature`
    /// answering the magic value within SESSION_WALLET_GAS (`approvedNow`: remember it). The wallet's answer
    /// is bounded in gas, so a hostile wallet only fails its own item. Reverts if the batch has too little gas
    /// left to give the wallet its whole budget: otherwise a gas estimate could find a limit at which a good
    /// wallet silently fails.
    function _isApprovedByPayer(address payer, bytes32 id, bytes calldata signature)
        private
        view
        returns (bool approved, bool approvedNow)
    {
        bytes32 digest = _hashTypedDataV4(id);
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (error == ECDSA.RecoverError.NoError && signer == payer) return (true, false);
        if (payer.code.length == 0) return (false, false);
        if (_walletApproved[id]) return (true, false);
        uint256 gasLeft = gasleft();
        if (gasLeft < _WALLET_CHECK_GAS_NEEDED) {
            revert InsufficientGasForWalletCheck(gasLeft, _WALLET_CHECK_GAS_NEEDED);
        }
        (bool success, bytes memory answer) = payer.staticcall{gas: SESSION_WALLET_GAS}(
            abi.encodeCall(IERC1271.isValidSignature, (digest, signature))
        );
        if (!success || answer.length < 32) return (false, false);
        // The answer's first word must be the magic value, left-aligned; anything after it is ignored.
        // forge-lint: disable-next-line(unsafe-typecast)
        approved = bytes32(answer) == bytes32(IERC1271.isValidSignature.selector);
        return (approved, approved);
    }

    // ---------------------------------------------------------------------------------------------
    // Internals: the batch
    // ---------------------------------------------------------------------------------------------

    /// @dev Debits the batch's total from `totalDeposits`, takes the fee from each slot's gross, accrues it,
    /// and pays the nets to KipAssets in one transfer and one `credit` call (entries that earned nothing
    /// are left out).
    function _creditSlots(
        uint256[] calldata table,
        uint256[] memory gross,
        uint256 total,
        uint256 settled,
        uint256 rejected
    ) private {
        uint256 count;
        for (uint256 j; j < table.length; ++j) {
            if (gross[j] != 0) ++count;
        }
        uint256[] memory slots = new uint256[](count);
        uint256[] memory nets = new uint256[](count);
        uint256 feeBps_ = _feeBps;
        uint256 fees;
        uint256 netTotal;
        uint256 k;
        for (uint256 j; j < table.length; ++j) {
            uint256 amount = gross[j];
            if (amount == 0) continue;
            // amount <= the batch's total <= totalDeposits < 2**128 and feeBps <= 1000: no overflow; fee < amount.
            unchecked {
                uint256 fee = amount * feeBps_ / 10_000;
                fees += fee;
                slots[k] = table[j];
                nets[k] = amount - fee;
                netTotal += amount - fee;
                ++k;
            }
        }
        // The total was debited from the payers' balances, whose sum is totalDeposits.
        _totalDeposits -= total;
        if (fees != 0) _feesAccrued += fees;
        emit BatchSettled(msg.sender, settled, rejected, total, fees);
        if (count != 0) {
            _token.safeTransfer(address(_assets), netTotal);
            _assets.credit(slots, nets);
        }
    }

    function _deposit(address operator, uint256 amount) private {
        if (operator == address(0)) revert InvalidAddress("operator");
        if (amount == 0) revert ZeroAmount();
        uint256 total = _totalDeposits;
        AccountState memory account = _unpack(_accounts[msg.sender][operator]);
        uint256 balance = account.balance;
        // A balance lives in 96 bits of its account word, the total in 128.
        if (amount > type(uint96).max - balance || amount > type(uint128).max - total) revert AmountTooLarge(amount);
        unchecked {
            _totalDeposits = total + amount;
            balance += amount;
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        account.balance = uint96(balance);
        _accounts[msg.sender][operator] = _pack(account);
        emit Deposited(msg.sender, operator, amount, balance);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @dev An account word's fields.
    function _unpack(uint256 word) private pure returns (AccountState memory account) {
        // Each field is cut to its width by the mask and fits its type.
        // forge-lint: disable-next-line(unsafe-typecast)
        account.balance = uint96(word & type(uint96).max);
        // forge-lint: disable-next-line(unsafe-typecast)
        account.seq = uint48((word >> 96) & type(uint48).max);
        // forge-lint: disable-next-line(unsafe-typecast)
        account.charged = uint112(word >> 144);
    }

    /// @dev The account word of `account`'s fields.
    function _pack(AccountState memory account) private pure returns (uint256) {
        return uint256(account.balance) | (uint256(account.seq) << 96) | (uint256(account.charged) << 144);
    }
}
