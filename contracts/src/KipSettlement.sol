// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

import {IKipAssets} from "./interfaces/IKipAssets.sol";
import {IKipSettlement} from "./interfaces/IKipSettlement.sol";
import {SettlementItems} from "./SettlementItems.sol";
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
/// 4. The operator calls `settle` with one packed byte string holding, per account, the newest voucher and
///    one packed record per query since the last settled seq (what the query paid each slot); the session's
///    operator is the caller (it is not in the calldata: a session is hashed with msg.sender as operator).
///    The contract checks the voucher, the session, the records' total against the signed cumulative
///    maximum, the spend cap and the balance, debits the payer, and credits each slot's gross, less the
///    protocol fee, to KipAssets in one transfer and one `credit` call per batch.
/// The batch format (docs/settlement-format.md): `settle(bytes batch, uint256[] slots)`, `batch` the
/// concatenation of items, each big-endian without padding:
///   payer:20 key:20 spendCap:12 expiry:5 nonce:8 seq:5 issuedAt:5 cumulativeMax:12 charges:32 r:32 vs:32
///   sigLength:2 sessionSignature:sigLength recordsLength:3 records:recordsLength
/// (`SettlementItems`). `r, vs` is the key's EIP-2098 voucher signature; `sessionSignature` the payer's:
/// 64 bytes EIP-2098 (r, vs) for an EOA, what its ERC-1271 wallet accepts otherwise (empty once approved).
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

    /// @notice An account's `revokedUntil` counts in units of 2**17 s (36.4 h): a voucher issued at t may be of
    /// a revoked session of the account only if t >> REVOKED_UNTIL_SHIFT < revokedUntil.
    uint256 public constant REVOKED_UNTIL_SHIFT = 17;

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

    /// @dev The account word's fields (`_pack`): balance 0..95, seq 96..135, charged 136..231,
    /// revokedUntil 232..255.
    uint256 private constant _BALANCE_MASK = type(uint96).max;
    uint256 private constant _SEQ_SHIFT = 96;
    uint256 private constant _SEQ_MASK = type(uint40).max;
    uint256 private constant _CHARGED_SHIFT = 136;
    uint256 private constant _CHARGED_MASK = type(uint96).max;
    uint256 private constant _REVOKED_UNTIL_SHIFT = 232;


    IERC20 private immutable _token;
    IKipAssets private immutable _assets;
    uint256 private immutable _withdrawDelay;

    address private _treasury;
    /// @dev The batch-wide numbers settlement reads and writes, in one word: one load and one store per batch.
    Totals private _totals;

    /// @dev One word per account (`_pack`): balance in bits 0..95, seq in 96..135, charged in 136..231,
    /// revokedUntil in 232..255.
    mapping(address payer => mapping(address operator => AccountWord)) private _accounts;
    mapping(address payer => mapping(address operator => Withdrawal)) private _withdrawals;
    /// @dev 0: not revoked; else vouchers with issuedAt >= this are refused.
    mapping(bytes32 sessionId => uint256) private _revokedAt;
    /// @dev Sessions a smart-wallet payer approved (ERC-1271) at an earlier settlement.
    mapping(bytes32 sessionId => bool) private _walletApproved;

    /// @dev What every item of a batch needs.
    struct Context {
        bytes32 domain; // the EIP-712 domain separator
        uint256 tableLength; // entries in the slot table
        uint256 unknown; // bit j: table entry j is not a KipAssets slot
        uint256[] gross; // per table entry (256, those past the table stay 0): what settled items paid it
    }

    /// @dev Sum of all balances (< 2**112: deposits are capped), fees accrued and not withdrawn (a settlement
    /// that would take them past 2**128 reverts), and the protocol fee.
    struct Totals {
        uint112 deposits;
        uint128 fees;
        uint16 feeBps;
    }

    /// @dev An account's storage word (`_pack`), behind a struct so that settlement computes its slot once.
    struct AccountWord {
        uint256 word;
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
        _totals.feeBps = uint16(feeBps_);
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
        uint256 balance = _unpack(_accounts[msg.sender][operator].word).balance;
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
        AccountState memory account = _unpack(_accounts[msg.sender][operator].word);
        uint256 balance = account.balance;
        amount = request.amount < balance ? request.amount : balance;
        delete _withdrawals[msg.sender][operator];
        // amount <= balance <= totalDeposits.
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            account.balance = uint96(balance - amount);
            // forge-lint: disable-next-line(unsafe-typecast)
            _totals.deposits -= uint112(amount);
        }
        _accounts[msg.sender][operator].word = _pack(account);
        emit Withdrawn(msg.sender, operator, amount);
        if (amount != 0) _token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------------------------------------
    // Sessions
    // ---------------------------------------------------------------------------------------------

    /// @notice Revokes `session`: from `block.timestamp + REVOKE_DELAY` on, its vouchers issued at or after
    /// that time are refused (earlier ones still settle). Only the session's payer or key may call it. A
    /// session already revoked keeps its first revocation time (calling again changes nothing).
    /// @dev Also raises the account's `revokedUntil` past the session's expiry, so that settlement reads the
    /// revocation of a voucher that could be this session's (one issued by its expiry) and no other.
    /// @param session The session, as its payer signed it.
    function revokeSession(Session calldata session) external {
        bytes32 id = hashSession(session);
        if (msg.sender != session.payer && msg.sender != session.key) revert NotPayerOrKey(id, msg.sender);
        if (_revokedAt[id] != 0) return;
        uint256 effectiveAt = block.timestamp + REVOKE_DELAY;
        _revokedAt[id] = effectiveAt;
        // A session that expires past uint40 cannot be settled at all (the batch has 5 bytes for expiry and
        // issuedAt), so marking up to the last uint40 second covers every voucher that could be its.
        uint256 expiry = session.expiry > type(uint40).max ? type(uint40).max : session.expiry;
        uint256 until = (expiry >> REVOKED_UNTIL_SHIFT) + 1; // <= 2**23: fits the 24-bit field
        AccountState memory account = _unpack(_accounts[session.payer][session.operator].word);
        if (until > account.revokedUntil) {
            // forge-lint: disable-next-line(unsafe-typecast)
            account.revokedUntil = uint24(until);
            _accounts[session.payer][session.operator].word = _pack(account);
        }
        emit SessionRevoked(id, session.payer, effectiveAt);
    }

    // ---------------------------------------------------------------------------------------------
    // Settlement
    // ---------------------------------------------------------------------------------------------

    /// @notice Settles accounts (format and checks: docs/settlement-format.md). Each item is checked in
    /// the order of `RejectReason` and either settles whole or is skipped with SessionRejected and changes
    /// nothing; a bad item never reverts the batch (an item cut short does: MalformedBatch). Every session
    /// is read as naming the caller as its operator, so only its operator can settle it: another operator's
    /// session fails the voucher signature (BadSignature). At the end each slot's gross, less the protocol
    /// fee, is credited to KipAssets.
    /// @param batch The items, packed (`SettlementItems`): per account its newest voucher and the records of
    /// the queries since.
    /// @param slots The batch's slot table: the records name slots by their index in it.
    /// @return settled Items settled.
    /// @return rejected Items skipped.
    function settle(bytes calldata batch, uint256[] calldata slots)
        external
        nonReentrant
        returns (uint256 settled, uint256 rejected)
    {
        if (batch.length == 0) revert EmptyBatch();
        if (slots.length > MAX_BATCH_SLOTS) revert SlotTableTooLong(slots.length);
        // KipAssets lists slots 1..slotCount() and never removes one: entry j flags a slot that does not exist.
        Context memory ctx;
        uint256 slotCount = _assets.slotCount();
        for (uint256 j; j < slots.length; ++j) {
            if (slots[j] == 0 || slots[j] > slotCount) ctx.unknown |= 1 << j;
        }
        ctx.tableLength = slots.length;
        // A record names table entries with one byte: any index has an entry (those past the table stay 0).
        ctx.gross = new uint256[](MAX_BATCH_SLOTS);
        ctx.domain = _domainSeparatorV4();
        SettlementItems.Item memory item; // one copy, overwritten by each item
        uint256 total;
        uint256 p;
        for (uint256 i; p < batch.length; ++i) {
            p = SettlementItems.read(batch, p, item);
            (bool ok, uint256 charged) = _settleItem(i, batch, item, ctx);
            if (ok) {
                ++settled;
                total += charged;
            } else {
                ++rejected;
            }
        }
        _creditSlots(slots, ctx.gross, total, settled, rejected);
    }

    /// @notice Pays all accrued fees to the treasury. Anyone may call it.
    /// @return amount The amount paid.
    function withdrawFees() external nonReentrant returns (uint256 amount) {
        amount = _totals.fees;
        if (amount == 0) return 0;
        _totals.fees = 0;
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
        uint256 old = _totals.feeBps;
        // feeBps_ <= MAX_FEE_BPS fits uint16.
        // forge-lint: disable-next-line(unsafe-typecast)
        _totals.feeBps = uint16(feeBps_);
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
        return _unpack(_accounts[payer][operator].word).balance;
    }

    /// @notice The account of `payer` with `operator`: balance, the newest settled seq, the cumulative
    /// total ever charged and the revocation mark (`revokedUntil`).
    /// @param payer The payer.
    /// @param operator The operator.
    function accountOf(address payer, address operator) external view returns (AccountState memory) {
        return _unpack(_accounts[payer][operator].word);
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
        return _totals.feeBps;
    }

    /// @notice Receiver of protocol fees.
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @notice Fees accrued and not yet withdrawn.
    function feesAccrued() external view returns (uint256) {
        return _totals.fees;
    }

    /// @notice Sum of all balances (kept as a running sum).
    function totalDeposits() external view returns (uint256) {
        return _totals.deposits;
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
        bytes calldata batch,
        SettlementItems.Item memory item,
        Context memory ctx
    ) private returns (bool settled, uint256 total) {
        // The operator is the caller: a session signed for another operator hashes to another id here.
        bytes32 id = SettlementItems.sessionId(item, SESSION_TYPEHASH, msg.sender);
        AccountWord storage account = _accounts[item.payer][msg.sender];
        uint256 word = account.word;
        (RejectReason reason, bool approvedNow) = _checkAuthorization(batch, item, id, ctx.domain, word);
        if (reason == RejectReason.None) {
            (reason, total) = _applyRecords(batch[item.records:item.end], item, word, ctx);
        }
        if (reason != RejectReason.None) {
            emit SessionRejected(index, id, reason);
            return (false, 0);
        }
        // _applyRecords checked total <= balance and charged + total <= cumulativeMax < 2**96; seq < 2**40
        // (five bytes in the batch). Balance is the lowest field and charged sits above seq: subtracting
        // from the balance and adding to charged in place cannot reach a neighbouring field.
        unchecked {
            word = (word - total + (total << _CHARGED_SHIFT)) & ~(_SEQ_MASK << _SEQ_SHIFT);
        }
        account.word = word | (item.seq << _SEQ_SHIFT);
        if (approvedNow) {
            _walletApproved[id] = true;
            emit SessionApproved(id, item.payer);
        }
        return (true, total);
    }

    /// @dev Checks 1 to 6: whether this voucher of this session may be settled by the caller at all. The
    /// batch's field widths bound every number (spendCap and cumulativeMax < 2**96, expiry and issuedAt
    /// < 2**40, seq < 2**40, nonce < 2**64), so no field can be wider than its limit. `approvedNow`: a
    /// smart wallet approved the session just now (remember it if the item settles).
    function _checkAuthorization(
        bytes calldata batch,
        SettlementItems.Item memory item,
        bytes32 id,
        bytes32 domain,
        uint256 word
    ) private view returns (RejectReason, bool approvedNow) {
        // 1. The session's addresses.
        if (item.payer == address(0) || item.key == address(0)) return (RejectReason.SessionInvalid, false);
        // 2. The voucher's own fields.
        if (item.seq == 0 || item.issuedAt > item.expiry) return (RejectReason.VoucherInvalid, false);
        // 3. Signed by the session key, for this session with the caller as operator, on this chain and
        // contract (the domain): a voucher of another operator's session, chain or deployment ends here.
        bytes32 structHash = SettlementItems.voucherHash(item, VOUCHER_TYPEHASH, id);
        if (SettlementItems.recover(MessageHashUtils.toTypedDataHash(domain, structHash), item.r, item.vs) != item.key) {
            return (RejectReason.BadSignature, false);
        }
        // 4. Revocation: vouchers issued from revokedAt on are refused. Only a voucher issued by the expiry
        // of one of the account's revoked sessions can be a revoked session's (check 2 holds issuedAt to
        // the expiry), so the revocation is read only then.
        if (item.issuedAt >> REVOKED_UNTIL_SHIFT < word >> _REVOKED_UNTIL_SHIFT) {
            uint256 revoked = _revokedAt[id];
            if (revoked != 0 && item.issuedAt >= revoked) return (RejectReason.Revoked, false);
        }
        // 5. Newer than what the account settled last.
        if (item.seq <= (word >> _SEQ_SHIFT) & _SEQ_MASK) return (RejectReason.StaleVoucher, false);
        // 6. The session signed by its payer.
        bool approved;
        (approved, approvedNow) = _isApprovedByPayer(batch, item, id, domain);
        if (!approved) return (RejectReason.BadSessionSignature, false);
        return (RejectReason.None, approvedNow);
    }

    /// @dev Checks 7 to 11 and adds the records' amounts to `gross`; a rejected item's amounts are taken out
    /// again, so `gross` only ever holds what settles. Returns the reason and the item's total.
    function _applyRecords(
        bytes calldata records,
        SettlementItems.Item memory item,
        uint256 word,
        Context memory ctx
    ) private pure returns (RejectReason reason, uint256) {
        SettlementRecords.Walk memory walk = SettlementRecords.walk(records, ctx.tableLength, ctx.gross);
        uint256 charged = (word >> _CHARGED_SHIFT) & _CHARGED_MASK;
        // 7. Whole records naming table entries, at most one per seq since the last settlement (check 5).
        if (!walk.ok || walk.count > item.seq - ((word >> _SEQ_SHIFT) & _SEQ_MASK)) {
            reason = RejectReason.MalformedRecords;
        }
        // 8. Within the voucher's cumulative maximum (so a voucher below what was charged never settles).
        else if (charged + walk.total > item.cumulativeMax) reason = RejectReason.AboveMax;
        // 9. Within the session's spend cap.
        else if (charged + walk.total > item.spendCap) reason = RejectReason.SpendCapExceeded;
        // 10. The payer's balance with this operator (already reduced by earlier items of the batch).
        else if (walk.total > word & _BALANCE_MASK) reason = RejectReason.InsufficientBalance;
        // 11. Every slot paid something exists in KipAssets.
        else if (ctx.unknown != 0 && SettlementRecords.paysUnknown(records, ctx.unknown)) {
            reason = RejectReason.UnknownSlot;
        }
        if (reason != RejectReason.None) {
            SettlementRecords.walkReference(records[:walk.end], ctx.tableLength, ctx.gross, false);
            return (reason, 0);
        }
        return (RejectReason.None, walk.total);
    }

    /// @dev The EIP-712 digest of a voucher.
    function _voucherDigest(bytes32 session, uint256 seq, uint256 issuedAt, uint256 cumulativeMax, bytes32 charges)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, session, seq, issuedAt, cumulativeMax, charges)));
    }

    /// @dev The payer approved the session: a 64-byte EIP-2098 ECDSA signature (r, vs; low s) by the payer
    /// of the session digest, or, if the payer has code, an earlier or a present ERC-1271 approval:
    /// `isValidSignature(digest, signature)` answering the magic value within SESSION_WALLET_GAS
    /// (`approvedNow`: remember it). The wallet's answer is bounded in gas, so a hostile wallet only fails
    /// its own item. Reverts if the batch has too little gas left to give the wallet its whole budget:
    /// otherwise a gas estimate could find a limit at which a good wallet silently fails.
    function _isApprovedByPayer(
        bytes calldata batch,
        SettlementItems.Item memory item,
        bytes32 id,
        bytes32 domain
    ) private view returns (bool approved, bool approvedNow) {
        address payer = item.payer;
        bytes32 digest = MessageHashUtils.toTypedDataHash(domain, id);
        // sessionR and sessionVs are the signature's words if it is 64 bytes long, else 0 (which never
        // recovers: r = 0 is refused by ecrecover; the payer is not 0, check 1).
        if (SettlementItems.recover(digest, item.sessionR, item.sessionVs) == payer) return (true, false);
        if (payer.code.length == 0) return (false, false);
        if (_walletApproved[id]) return (true, false);
        uint256 gasLeft = gasleft();
        if (gasLeft < _WALLET_CHECK_GAS_NEEDED) {
            revert InsufficientGasForWalletCheck(gasLeft, _WALLET_CHECK_GAS_NEEDED);
        }
        bytes calldata signature = batch[item.signature:item.records - 3];
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
        Totals memory totals = _totals;
        (uint256[] memory slots, uint256[] memory nets, uint256 fees, uint256 netTotal) =
            _nets(table, gross, totals.feeBps);
        // The total was debited from the payers' balances, whose sum is totals.deposits.
        // forge-lint: disable-next-line(unsafe-typecast)
        totals.deposits -= uint112(total);
        uint256 newFees = totals.fees + fees;
        if (newFees > type(uint128).max) revert AmountTooLarge(newFees);
        // forge-lint: disable-next-line(unsafe-typecast)
        totals.fees = uint128(newFees);
        _totals = totals;
        emit BatchSettled(msg.sender, settled, rejected, total, fees);
        if (slots.length != 0) {
            _token.safeTransfer(address(_assets), netTotal);
            _assets.credit(slots, nets);
        }
    }

    /// @dev The table entries that earned something: their slots and nets (gross less the fee), the fees and
    /// the nets' sum.
    function _nets(uint256[] calldata table, uint256[] memory gross, uint256 feeBps_)
        private
        pure
        returns (uint256[] memory slots, uint256[] memory nets, uint256 fees, uint256 netTotal)
    {
        uint256 count;
        for (uint256 j; j < table.length; ++j) {
            if (gross[j] != 0) ++count;
        }
        slots = new uint256[](count);
        nets = new uint256[](count);
        uint256 k;
        for (uint256 j; j < table.length; ++j) {
            uint256 amount = gross[j];
            if (amount == 0) continue;
            // amount <= the batch's total <= totalDeposits < 2**112 and feeBps <= 1000: no overflow; fee < amount.
            unchecked {
                uint256 fee = amount * feeBps_ / 10_000;
                fees += fee;
                slots[k] = table[j];
                nets[k] = amount - fee;
                netTotal += amount - fee;
                ++k;
            }
        }
    }

    function _deposit(address operator, uint256 amount) private {
        if (operator == address(0)) revert InvalidAddress("operator");
        if (amount == 0) revert ZeroAmount();
        uint256 total = _totals.deposits;
        AccountState memory account = _unpack(_accounts[msg.sender][operator].word);
        uint256 balance = account.balance;
        // A balance lives in 96 bits of its account word, the total in 112.
        if (amount > type(uint96).max - balance || amount > type(uint112).max - total) revert AmountTooLarge(amount);
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast)
            _totals.deposits = uint112(total + amount);
            balance += amount;
        }
        // forge-lint: disable-next-line(unsafe-typecast)
        account.balance = uint96(balance);
        _accounts[msg.sender][operator].word = _pack(account);
        emit Deposited(msg.sender, operator, amount, balance);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @dev An account word's fields.
    function _unpack(uint256 word) private pure returns (AccountState memory account) {
        // Each field is cut to its width by the mask and fits its type.
        // forge-lint: disable-next-line(unsafe-typecast)
        account.balance = uint96(word & type(uint96).max);
        // forge-lint: disable-next-line(unsafe-typecast)
        account.seq = uint40((word >> 96) & type(uint40).max);
        // forge-lint: disable-next-line(unsafe-typecast)
        account.charged = uint96((word >> 136) & type(uint96).max);
        // forge-lint: disable-next-line(unsafe-typecast)
        account.revokedUntil = uint24(word >> 232);
    }

    /// @dev The account word of `account`'s fields.
    function _pack(AccountState memory account) private pure returns (uint256) {
        return uint256(account.balance) | (uint256(account.seq) << 96) | (uint256(account.charged) << 136)
            | (uint256(account.revokedUntil) << 232);
    }
}
