// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Types of KipSettlement (v2: operator-bound sessions, cumulative vouchers, per-query records).
interface IKipSettlementTypes {
    /// @notice Why a settlement item was skipped, in the order the checks run (docs/settlement-format.md).
    /// `None` (0) is never emitted.
    enum RejectReason {
        None,
        NotOperator, // 1: msg.sender is not the session's operator
        SessionInvalid, // 2: a zero address, a field wider than its limit, or (first settlement) a bad payer signature
        VoucherInvalid, // 3: wrong session id, slots/maxAmounts mismatch, 0 or > 32 slots, slot id 0, issuedAt > expiry
        Revoked, // 4: the session is revoked and the voucher was issued at or after `revokedAt`
        StaleVoucher, // 5: voucher.seq <= prevSeq
        StateMismatch, // 6: (prevSeq, slots prefix, prevSettled) is not the session's stored state
        BadSignature, // 7: the voucher is not signed by the session key (or malleable / not 65 bytes)
        MalformedRecords, // 8: truncated or extra bytes, an index past the slot list, more records than seqs
        AboveMax, // 9: a slot's cumulative settled amount would exceed its signed cumulative maximum
        SpendCapExceeded, // 10: the session's cumulative settled total would exceed its spendCap
        InsufficientBalance, // 11: the payer's balance with this operator is below the item's total
        UnknownSlot // 12: a slot charged a non-zero amount is not listed in KipAssets
    }

    /// @notice A pending withdrawal request of one (payer, operator) balance.
    struct Withdrawal {
        uint128 amount;
        uint64 readyAt;
    }

    /// @notice Signed once by the payer's wallet (EIP-712 `Session`): `key` may sign vouchers that only
    /// `operator` can settle, up to `spendCap` in total, for vouchers issued until `expiry`.
    struct Session {
        address payer;
        address key;
        address operator;
        uint256 spendCap; // <= type(uint128).max
        uint256 expiry; // unix seconds, <= type(uint40).max
        uint256 nonce; // <= type(uint64).max; lets a payer open several sessions with equal terms
    }

    /// @notice Signed by the session key for every query (EIP-712 `Voucher`): the session's running maxima.
    struct Voucher {
        bytes32 session; // the session's id (its EIP-712 struct hash, see `hashSession`)
        uint256 seq; // one more per query
        uint256 issuedAt; // unix seconds when the key signed it
        uint256[] slots; // every KipAssets slot the session has charged so far, append-only
        uint256[] maxAmounts; // maxAmounts[i]: cumulative maximum for slots[i] over the session up to seq
    }

    /// @notice One session's settlement: its newest voucher, the state it builds on and the records since.
    struct SessionSettlement {
        Session session;
        bytes sessionSignature; // the payer's; may be empty once the session has a state (already verified)
        Voucher voucher; // the newest voucher the operator settles
        bytes voucherSignature; // by session.key, 65 bytes (r, s, v)
        uint256 prevSeq; // preimage of the stored state: 0 and an empty prevSettled at first
        uint256[] prevSettled; // cumulative settled per slot of the stored state (slots = voucher.slots[:length])
        bytes records; // packed per-query records since prevSeq (docs/settlement-format.md)
    }
}

/// @title Errors of KipSettlement.
interface IKipSettlementErrors {
    /// @dev Amount must be > 0.
    error ZeroAmount();
    /// @dev `payer` holds `balance` (with the operator in question), less than `needed`.
    error InsufficientBalance(address payer, uint256 balance, uint256 needed);
    /// @dev `payer` has no withdrawal request (with the operator in question).
    error NoWithdrawalRequested(address payer);
    /// @dev The request of `payer` is ready at `readyAt`.
    error WithdrawalNotReady(address payer, uint256 readyAt);
    /// @dev The fee is above MAX_FEE_BPS.
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @dev The treasury cannot be the zero address.
    error InvalidTreasury(address treasury);
    /// @dev An address argument was zero (`what` names it).
    error InvalidAddress(string what);
    /// @dev A deposit would overflow the uint128 accounting.
    error AmountTooLarge(uint256 amount);
    /// @dev KipAssets pays holders in `assetsToken`, not in the settlement's payment token `token`.
    error PaymentTokenMismatch(address token, address assetsToken);
    /// @dev The withdrawal delay is above MAX_WITHDRAW_DELAY.
    error WithdrawDelayTooLong(uint256 withdrawDelay, uint256 maxWithdrawDelay);
    /// @dev `settle` was called without items.
    error EmptyBatch();
    /// @dev Only the session's payer or its key may revoke it.
    error NotPayerOrKey(bytes32 session, address caller);
    /// @dev A smart-wallet payer's signature check needs `needed` gas and the batch has only `gasLeft` left:
    /// the operator must send more gas (the wallet itself cannot cause this).
    error InsufficientGasForWalletCheck(uint256 gasLeft, uint256 needed);
}

