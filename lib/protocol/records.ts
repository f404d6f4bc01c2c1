// Per-query records: what each settled query paid, packed into the settlement's calldata so anyone can
// read every query from the chain alone (docs/settlement-format.md). The contract credits exactly their sum.
import { concatHex, encodeAbiParameters, hexToBytes, keccak256, numberToHex, toHex, type Hex } from "viem";
import { LIMITS } from "./eip712";

export interface QueryRecord {
  /** The app's slot (one of the voucher's slots). */
  app: bigint;
  /** The slots this query charged, each with its amount (0 allowed), e.g. app, model and the datasets in context. */
  charges: { slot: bigint; amount: bigint }[];
  tokensIn: number;
  tokensOut: number;
  /** `recordHash` of the question, the answer and the passages the model was given. */
  recordHash: Hex;
}

/** Bytes of a record before its amounts: app 1, mask 4, tokensIn 4, tokensOut 4, recordHash 32. */
const HEAD_BYTES = 45;
const AMOUNT_BYTES = 8;

/** A dataset version a query's passages came from: the dataset's listing id and its version number. */
export interface DatasetVersionRef {
  dataset: string;
  version: number;
}

/** The dataset versions of a query's passages: one per dataset, sorted by dataset id (what the record binds). */
export function datasetVersionsOf(passages: readonly { datasetId: string; datasetVersion?: number }[]): DatasetVersionRef[] {
  const versions = new Map<string, number>();
  for (const p of passages) if (p.datasetVersion !== undefined) versions.set(p.datasetId, p.datasetVersion);
  return [...versions.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([dataset, version]) => ({ dataset, version }));
}

/**
 * What binds a settled query to its content: the answer's message id (so two identical questions and
 * answers are still two records), the question, the answer, the ids of the passages the model was
 * given and the dataset versions they came from (datasetVersionsOf). The browser recomputes it from what
 * it showed the user. A query without dataset versions (no passages, or answered before datasets had
 * versions) hashes the first four alone, so records settled before versions existed still check.
 */
export function recordHash(content: {
  id: string;
  question: string;
  answer: string;
  passages: readonly string[];
  datasetVersions?: readonly DatasetVersionRef[];
}): Hex {
  const head = [{ type: "string" }, { type: "string" }, { type: "string" }, { type: "string[]" }] as const;
  const values = [content.id, content.question, content.answer, [...content.passages]] as const;
  if (!content.datasetVersions?.length) return keccak256(encodeAbiParameters(head, values));
  return keccak256(
    encodeAbiParameters(
      [...head, { type: "tuple[]", components: [{ name: "dataset", type: "string" }, { name: "version", type: "uint32" }] }],
      [...values, content.datasetVersions.map((v) => ({ dataset: v.dataset, version: v.version }))],
    ),
  );
}

function indexOf(slots: readonly bigint[], slot: bigint): number {
  const i = slots.indexOf(slot);
  if (i < 0) throw new RangeError(`slot ${slot} is not in the voucher`);
  return i;
}

/** Packs records against the voucher's slot list. Throws on anything the contract would refuse. */
export function packRecords(slots: readonly bigint[], records: readonly QueryRecord[]): Hex {
  const parts: Hex[] = [];
  for (const record of records) {
    const amounts = new Map<number, bigint>();
    for (const { slot, amount } of record.charges) {
      const i = indexOf(slots, slot);
      if (amounts.has(i)) throw new RangeError(`slot ${slot} is charged twice in one record`);
      if (amount < 0n || amount > LIMITS.amount) throw new RangeError("a record amount must fit uint64");
      amounts.set(i, amount);
    }
    for (const tokens of [record.tokensIn, record.tokensOut]) {
      if (!Number.isSafeInteger(tokens) || tokens < 0 || BigInt(tokens) > LIMITS.tokens) throw new RangeError("token counts must fit uint32");
    }
    if (hexToBytes(record.recordHash).length !== 32) throw new RangeError("a record hash is 32 bytes");
    const order = [...amounts.keys()].sort((a, b) => a - b);
    const mask = order.reduce((m, i) => m | (1 << i), 0) >>> 0;
    parts.push(
      numberToHex(indexOf(slots, record.app), { size: 1 }),
      numberToHex(mask, { size: 4 }),
      numberToHex(record.tokensIn, { size: 4 }),
      numberToHex(record.tokensOut, { size: 4 }),
      record.recordHash,
      ...order.map((i) => numberToHex(amounts.get(i)!, { size: AMOUNT_BYTES })),
    );
  }
  return parts.length ? concatHex(parts) : "0x";
}

/** Reads packed records back (the browser's on-chain check, dashboards). Throws on malformed bytes. */
export function unpackRecords(slots: readonly bigint[], data: Hex): QueryRecord[] {
  const bytes = hexToBytes(data);
  const records: QueryRecord[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (at + HEAD_BYTES > bytes.length) throw new RangeError("truncated record");
    const app = bytes[at];
    const mask = view.getUint32(at + 1);
    const tokensIn = view.getUint32(at + 5);
    const tokensOut = view.getUint32(at + 9);
    const hash = toHex(bytes.slice(at + 13, at + 45));
    at += HEAD_BYTES;
    if (app >= slots.length) throw new RangeError("record app index out of range");
    const charges: QueryRecord["charges"] = [];
    for (let i = 0; i < 32; i++) {
      if (!((mask >>> i) & 1)) continue;
      if (i >= slots.length) throw new RangeError("record mask past the slot list");
      if (at + AMOUNT_BYTES > bytes.length) throw new RangeError("truncated record amounts");
      charges.push({ slot: slots[i], amount: view.getBigUint64(at) });
      at += AMOUNT_BYTES;
    }
    records.push({ app: slots[app], charges, tokensIn, tokensOut, recordHash: hash });
  }
  return records;
}
