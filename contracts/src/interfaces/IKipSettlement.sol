// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Types of KipSettlement (v3: per-payer accounts, operator-bound session keys, cumulative vouchers).
interface IKipSettlementTypes {
    /// @notice Why a settlement item was skipped, in the order the checks run (docs/settlement-format.md).
    /// `None` (0) is never emitted.
    enum RejectReason {
        None,
        SessionInvalid, // 1: the payer or the key is the zero address
        VoucherInvalid, // 2: seq 0, or issued after the session's expiry
        BadSignature, // 3: the voucher is not signed by the session key (or is malleable) for this session with
        // msg.sender as its operator, on this chain and contract: a session of another operator ends here
        Revoked, // 4: the session is revoked and the voucher was issued at or after `revokedAt`
        StaleVoucher, // 5: voucher seq <= the account's settled seq
        BadSessionSignature, // 6: the payer did not sign the session (EIP-2098 ECDSA or ERC-1271)
        MalformedRecords, // 7: truncated or extra bytes, an index past the slot table, more records than seqs
        AboveMax, // 8: the account's cumulative charged total would exceed the voucher's cumulativeMax
        SpendCapExceeded, // 9: ... or the session's spendCap
        InsufficientBalance, // 10: the payer's balance with this operator is below the item's total
        UnknownSlot // 11: a slot paid a non-zero amount is not listed in KipAssets
    }

    /// @notice A pending withdrawal request of one (payer, operator) balance.
    struct Withdrawal {
        uint128 amount;
        uint64 readyAt;
    }

    /// @notice A payer's account with one operator, in one storage word (bits 0..95, 96..135, 136..231,
    /// 232..255).
    struct AccountState {
        uint96 balance; // unspent deposit (including any amount requested for withdrawal)
        uint40 seq; // the seq of the newest voucher settled
        uint96 charged; // cumulative total ever charged to this account
        // 0, or 1 + (the latest expiry of a revoked session of this account >> REVOKED_UNTIL_SHIFT): a
        // voucher issued at t is checked against its session's revocation only if t >> 17 < revokedUntil
        uint24 revokedUntil;
    }

    /// @notice Signed once by the payer's wallet (EIP-712 `Session`): `key` may sign vouchers that only
    /// `operator` can settle, as long as the account's cumulative charged total stays within `spendCap`,
    /// for vouchers issued until `expiry`.
    struct Session {
        address payer;
        address key;
        address operator;
        uint256 spendCap; // cumulative limit of the account's charged total; settles if <= type(uint96).max
        uint256 expiry; // unix seconds; settles if <= type(uint40).max
        uint256 nonce; // settles if <= type(uint64).max; lets a payer open several sessions with equal terms
    }

    /// @notice Signed by a session key for every query (EIP-712 `Voucher`).
    struct Voucher {
        bytes32 session; // the session's id (its EIP-712 struct hash, see `hashSession`)
        uint256 seq; // the account's query number: one more per query, over all its sessions (< 2**40)
        uint256 issuedAt; // unix seconds when the key signed it (< 2**40)
        uint256 cumulativeMax; // the most the account's cumulative charged total may be through seq (< 2**96)
        bytes32 charges; // keccak256(abi.encode(slots, maxAmounts)) of this query's own maxima
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
    /// @dev A deposit would take a balance past uint96 or the total past uint112 (or fees past uint128).
    error AmountTooLarge(uint256 amount);
    /// @dev KipAssets pays holders in `assetsToken`, not in the settlement's payment token `token`.
    error PaymentTokenMismatch(address token, address assetsToken);
    /// @dev The withdrawal delay is above MAX_WITHDRAW_DELAY.
    error WithdrawDelayTooLong(uint256 withdrawDelay, uint256 maxWithdrawDelay);
    /// @dev `settle` was called with an empty batch.
    error EmptyBatch();
    /// @dev `settle` got a slot table with more than MAX_BATCH_SLOTS entries.
    error SlotTableTooLong(uint256 length);
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
    /// @notice A settlement item was skipped; nothing of it was applied. Its calldata is NOT authenticated.
    /// Every item of a batch that has no SessionRejected settled. `item` is its position in the batch,
    /// `session` the id of its session with the caller as operator.
    event SessionRejected(uint256 indexed item, bytes32 indexed session, RejectReason reason);
    /// @notice A smart wallet approved `session` (ERC-1271), once; later settlements do not ask it again.
    event SessionApproved(bytes32 indexed session, address indexed payer);
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

/// @title KipSettlement: per-operator prepaid accounts, operator-bound session keys, cumulative vouchers.
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

    /// @notice Settles the packed items of `batch` (SettlementItems), the caller being every session's
    /// operator; each item settles whole or is skipped with SessionRejected.
    function settle(bytes calldata batch, uint256[] calldata slots)
        external
        returns (uint256 settled, uint256 rejected);

    /// @notice Pays accrued fees to the treasury.
    function withdrawFees() external returns (uint256 amount);

    /// @notice Unspent balance of `payer` with `operator` (including any amount requested for withdrawal).
    function balanceOf(address payer, address operator) external view returns (uint256);

    /// @notice The account of `payer` with `operator`: balance, settled seq and cumulative charged total.
    function accountOf(address payer, address operator) external view returns (AccountState memory);

    /// @notice Pending withdrawal request of `payer` with `operator` (amount 0: none).
    function withdrawalOf(address payer, address operator) external view returns (Withdrawal memory);

    /// @notice When the session's revocation takes effect: 0 if not revoked.
    function revokedAt(bytes32 sessionId) external view returns (uint256);

    /// @notice Whether a smart wallet approved the session at an earlier settlement.
    function walletApproved(bytes32 sessionId) external view returns (bool);

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
