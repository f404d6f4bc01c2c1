// Types shared by the chat route and the chat page (no server imports).
import type { UIMessage } from "ai";

/** Longest question the chat accepts (characters; the page counts them as they are typed). */
export const MAX_QUESTION_CHARS = 4000;

/** A retrieved passage shown under an answer and numbered in it. */
export interface SourceRef {
  /** The citation number used in the answer, [n]. */
  n: number;
  datasetId: string;
  datasetName: string;
  documentId: string;
  /** The document's file name (in an archive: its path inside it). */
  documentName: string;
  /**
   * Where the passage comes from, as the page shows it: the document's title and the section path
   * ("Chapter 20. Server Configuration › 20.4. Resource Consumption"), and a PDF's page. Answers stored
   * before citations had sections have none: show documentName.
   */
  citation?: string;
  /** The document's title ("" when it has none of its own). */
  documentTitle?: string;
  /** The passage's section path, outermost first. */
  section?: string[];
  /** 1-based page of a PDF. */
  page?: number | null;
  chunkId: string;
  /** The dataset version the passage came from (absent on answers given before datasets had versions). */
  datasetVersion?: number;
  snippet: string;
  score: number;
}

export type ChargeStatus = "free" | "answering" | "pending" | "sending" | "settled" | "failed" | "void";

/** What a message cost and where its payment stands. */
export interface MessageCharge {
  receiptId: string | null;
  status: ChargeStatus;
  /** Payment-token base units, decimal: the most this message could cost. */
  maxTotal: string;
  /** What it costs once the answer is complete (datasets that were not used cost 0). */
  total: string | null;
  txHash: string | null;
  failureReason: string | null;
  /** Why the message costs what it costs (set once the charge is fixed). */
  note?: string | null;
}

export interface ChatMessageMetadata {
  createdAt?: number;
  charge?: MessageCharge;
  /** complete | stopped (the user stopped the answer: charged for what was delivered, see `charge.note`) */
  answerStatus?: "complete" | "stopped";
  retrieval?: "bm25" | "hybrid";
  /** The tokens the answer's charge counted (set with the final charge). */
  usage?: { inputTokens: number; outputTokens: number };
  model?: string;
}

export type ChatDataTypes = {
  sources: { sources: SourceRef[] };
};

export type ChatUIMessage = UIMessage<ChatMessageMetadata, ChatDataTypes>;

/** One slot of an app's charge set: the app, its model and each dataset at their on-chain prices. */
export interface ChargeSlot {
  role: "app" | "model" | "dataset";
  listingId: string;
  name: string;
  slot: string;
  /** The most this slot may be charged for one query (base units, decimal): what the payer signs. */
  price: string;
  /** A model's prices in base units (decimal): per query, per 1,000 input and output tokens. */
  pricing?: { perQuery: string; perKInput: string; perKOutput: string };
}

export interface ChargeSet {
  appId: string;
  chainId: number;
  settlement: string;
  /** The account spending sessions must name: the server settles with it. */
  operator: string;
  slots: ChargeSlot[];
  /** Sum of prices: the most one message costs. */
  maxTotal: string;
  free: boolean;
}

/** Error codes the chat route answers with, beyond lib/errors' generic ones, so the page can offer a way forward. */
export type ChatErrorReason =
  | "sign_in"
  | "session_required"
  | "session_unknown"
  | "session_expired"
  | "bad_signature"
  | "wrong_payer"
  | "charges_changed"
  | "over_cap"
  | "expired"
  | "nonce_used"
  | "session_revoked"
  | "wrong_operator"
  | "balance_too_low"
  | "chain_unavailable"
  | "model_unavailable"
  /** A recent probe found the app's model down: the question was refused before anything was stored. */
  | "model_down"
  | "rate_limited"
  | "app_unavailable"
  /** A smart wallet's session takes one question at a time until its first settlement proves it. */
  | "session_confirming";
