// Public surface of the protocol helpers (EIP-712 sessions and receipts, the packed settlement batch).
export { settlementDomain, sessionTypes, receiptTypes, LIMITS, fitsLimit, SETTLEMENT_DOMAIN_NAME, SETTLEMENT_DOMAIN_VERSION } from "./eip712";
export { hashSession, sessionDigest, signSession, recoverSessionSigner, verifySession } from "./session";
export type { Session, SettlementContext } from "./session";
export { hashReceipt, receiptDigest, signReceipt, recoverReceiptSigner, verifyReceipt } from "./receipt";
export type { Receipt } from "./receipt";
export { encodeBatch, batchSize, decodeCharges, rejectReasonName, REJECT_REASONS, MAX_SLOTS_PER_BATCH, MAX_SESSION_SIGNATURE_BYTES } from "./batch";
export type { BatchInput, BatchReceipt, BatchSession, Charge, RejectReason } from "./batch";
export { permitTypes, permitDomain, splitPermitSignature } from "./permit";
export type { PermitMessage } from "./permit";
