// An in-memory BM25 (Okapi) inverted index. Postings are typed arrays, scoring is term-at-a-time into
// one score array, and the top k are selected from the touched documents only, so a query over 100,000
// chunks costs what its terms' posting lists cost, not what the corpus costs.
import { indexTerms } from "./terms";

export interface Bm25Options {
  k1?: number;
  b?: number;
}

export interface Bm25Hit {
  /** Position of the document in the array the index was built from. */
  index: number;
  score: number;
}

/** Name recorded on datasets whose chunks are retrieved by this index (Dataset.embedder). */
export const BM25_RETRIEVER = "bm25@1";

interface Posting {
  docs: Int32Array;
  freqs: Uint16Array;
}

export class Bm25Index {
  readonly size: number;
  private readonly postings = new Map<string, Posting>();
  private readonly lengths: Float32Array;
  private readonly averageLength: number;
  private readonly k1: number;
  private readonly b: number;

  constructor(texts: readonly string[], { k1 = 1.2, b = 0.75 }: Bm25Options = {}) {
    this.k1 = k1;
    this.b = b;
    this.size = texts.length;
    this.lengths = new Float32Array(texts.length);
    const building = new Map<string, { docs: number[]; freqs: number[] }>();
    let total = 0;
    texts.forEach((text, doc) => {
      const terms = indexTerms(text);
      this.lengths[doc] = terms.length;
      total += terms.length;
      // Documents are added in order, so a term's current document is always the last of its postings.
      for (const term of terms) {
        let list = building.get(term);
        if (!list) building.set(term, (list = { docs: [], freqs: [] }));
        const last = list.docs.length - 1;
        if (last >= 0 && list.docs[last] === doc) {
          if (list.freqs[last] < 0xffff) list.freqs[last]++;
        } else {
          list.docs.push(doc);
          list.freqs.push(1);
        }
      }
    });
    this.averageLength = texts.length ? total / texts.length || 1 : 1;
    for (const [term, list] of building) {
      this.postings.set(term, { docs: Int32Array.from(list.docs), freqs: Uint16Array.from(list.freqs) });
    }
  }

  /** Documents matching any query term, best first (ties: lower index first). */
  search(query: string, k: number): Bm25Hit[] {
    if (k <= 0 || this.size === 0) return [];
    const terms = [...new Set(indexTerms(query))];
    const scores = new Float32Array(this.size);
    const touched: number[] = [];
    const { k1, b } = this;
    for (const term of terms) {
      const posting = this.postings.get(term);
      if (!posting) continue;
      const df = posting.docs.length;
      const idf = Math.log(1 + (this.size - df + 0.5) / (df + 0.5));
      for (let i = 0; i < df; i++) {
        const doc = posting.docs[i];
        const tf = posting.freqs[i];
        const norm = tf + k1 * (1 - b + (b * this.lengths[doc]) / this.averageLength);
        if (scores[doc] === 0) touched.push(doc);
        scores[doc] += (idf * tf * (k1 + 1)) / norm;
      }
    }
    return topK(touched, scores, k);
  }
}

/** The k highest-scoring of `candidates`, via a small sorted buffer (k is small: top-k retrieval). */
function topK(candidates: number[], scores: Float32Array, k: number): Bm25Hit[] {
  const best: Bm25Hit[] = [];
  for (const index of candidates) {
    const score = scores[index];
    if (best.length === k && score <= best[k - 1].score) continue;
    let position = best.length;
    while (position > 0 && (best[position - 1].score < score || (best[position - 1].score === score && best[position - 1].index > index))) {
      position--;
    }
    best.splice(position, 0, { index, score });
    if (best.length > k) best.pop();
  }
  return best;
}
