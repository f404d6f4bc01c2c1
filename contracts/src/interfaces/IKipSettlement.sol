// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Types of KipSettlement.
interface IKipSettlementTypes {
    /// @notice Why a receipt in a batch was skipped. `None` (0) is never emitted.
    enum RejectReason {
        None,
        SessionInvalid, // session not registered and no valid wallet signature in the batch, or zero key
        SessionExpired, // session expiry < block.timestamp
        ReceiptExpired, // receipt deadline < block.timestamp or > session expiry
        Replayed, // (payer, nonce) already settled, earlier or in this batch
        AmountAboveMax, // a charge's amount > its signed maxAmount
        UnknownSlot, // a charged slot does not exist in KipAssets
        InsufficientBalance, // payer's deposit < the receipt's total
        SpendCapExceeded, // session spent + total > spendCap
        BadSignature, // not signed by the session key (or malleable s / bad v)
        AmountNotSignedMax // an amount != its signed maxAmount, and the caller is not an authorized settler
    }

    /// @notice A pending withdrawal request.
    struct Withdrawal {
        uint128 amount;
        uint64 readyAt;
    }
}

/// @title Errors of KipSettlement.
interface IKipSettlementErrors {
    /// @dev Amount must be > 0.
    error ZeroAmount();
    /// @dev `payer` holds `balance`, less than `needed`.
    error InsufficientBalance(address payer, uint256 balance, uint256 needed);
    /// @dev `payer` has no withdrawal request.
    error NoWithdrawalRequested(address payer);
    /// @dev The request of `payer` is ready at `readyAt`.
    error WithdrawalNotReady(address payer, uint256 readyAt);
    /// @dev The fee is above MAX_FEE_BPS.
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @dev The treasury cannot be the zero address.
    error InvalidTreasury(address treasury);
    /// @dev A constructor address was zero.
    error InvalidAddress(string what);
    /// @dev The packed batch is structurally wrong at byte `offset` (see docs/settlement-format.md).
    error MalformedBatch(uint256 offset);
    /// @dev A deposit would overflow the uint128 accounting.
    error AmountTooLarge(uint256 amount);
    /// @dev KipAssets pays holders in `assetsToken`, not in the settlement's payment token `token`.
    error PaymentTokenMismatch(address token, address assetsToken);
    /// @dev The withdrawal delay is above MAX_WITHDRAW_DELAY.
    error WithdrawDelayTooLong(uint256 withdrawDelay, uint256 maxWithdrawDelay);
    /// @dev A session's smart-wallet signature check needs `needed` gas and the batch has only `gasLeft`
    /// left: the settler must send more gas (the wallet itself cannot cause this).
    error InsufficientGasForWalletCheck(uint256 gasLeft, uint256 needed);
}

/// @title Events of KipSettlement.
interface IKipSettlementEvents is IKipSettlementTypes {
    /// @notice `payer` deposited `amount`; their balance is now `balance`.
    event Deposited(address indexed payer, uint256 amount, uint256 balance);
    /// @notice `payer` asked to withdraw `amount`, payable from `readyAt`.
    event WithdrawalRequested(address indexed payer, uint256 amount, uint256 readyAt);
    /// @notice `payer` cancelled their withdrawal request.
    event WithdrawalCancelled(address indexed payer);
    /// @notice `payer` withdrew `amount`.
    event Withdrawn(address indexed payer, uint256 amount);
    /// @notice A session signed by `payer`'s wallet was verified and registered.
    event SessionRegistered(
        bytes32 indexed sessionHash,
        address indexed payer,
        address indexed key,
        uint256 spendCap,
        uint256 expiry,
        uint256 nonce
    );
    /// @notice A receipt was settled. `charges[i] = slotId << 128 | amount` (amount < 2**96).
    event ReceiptSettled(address indexed payer, uint256 indexed nonce, bytes32 sessionHash, uint256[] charges);
    /// @notice A receipt was skipped. Data of a rejected receipt is NOT authenticated (it may be forged).
    event ReceiptRejected(address indexed payer, uint256 indexed nonce, uint8 reason);
    /// @notice A batch was settled by `settler`.
    event BatchSettled(address indexed settler, uint256 settled, uint256 rejected, uint256 gross, uint256 fees);
    /// @notice The protocol fee changed.
    event FeeBpsUpdated(uint256 oldFeeBps, uint256 newFeeBps);
    /// @notice The treasury changed.
    event TreasuryUpdated(address indexed oldTreasury, address indexed newTreasury);
    /// @notice Accrued fees were paid to the treasury.
    event FeesWithdrawn(address indexed treasury, uint256 amount);
    /// @notice `settler` was allowed (or no longer allowed) to charge less than a receipt's signed maxima.
    event SettlerUpdated(address indexed settler, bool allowed);
}

/// @title KipSettlement: prepaid deposits, session keys and batched receipt settlement.
interface IKipSettlement is IKipSettlementErrors, IKipSettlementEvents {
    /// @notice Deposits `amount` payment tokens (approved beforehand) into the caller's balance.
    function deposit(uint256 amount) external;

    /// @notice Deposits with an EIP-2612 permit instead of an approval.
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Requests a withdrawal of `amount` (replaces an earlier request).
    function requestWithdraw(uint256 amount) external;

    /// @notice Cancels the caller's withdrawal request.
    function cancelWithdraw() external;

    /// @notice Pays min(requested, balance) once the delay has passed.
    function withdraw() external returns (uint256 amount);

    /// @notice Settles a packed batch of sessions and receipts (docs/settlement-format.md).
    function settle(bytes calldata batch) external returns (uint256 settled, uint256 rejected);

    /// @notice Owner only: allows or disallows `settler` to charge less than a receipt's signed maxima.
    function setSettler(address settler, bool allowed) external;

    /// @notice Whether `account` may charge less than a receipt's signed maxima.
    function isSettler(address account) external view returns (bool);

    /// @notice Pays accrued fees to the treasury.
    function withdrawFees() external returns (uint256 amount);
}
