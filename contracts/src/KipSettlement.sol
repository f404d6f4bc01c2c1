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

/// @title KipSettlement v2: per-operator prepaid balances, operator-bound sessions, cumulative vouchers.
/// @notice How a query is paid (docs/settlement-format.md):
/// 1. The payer deposits the payment token for one operator (the server's settlement account):
///    `balanceOf(payer, operator)`.
/// 2. The payer's wallet signs one EIP-712 `Session` {payer, key, operator, spendCap, expiry, nonce}: the
///    session key `key` may sign vouchers that only `operator` can settle, up to `spendCap` in total.
/// 3. For every query the key signs a `Voucher` {session, seq, issuedAt, slots, maxAmounts}: the cumulative
///    maximum each slot may receive over the whole session so far. A newer voucher never lowers what an
///    older one allowed, so settling the newest voucher settles the whole session up to its `seq`.
/// 4. The operator calls `settle` with, per session, the newest voucher, the stored state it builds on and
///    one packed record per query since (what the query paid each slot). The contract checks the records
///    against the signed maxima, the spend cap and the balance, debits the payer, and credits each slot's
///    gross, less the protocol fee, to KipAssets in one transfer and one `credit` call per batch.
/// Per session the contract stores one word: keccak256(abi.encode(seq, slots, settled)) of the last
/// settlement. The operator re-supplies its preimage (`prevSeq`, `prevSettled`), so nobody can settle the
/// same queries twice, skip back to an older voucher, or reorder or drop a slot.
/// @dev Conservation: token.balanceOf(this) == totalDeposits() + feesAccrued() at every moment (plus
/// anything sent here without `deposit`). Plain Solidity throughout (no assembly).
contract KipSettlement is IKipSettlement, EIP712, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Highest protocol fee: 10 %.
    uint256 public constant MAX_FEE_BPS = 1000;

    /// @notice Longest withdrawal delay (also keeps `readyAt` far inside its uint64 field).
    uint256 public constant MAX_WITHDRAW_DELAY = 30 days;

    /// @notice Seconds between a revocation and the time from which the session's vouchers are refused:
    /// vouchers the operator admitted just before it saw the revocation still settle.
    uint256 public constant REVOKE_DELAY = 120;

    /// @notice Most slots one session (one voucher) may list: a record's charge mask has 32 bits.
    uint256 public constant MAX_SESSION_SLOTS = 32;

    /// @notice Gas a smart-wallet payer's ERC-1271 `isValidSignature` gets to approve a session. A wallet
    /// that needs more, reverts or answers anything else leaves its session invalid; it cannot sink the batch.
    uint256 public constant SESSION_WALLET_GAS = 100_000;

    /// @notice keccak256 of the EIP-712 Session type.
    bytes32 public constant SESSION_TYPEHASH = keccak256(
        "Session(address payer,address key,address operator,uint256 spendCap,uint256 expiry,uint256 nonce)"
    );

    /// @notice keccak256 of the EIP-712 Voucher type.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(bytes32 session,uint256 seq,uint256 issuedAt,uint256[] slots,uint256[] maxAmounts)"
    );

    /// @dev A record's fixed part: app 1, mask 4, tokensIn 4, tokensOut 4, recordHash 32 bytes.
    uint256 private constant _RECORD_HEAD_BYTES = 45;
    /// @dev One amount of a record: uint64.
    uint256 private constant _AMOUNT_BYTES = 8;
    /// @dev Gas `settle` must have left before a wallet's ERC-1271 check so that the call gets all of
    /// SESSION_WALLET_GAS (a call forwards at most 63/64 of what is left), plus the call's own cost.
    uint256 private constant _WALLET_CHECK_GAS_NEEDED = SESSION_WALLET_GAS * 64 / 63 + 5000;
    /// @dev Initial capacity of a batch's slot table (it doubles when full).
    uint256 private constant _INITIAL_SLOT_TABLE = 32;

    IERC20 private immutable _token;
    IKipAssets private immutable _assets;
    uint256 private immutable _withdrawDelay;

    address private _treasury;
    uint16 private _feeBps;
    uint256 private _feesAccrued;
    /// @dev Sum of all balances; < 2**128 (deposits are capped).
    uint256 private _totalDeposits;

    mapping(address payer => mapping(address operator => uint256)) private _balances;
    mapping(address payer => mapping(address operator => Withdrawal)) private _withdrawals;
    /// @dev 0: never settled; else keccak256(abi.encode(seq, slots, settled)) of the last settlement.
    mapping(bytes32 sessionId => bytes32) private _sessionStates;
    /// @dev 0: not revoked; else vouchers with issuedAt >= this are refused.
    mapping(bytes32 sessionId => uint256) private _revokedAt;

    /// @dev What a batch gathers in memory while its items settle.
    struct Batch {
        uint256 slotCount; // KipAssets.slotCount() at the start: slots 1..slotCount exist
        uint256[] slots; // distinct slots charged so far, in their first `length` entries
        uint256[] gross; // gross[j]: charged to slots[j] in this batch
        uint256 length;
        uint256 total; // sum of gross
        uint256 settled;
        uint256 rejected;
    }

    /// @dev What one item charges once every check has passed.
    struct Charge {
        uint256 records; // number of records
        uint256 total; // sum of `amounts`
        uint256[] amounts; // amounts[i]: sum of this item's records for voucher.slots[i]
        uint256[] settled; // settled[i]: cumulative settled to voucher.slots[i] after this item
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
    ) EIP712("KIP Settlement", "2") Ownable(owner_) {
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
        uint256 balance = _balances[msg.sender][operator];
        if (amount > balance) revert InsufficientBalance(msg.sender, balance, amount);
        uint256 readyAt = block.timestamp + _withdrawDelay;
        // balance < 2**128 (deposits are capped); readyAt is a timestamp plus at most 30 days.
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
        uint256 balance = _balances[msg.sender][operator];
        amount = request.amount < balance ? request.amount : balance;
        delete _withdrawals[msg.sender][operator];
        // amount <= balance <= totalDeposits.
        unchecked {
            _balances[msg.sender][operator] = balance - amount;
            _totalDeposits -= amount;
        }
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

    /// @notice Settles sessions (format and checks: docs/settlement-format.md). Each item is checked in
    /// the order of `RejectReason` and either settles whole (SessionSettled) or is skipped and changes
    /// nothing (SessionRejected); a bad item never reverts the batch. Only each session's operator may
    /// settle it. At the end each slot's gross, less the protocol fee, is credited to KipAssets.
    /// @param items One entry per session: its newest voucher, the stored state and the records since.
    /// @return settled Items settled.
    /// @return rejected Items skipped.
    function settle(SessionSettlement[] calldata items)
        external
        nonReentrant
        returns (uint256 settled, uint256 rejected)
    {
        if (items.length == 0) revert EmptyBatch();
        Batch memory batch = Batch({
            slotCount: _assets.slotCount(),
            slots: new uint256[](_INITIAL_SLOT_TABLE),
            gross: new uint256[](_INITIAL_SLOT_TABLE),
            length: 0,
            total: 0,
            settled: 0,
            rejected: 0
        });
        for (uint256 i; i < items.length; ++i) {
            _settleItem(items[i], batch);
        }
        _creditSlots(batch);
        return (batch.settled, batch.rejected);
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
        return _balances[payer][operator];
    }

    /// @notice Pending withdrawal request of `payer` with `operator` (amount 0: none).
    /// @param payer The payer.
    /// @param operator The operator.
    function withdrawalOf(address payer, address operator) external view returns (Withdrawal memory) {
        return _withdrawals[payer][operator];
    }

    /// @notice The session's state: 0 if it never settled, else keccak256(abi.encode(seq, slots, settled))
    /// of its last settlement (a non-zero state also means its payer signature was verified).
    /// @param sessionId The session's id (`hashSession`).
    function sessionState(bytes32 sessionId) external view returns (bytes32) {
        return _sessionStates[sessionId];
    }

    /// @notice From when the session's vouchers are refused (those issued at or after it): 0 if not revoked.
    /// @param sessionId The session's id (`hashSession`).
    function revokedAt(bytes32 sessionId) external view returns (uint256) {
        return _revokedAt[sessionId];
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
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    VOUCHER_TYPEHASH,
                    voucher.session,
                    voucher.seq,
                    voucher.issuedAt,
                    keccak256(abi.encodePacked(voucher.slots)),
                    keccak256(abi.encodePacked(voucher.maxAmounts))
                )
            )
        );
    }

    /// @notice EIP-712 domain separator (name "KIP Settlement", version "2", chain id, this address).
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

    /// @dev Checks one item and either applies it (debit, new state, slot gross) or reports why not.
    function _settleItem(SessionSettlement calldata item, Batch memory batch) private {
        bytes32 id = hashSession(item.session);
        bytes32 state = _sessionStates[id];
        (RejectReason reason, Charge memory charge) = _check(item, id, state, batch.slotCount);
        if (reason != RejectReason.None) {
            ++batch.rejected;
            emit SessionRejected(id, reason);
            return;
        }
        Session calldata session = item.session;
        Voucher calldata voucher = item.voucher;
        // _check verified balance >= total.
        _balances[session.payer][session.operator] -= charge.total;
        _sessionStates[id] = keccak256(abi.encode(voucher.seq, voucher.slots, charge.settled));
        if (state == 0) {
            emit SessionRegistered(
                id,
                session.payer,
                session.key,
                session.operator,
                session.spendCap,
                session.expiry,
                session.nonce
            );
        }
        uint256[] calldata slots = voucher.slots;
        uint256[] memory amounts = charge.amounts;
        for (uint256 i; i < amounts.length; ++i) {
            if (amounts[i] != 0) _addGross(batch, slots[i], amounts[i]);
        }
        batch.total += charge.total;
        ++batch.settled;
        emit SessionSettled(id, session.payer, voucher.seq, charge.records, charge.total);
    }

    /// @dev The checks of one item, in the order of `RejectReason`; the first that fails is returned.
    /// `charge` is complete only when the reason is None.
    function _check(SessionSettlement calldata item, bytes32 id, bytes32 state, uint256 slotCount)
        private
        view
        returns (RejectReason reason, Charge memory charge)
    {
        // 1.-7. Who may settle, the session, the voucher, revocation, the stored state, the key's signature.
        reason = _checkAuthorization(item, id, state);
        if (reason != RejectReason.None) return (reason, charge);
        Voucher calldata voucher = item.voucher;
        // 8. The records: well formed, at most one per seq since the stored state (seq > prevSeq: check 5).
        bool wellFormed;
        (wellFormed, charge.records, charge.amounts) = _sumRecords(item.records, voucher.slots.length);
        if (!wellFormed || charge.records > voucher.seq - item.prevSeq) {
            return (RejectReason.MalformedRecords, charge);
        }
        // 9.-10. Each slot within its signed cumulative maximum, the session within its cap.
        reason = _checkAmounts(voucher.maxAmounts, item.prevSettled, item.session.spendCap, charge);
        if (reason != RejectReason.None) return (reason, charge);
        // 11. The payer's balance with this operator (already reduced by earlier items of the batch).
        if (_balances[item.session.payer][item.session.operator] < charge.total) {
            return (RejectReason.InsufficientBalance, charge);
        }
        // 12. Every slot paid something exists in KipAssets.
        if (!_chargedSlotsExist(voucher.slots, charge.amounts, slotCount)) {
            return (RejectReason.UnknownSlot, charge);
        }
        return (RejectReason.None, charge);
    }

    /// @dev Checks 1 to 7: whether this voucher of this session may be settled by the caller at all.
    function _checkAuthorization(SessionSettlement calldata item, bytes32 id, bytes32 state)
        private
        view
        returns (RejectReason)
    {
        Session calldata session = item.session;
        Voucher calldata voucher = item.voucher;
        // 1. Only the operator the payer named settles the session.
        if (msg.sender != session.operator) return RejectReason.NotOperator;
        // 2. The session: well formed, and signed by its payer (verified once: a state means it was).
        if (!_isWellFormed(session)) return RejectReason.SessionInvalid;
        if (state == 0 && !_isSignedByPayer(session.payer, _hashTypedDataV4(id), item.sessionSignature)) {
            return RejectReason.SessionInvalid;
        }
        // 3. The voucher's own fields.
        if (!_isWellFormed(voucher, id, session.expiry)) return RejectReason.VoucherInvalid;
        // 4. Revocation: vouchers issued from revokedAt on are refused.
        uint256 revoked = _revokedAt[id];
        if (revoked != 0 && voucher.issuedAt >= revoked) return RejectReason.Revoked;
        // 5.-6. Newer than, and built on, the stored state.
        if (voucher.seq <= item.prevSeq) return RejectReason.StaleVoucher;
        if (!_matchesState(item.prevSeq, voucher.slots, item.prevSettled, state)) {
            return RejectReason.StateMismatch;
        }
        // 7. Signed by the session key.
        if (!_isSignedByKey(voucher, item.voucherSignature, session.key)) return RejectReason.BadSignature;
        return RejectReason.None;
    }

    /// @dev Checks 9 and 10, filling in `charge.settled` and `charge.total`: per slot, the previous cumulative
    /// amount (0 past the previous list) plus this item's must be within the signed cumulative maximum; in
    /// total, within the session's cap. The previous amounts are the stored state's (check 6), each
    /// <= spendCap < 2**128, and a record adds less than 2**64 per slot: no sum here can overflow.
    function _checkAmounts(
        uint256[] calldata maxAmounts,
        uint256[] calldata prevSettled,
        uint256 spendCap,
        Charge memory charge
    ) private pure returns (RejectReason) {
        uint256 slotCount = maxAmounts.length;
        uint256 previousSlots = prevSettled.length;
        uint256[] memory amounts = charge.amounts;
        uint256[] memory settled = new uint256[](slotCount);
        uint256 total;
        uint256 cumulative;
        for (uint256 i; i < slotCount; ++i) {
            uint256 after_ = (i < previousSlots ? prevSettled[i] : 0) + amounts[i];
            if (after_ > maxAmounts[i]) return RejectReason.AboveMax;
            settled[i] = after_;
            total += amounts[i];
            cumulative += after_;
        }
        if (cumulative > spendCap) return RejectReason.SpendCapExceeded;
        charge.settled = settled;
        charge.total = total;
        return RejectReason.None;
    }

    /// @dev Check 12: every slot charged a non-zero amount is listed in KipAssets. KipAssets lists slots
    /// 1..slotCount() and never removes one, so `slot <= slotCount` is its `slotExists` (ids are > 0: check 3).
    function _chargedSlotsExist(uint256[] calldata slots, uint256[] memory amounts, uint256 slotCount)
        private
        pure
        returns (bool)
    {
        for (uint256 i; i < amounts.length; ++i) {
            if (amounts[i] != 0 && slots[i] > slotCount) return false;
        }
        return true;
    }

    /// @dev No zero address, and every field within the width the protocol promises (docs).
    function _isWellFormed(Session calldata session) private pure returns (bool) {
        return session.payer != address(0) && session.key != address(0) && session.operator != address(0)
            && session.spendCap <= type(uint128).max && session.expiry <= type(uint40).max
            && session.nonce <= type(uint64).max;
    }

    /// @dev The voucher is for this session, lists 1..32 slots (none 0) with a maximum each, and was issued
    /// within the session's lifetime.
    function _isWellFormed(Voucher calldata voucher, bytes32 id, uint256 expiry) private pure returns (bool) {
        uint256[] calldata slots = voucher.slots;
        uint256 length = slots.length;
        if (voucher.session != id || length == 0 || length > MAX_SESSION_SLOTS) return false;
        if (voucher.maxAmounts.length != length || voucher.issuedAt > expiry) return false;
        for (uint256 i; i < length; ++i) {
            if (slots[i] == 0) return false;
        }
        return true;
    }

    /// @dev Whether (prevSeq, slots[:prevSettled.length], prevSettled) is the stored state. A session that
    /// never settled has no previous state: prevSeq 0 and no previous amounts. Since the state commits to the
    /// previous slot list, the voucher's list must start with it (slots are append-only).
    function _matchesState(
        uint256 prevSeq,
        uint256[] calldata slots,
        uint256[] calldata prevSettled,
        bytes32 state
    ) private pure returns (bool) {
        uint256 previousSlots = prevSettled.length;
        if (state == 0) return prevSeq == 0 && previousSlots == 0;
        if (previousSlots > slots.length) return false;
        return keccak256(abi.encode(prevSeq, slots[:previousSlots], prevSettled)) == state;
    }

    /// @dev The voucher's signature is 65 bytes, low-s, and recovers to the session key.
    function _isSignedByKey(Voucher calldata voucher, bytes calldata signature, address key)
        private
        view
        returns (bool)
    {
        (address signer, ECDSA.RecoverError error,) =
            ECDSA.tryRecoverCalldata(voucherDigest(voucher), signature);
        return error == ECDSA.RecoverError.NoError && signer == key;
    }

    /// @dev The payer approved the session digest: an ECDSA signature by the payer (65 bytes, low-s), or, if
    /// the payer has code, its ERC-1271 `isValidSignature` answering the magic value within
    /// SESSION_WALLET_GAS. The wallet's answer is bounded in gas, so a hostile wallet only fails its own
    /// session. Reverts if the batch has too little gas left to give the wallet its whole budget: otherwise
    /// a gas estimate could find a limit at which a good wallet silently fails.
    function _isSignedByPayer(address payer, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool)
    {
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (error == ECDSA.RecoverError.NoError && signer == payer) return true;
        if (payer.code.length == 0) return false;
        uint256 gasLeft = gasleft();
        if (gasLeft < _WALLET_CHECK_GAS_NEEDED) {
            revert InsufficientGasForWalletCheck(gasLeft, _WALLET_CHECK_GAS_NEEDED);
        }
        (bool success, bytes memory answer) = payer.staticcall{gas: SESSION_WALLET_GAS}(
            abi.encodeCall(IERC1271.isValidSignature, (digest, signature))
        );
        if (!success || answer.length < 32) return false;
        // The answer's first word must be the magic value, left-aligned; anything after it is ignored.
        // forge-lint: disable-next-line(unsafe-typecast)
        return bytes32(answer) == bytes32(IERC1271.isValidSignature.selector);
    }

    /// @dev Reads the packed records (docs/settlement-format.md) and sums their amounts per voucher slot:
    /// record := app:uint8 mask:uint32 tokensIn:uint32 tokensOut:uint32 recordHash:bytes32
    ///           amount:uint64 * popcount(mask), big-endian, no padding.
    /// Bit i of `mask` (from the lowest) says slot i was charged; its amounts follow in ascending i. The
    /// token counts and the record hash are for readers of the calldata: the contract only skips them.
    /// Returns false if a record is truncated or names an app or a slot at or past `slotCount`.
    /// Fields are read a 32-byte word at a time (`_word`): the head's first word holds app and mask, and one
    /// word holds the next four amounts.
    function _sumRecords(bytes calldata records, uint256 slotCount)
        private
        pure
        returns (bool wellFormed, uint256 count, uint256[] memory amounts)
    {
        amounts = new uint256[](slotCount);
        uint256 length = records.length;
        uint256 p;
        // p <= length + 32 and count <= length; an amount is < 2**64 and there are fewer than `length` of
        // them: nothing here can overflow.
        unchecked {
            while (p < length) {
                if (length - p < _RECORD_HEAD_BYTES) return (false, count, amounts);
                uint256 head = _word(records, p);
                uint256 app = head >> 248; // byte 0
                uint256 mask = (head >> 216) & 0xffffffff; // bytes 1..4
                // slotCount <= 32: a mask bit at or past it names no slot.
                if (app >= slotCount || mask >> slotCount != 0) return (false, count, amounts);
                p += _RECORD_HEAD_BYTES;
                uint256 word; // the amounts read ahead, the next one in the top 8 bytes
                uint256 inWord; // how many of them are left
                for (uint256 i; mask != 0; ++i) {
                    if (mask & 1 == 1) {
                        if (inWord == 0) {
                            if (p >= length) return (false, count, amounts);
                            word = _word(records, p);
                            inWord = 4;
                        }
                        amounts[i] += word >> 192;
                        word <<= 64;
                        --inWord;
                        p += _AMOUNT_BYTES;
                    }
                    mask >>= 1;
                }
                // The last amounts ran past the end (they were read as the zero padding of `_word`).
                if (p > length) return (false, count, amounts);
                ++count;
            }
        }
        return (true, count, amounts);
    }

    /// @dev The 32 bytes of `data` from `offset` (< data.length) as a big-endian number; past the end of
    /// `data` they read as zero.
    function _word(bytes calldata data, uint256 offset) private pure returns (uint256) {
        return uint256(bytes32(data[offset:]));
    }

    // ---------------------------------------------------------------------------------------------
    // Internals: the batch
    // ---------------------------------------------------------------------------------------------

    /// @dev Adds `amount` to `slot`'s gross in the batch's slot table (a short linear table: a batch charges
    /// a few dozen distinct slots), doubling the table when it is full.
    function _addGross(Batch memory batch, uint256 slot, uint256 amount) private pure {
        uint256 length = batch.length;
        uint256[] memory slots = batch.slots;
        for (uint256 j; j < length; ++j) {
            if (slots[j] == slot) {
                batch.gross[j] += amount;
                return;
            }
        }
        if (length == slots.length) {
            uint256[] memory grownSlots = new uint256[](length * 2);
            uint256[] memory grownGross = new uint256[](length * 2);
            for (uint256 j; j < length; ++j) {
                grownSlots[j] = slots[j];
                grownGross[j] = batch.gross[j];
            }
            batch.slots = grownSlots;
            batch.gross = grownGross;
        }
        batch.slots[length] = slot;
        batch.gross[length] = amount;
        batch.length = length + 1;
    }

    /// @dev Debits the batch's total from `totalDeposits`, takes the fee from each slot's gross, accrues it,
    /// and pays the nets to KipAssets in one transfer and one `credit` call.
    function _creditSlots(Batch memory batch) private {
        uint256 count = batch.length;
        uint256[] memory slots = new uint256[](count);
        uint256[] memory nets = new uint256[](count);
        uint256 feeBps_ = _feeBps;
        uint256 fees;
        uint256 netTotal;
        for (uint256 j; j < count; ++j) {
            uint256 gross = batch.gross[j];
            // gross <= the batch's total <= totalDeposits < 2**128 and feeBps <= 1000: no overflow; fee < gross.
            unchecked {
                uint256 fee = gross * feeBps_ / 10_000;
                fees += fee;
                slots[j] = batch.slots[j];
                nets[j] = gross - fee;
                netTotal += gross - fee;
            }
        }
        // The total was debited from the payers' balances, whose sum is totalDeposits.
        _totalDeposits -= batch.total;
        if (fees != 0) _feesAccrued += fees;
        emit BatchSettled(msg.sender, batch.settled, batch.rejected, batch.total, fees);
        if (count != 0) {
            _token.safeTransfer(address(_assets), netTotal);
            _assets.credit(slots, nets);
        }
    }

    function _deposit(address operator, uint256 amount) private {
        if (operator == address(0)) revert InvalidAddress("operator");
        if (amount == 0) revert ZeroAmount();
        uint256 total = _totalDeposits;
        // Balances live in uint128 fields of withdrawal requests.
        if (amount > type(uint128).max - total) revert AmountTooLarge(amount);
        // balance <= totalDeposits < 2**128.
        uint256 balance;
        unchecked {
            _totalDeposits = total + amount;
            balance = _balances[msg.sender][operator] + amount;
        }
        _balances[msg.sender][operator] = balance;
        emit Deposited(msg.sender, operator, amount, balance);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }
}
