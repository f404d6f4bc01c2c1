// Per-query records: what each settled query paid, packed into the settlement's calldata so anyone can
// read every query from the chain alone (docs/settlement-format.md). The contract credits exactly their sum.
import { bytesToHex, concatHex, encodeAbiParameters, hexToBytes, numberToHex, toHex, type Hex } from "viem";
import { LIMITS } from "./eip712";
import { viemKeccak256, type Keccak256 } from "./keccak";

export interface QueryRecord {
  /** The app's slot. */
  app: bigint;
  /** The slots this query charged, each with its amount (0 allowed), e.g. app, model and the datasets in context. */
  charges: { slot: bigint; amount: bigint }[];
  tokensIn: number;
  tokensOut: number;
  /** `recordHash` of the question, the answer and the passages the model was given. */
  recordHash: Hex;
}

/** Bytes of a record before its charges: app 1, tokensIn 3, tokensOut 3, recordHash 32, count 1. */
const HEAD_BYTES = 40;
/** One charge: the slot's index in the batch's slot table (1) and the amount (8). */
const CHARGE_BYTES = 9;

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
export function recordHash(
  content: {
    id: string;
    question: string;
    answer: string;
    passages: readonly string[];
    datasetVersions?: readonly DatasetVersionRef[];
  },
  keccak: Keccak256 = viemKeccak256,
): Hex {
  const head = [{ type: "string" }, { type: "string" }, { type: "string" }, { type: "string[]" }] as const;
  const values = [content.id, content.question, content.answer, [...content.passages]] as const;
  const encoded = !content.datasetVersions?.length
    ? encodeAbiParameters(head, values)
    : encodeAbiParameters(
        [...head, { type: "tuple[]", components: [{ name: "dataset", type: "string" }, { name: "version", type: "uint32" }] }],
        [...values, content.datasetVersions.map((v) => ({ dataset: v.dataset, version: v.version }))],
      );
  return bytesToHex(keccak(hexToBytes(encoded)));
}

function indexOf(table: readonly bigint[], slot: bigint): number {
  const i = table.indexOf(slot);
  if (i < 0) throw new RangeError(`slot ${slot} is not in the batch's slot table`);
  return i;
}

/**
 * Packs records against the batch's slot table (`table[i]` is entry i): per record `app:1 tokensIn:3
 * tokensOut:3 recordHash:32 count:1 (index:1 amount:8) * count`, charges in ascending table order. Throws
 * on anything the contract would refuse.
 */
export function packRecords(table: readonly bigint[], records: readonly QueryRecord[]): Hex {
  if (table.length > LIMITS.batchSlots) throw new RangeError(`a batch names at most ${LIMITS.batchSlots} slots`);
  const parts: Hex[] = [];
  for (const record of records) {
    const amounts = new Map<number, bigint>();
    for (const { slot, amount } of record.charges) {
      const i = indexOf(table, slot);
      if (amounts.has(i)) throw new RangeError(`slot ${slot} is charged twice in one record`);
      if (amount < 0n || amount > LIMITS.amount) throw new RangeError("a record amount must fit uint64");
      amounts.set(i, amount);
    }
    if (amounts.size > LIMITS.recordCharges) throw new RangeError(`a record charges at most ${LIMITS.recordCharges} slots`);
    for (const tokens of [record.tokensIn, record.tokensOut]) {
      if (!Number.isSafeInteger(tokens) || tokens < 0 || BigInt(tokens) > LIMITS.tokens) throw new RangeError("token counts must fit uint24");
    }
    if (!/^0x[0-9a-fA-F]{64}$/.test(record.recordHash)) throw new RangeError("a record hash is 32 bytes");
    const order = [...amounts.keys()].sort((a, b) => a - b);
    parts.push(
      numberToHex(indexOf(table, record.app), { size: 1 }),
      numberToHex(record.tokensIn, { size: 3 }),
      numberToHex(record.tokensOut, { size: 3 }),
      record.recordHash,
      numberToHex(order.length, { size: 1 }),
      ...order.flatMap((i) => [numberToHex(i, { size: 1 }), numberToHex(amounts.get(i)!, { size: 8 })]),
    );
  }
  return parts.length ? concatHex(parts) : "0x";
}

/** Reads packed records back against the batch's slot table (the browser's on-chain check, dashboards). Throws on malformed bytes. */
export function unpackRecords(table: readonly bigint[], data: Hex): QueryRecord[] {
  const bytes = hexToBytes(data);
  const records: QueryRecord[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entry = (i: number) => {
    if (i >= table.length) throw new RangeError("a record names an entry past the slot table");
    return table[i];
  };
  let at = 0;
  while (at < bytes.length) {
    if (at + HEAD_BYTES > bytes.length) throw new RangeError("truncated record");
    const app = entry(bytes[at]);
    const tokensIn = (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
    const tokensOut = (bytes[at + 4] << 16) | (bytes[at + 5] << 8) | bytes[at + 6];
    const hash = toHex(bytes.slice(at + 7, at + 39));
    const count = bytes[at + 39];
    at += HEAD_BYTES;
    if (at + count * CHARGE_BYTES > bytes.length) throw new RangeError("truncated record charges");
    const charges: QueryRecord["charges"] = [];
    for (let c = 0; c < count; c++, at += CHARGE_BYTES) charges.push({ slot: entry(bytes[at]), amount: view.getBigUint64(at + 1) });
    records.push({ app, charges, tokensIn, tokensOut, recordHash: hash });
  }
  return records;
}
