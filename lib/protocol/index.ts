// Public surface of the protocol helpers: EIP-712 sessions and vouchers, per-query records and the
// settlement call (docs/settlement-format.md).
export { settlementDomain, sessionTypes, voucherTypes, LIMITS, fitsLimit, SETTLEMENT_DOMAIN_NAME, SETTLEMENT_DOMAIN_VERSION } from "./eip712";
export { hashSession, sessionDigest, signSession, recoverSessionSigner, verifySession, checkSession } from "./session";
export type { Session, SettlementContext } from "./session";
export { isCanonicalSignature, isSignedByKey, isSignedByPayer, ChainUnavailableError, SESSION_WALLET_GAS, type RecoverSigner } from "./signature";
export { voucherDigest, voucherDigestReference, signVoucher, signVoucherWith, verifyVoucher, checkVoucher, chargesHash, nextVoucherFields } from "./voucher";
export type { Voucher, AccountPosition, SlotMax } from "./voucher";
export { viemKeccak256, type Keccak256 } from "./keccak";
export { recordHash, datasetVersionsOf, packRecords, unpackRecords, type DatasetVersionRef } from "./records";
export type { QueryRecord } from "./records";
export { encodeSettle, decodeSettle, settleArgs, slotTable, compactSignature, settlementOutcome, rejectReasonName, REJECT_REASONS } from "./settle";
export type { SettleItem, DecodedItem, SettlementItemOutcome, RejectReason } from "./settle";
export { permitTypes, permitDomain, splitPermitSignature } from "./permit";
export type { PermitMessage } from "./permit";