/// @title Events of KipSettlement.
interface IKipSettlementEvents is IKipSettlementTypes {
    /// @notice `payer` deposited `amount` for `operator`; that balance is now `balance`.
    event Deposited(address indexed payer, address indexed operator, uint256 amount, uint256 balance);
    /// @notice `payer` asked to withdraw `amount` of its balance with `operator`, payable from `readyAt`.
    event WithdrawalRequested(
        address indexed payer, address indexed operator, uint256 amount, uint256 readyAt
    );
    /// @notice `payer` cancelled its withdrawal request with `operator`.
    event WithdrawalCancelled(address indexed payer, address indexed operator);
    /// @notice `payer` withdrew `amount` of its balance with `operator`.
    event Withdrawn(address indexed payer, address indexed operator, uint256 amount);
    /// @notice A session's payer signature was verified and the session settled for the first time.
    event SessionRegistered(
        bytes32 indexed session,
        address indexed payer,
        address key,
        address indexed operator,
        uint256 spendCap,
        uint256 expiry,
        uint256 nonce
    );
    /// @notice A session was settled up to `seq`: `records` query records charged `total` to `payer`.
    event SessionSettled(
        bytes32 indexed session, address indexed payer, uint256 seq, uint256 records, uint256 total
    );
    /// @notice A settlement item was skipped; nothing of it was applied. Its calldata is NOT authenticated.
    event SessionRejected(bytes32 indexed session, RejectReason reason);
    /// @notice The session's payer or key revoked it: vouchers issued at or after `effectiveAt` are refused.
    event SessionRevoked(bytes32 indexed session, address indexed payer, uint256 effectiveAt);
    /// @notice `operator` settled a batch: `gross` charged in total, `fees` of it kept as protocol fees.
    event BatchSettled(
        address indexed operator, uint256 settled, uint256 rejected, uint256 gross, uint256 fees
    );
    /// @notice The protocol fee changed.
    event FeeBpsUpdated(uint256 oldFeeBps, uint256 newFeeBps);
    /// @notice The treasury changed.
    event TreasuryUpdated(address indexed oldTreasury, address indexed newTreasury);
    /// @notice Accrued fees were paid to the treasury.
    event FeesWithdrawn(address indexed treasury, uint256 amount);
}

/// @title KipSettlement: per-operator prepaid balances, operator-bound sessions and cumulative vouchers.
interface IKipSettlement is IKipSettlementErrors, IKipSettlementEvents {
    /// @notice Deposits `amount` payment tokens (approved beforehand) into the caller's balance with `operator`.
    function deposit(address operator, uint256 amount) external;

    /// @notice Deposits with an EIP-2612 permit instead of an approval.
    function depositWithPermit(
        address operator,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice Requests a withdrawal of `amount` from the caller's balance with `operator` (replaces an
    /// earlier request for that operator).
    function requestWithdraw(address operator, uint256 amount) external;

    /// @notice Cancels the caller's withdrawal request with `operator`.
    function cancelWithdraw(address operator) external;

    /// @notice Pays min(requested, balance) of the caller's balance with `operator` once the delay has passed.
    function withdraw(address operator) external returns (uint256 amount);

    /// @notice Revokes a session (caller: its payer or its key).
    function revokeSession(Session calldata session) external;

    /// @notice Settles sessions; each item settles whole or is skipped with SessionRejected.
    function settle(SessionSettlement[] calldata items) external returns (uint256 settled, uint256 rejected);

    /// @notice Pays accrued fees to the treasury.
    function withdrawFees() external returns (uint256 amount);

    /// @notice Unspent balance of `payer` with `operator` (including any amount requested for withdrawal).
    function balanceOf(address payer, address operator) external view returns (uint256);

    /// @notice Pending withdrawal request of `payer` with `operator` (amount 0: none).
    function withdrawalOf(address payer, address operator) external view returns (Withdrawal memory);

    /// @notice The session's state commitment: 0 if never settled.
    function sessionState(bytes32 sessionId) external view returns (bytes32);

    /// @notice When the session's revocation takes effect: 0 if not revoked.
    function revokedAt(bytes32 sessionId) external view returns (uint256);

    /// @notice EIP-712 struct hash of `session`: its id.
    function hashSession(Session calldata session) external pure returns (bytes32);

    /// @notice EIP-712 digest the session key signs for `voucher`.
    function voucherDigest(Voucher calldata voucher) external view returns (bytes32);

    /// @notice Protocol fee in basis points.
    function feeBps() external view returns (uint256);

    /// @notice Receiver of protocol fees.
    function treasury() external view returns (address);

    /// @notice The KipAssets deployment revenue is credited to.
    function assets() external view returns (address);
}
