// The built-in text embedder: feature hashing of word unigrams and bigrams into a fixed-size vector
// (log-scaled term frequency, L2-normalised). It needs no model weights and runs anywhere, which makes
// it the honest offline default: lexical similarity, not semantic understanding. Datasets record the
// embedder they were indexed with, so queries are always embedded the same way.

export const HASHING_EMBEDDER = "hashing-bow-512@1";
const DIMENSIONS = 512;

const STOPWORDS = new Set(
  ("a an and are as at be been but by for from had has have he her his i if in into is it its of on or " +
    "our she so than that the their them then there these they this those to was we were what when where " +
    "which who will with you your not no can do does did").split(" "),
);

export function tokenize(text: string): string[] {
  return (text.toLowerCase().normalize("NFKD").match(/[\p{L}\p{N}]+/gu) ?? []).filter(
    (word) => word.length > 1 && !STOPWORDS.has(word),
  );
}

/** 32-bit FNV-1a. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function stem(word: string): string {
  // A light suffix strip so "battles" matches "battle" and "fighting" matches "fight".
  return word.replace(/(ing|ed|es|s)$/u, "") || word;
}

export function embed(text: string): Float32Array {
  const vector = new Float32Array(DIMENSIONS);
  const words = tokenize(text).map(stem);
  const counts = new Map<string, number>();
  words.forEach((word, i) => {
    counts.set(word, (counts.get(word) ?? 0) + 1);
    if (i > 0) counts.set(`${words[i - 1]} ${word}`, (counts.get(`${words[i - 1]} ${word}`) ?? 0) + 0.5);
  });
  for (const [feature, count] of counts) {
    const hash = fnv1a(feature);
    const sign = hash & 0x80000000 ? -1 : 1; // signed hashing keeps collisions unbiased
    vector[hash % DIMENSIONS] += sign * (1 + Math.log(count));
  }
  let norm = 0;
  for (const value of vector) norm += value * value;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < DIMENSIONS; i++) vector[i] /= norm;
  return vector;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`embedding sizes differ: ${a.length} vs ${b.length}`);
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot;
}

/** Serialise for the database (little-endian float32). */
export function embeddingToBytes(vector: Float32Array): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  vector.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return bytes;
}

export function embeddingFromBytes(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new Error("embedding bytes must be a multiple of 4");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vector = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < vector.length; i++) vector[i] = view.getFloat32(i * 4, true);
  return vector;
}
