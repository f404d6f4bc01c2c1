// An in-memory BM25 (Okapi) inverted index. Postings are typed arrays, scoring is term-at-a-time into
// one score array, and the top k are selected from the touched documents only, so a query over 100,000
// chunks costs what its terms' posting lists cost, not what the corpus costs.
//
// Each document is stemmed in its own language (lib/rag/terms.ts); a query is stemmed in every language
// the index holds, so "serveurs" finds a French passage and "servers" an English one.
//
// Proximity: when the query has two or more terms, the best candidates by BM25 are re-scored with a
// bonus for each pair of consecutive query terms that also stand next to each other (or with one word
// between) in the passage, in the query's order. Only the candidates are re-read, from each passage's
// term sequence kept at build time (term numbers, 4 bytes a term), so the bonus costs a few dozen short
// integer scans per query whatever the corpus size.
//
// Definitions: a passage whose own heading opens with a compound name (a configuration entry headed
// "checkpoint_timeout (integer)") is that name's definition; a query holding the name whole adds one full
// match of it to the passage (DEFINITION_WEIGHT), so the entry that says what a setting is comes before a
// page that mentions it often.
//
// Shared statistics: an app searches several datasets, one index each. Scores compare across them only if
// every index scores with the same statistics (N, each term's document frequency, the average length), so
// each index can score with those of all of them together (sharedStats): the ranking is the one a single
// index over all the datasets' passages would give.
import { analyze, indexTerms, LANGUAGES, type AnalyzedText, type Language } from "./terms";

/** A passage to index: its body, and optionally its heading (the document's title and section path). */
export interface IndexedText {
  text: string;
  heading?: string;
  /**
   * The passage's own heading (the innermost: a definition list's term, "checkpoint_timeout (integer)").
   * When it opens with a compound name (an identifier: checkpoint_timeout, pg_isready), the passage is
   * that name's definition, and a query that names it finds it first (DEFINITION_WEIGHT).
   */
  ownHeading?: string;
}

export interface Bm25Options {
  k1?: number;
  b?: number;
  /**
   * Weight of the heading field against the body: a term's heading match is saturated on its own and
   * added to its body match times this weight, so a passage under "checkpoint_timeout (integer)" is
   * about checkpoint_timeout more surely than one that mentions it twice.
   */
  headingWeight?: number;
  /** Length normalization of the heading field (b of the heading). */
  headingB?: number;
  /** Passages shorter than this share of the average length are normalized as if this long (MIN_LENGTH_SHARE). */
  minLengthShare?: number;
  /** Weight of a query term that is a part of an identifier the corpus holds whole (PART_WEIGHT). */
  partWeight?: number;
  /** Weight of the proximity bonus relative to a term's BM25 weight; 0 turns it off. */
  proximity?: number;
}

/** Candidates re-scored with the proximity bonus: at least this many, or 2k. */
export const PROXIMITY_CANDIDATES = 20;

export interface Bm25Hit {
  /** Position of the document in the array the index was built from. */
  index: number;
  score: number;
}

/** Name recorded on datasets whose chunks are retrieved by this index (Dataset.embedder). */
export const BM25_RETRIEVER = "bm25@1";

/** Corpus statistics a search scores with: one index's own, or those of several searched as one. */
export interface CorpusStats {
  size: number;
  averageLength: number;
  averageHeadingLength: number;
  documentFrequency(term: string): number;
}

/** A pair of consecutive query terms, by term number, and its weight (their mean idf). */
interface Pair {
  first: number;
  second: number;
  weight: number;
}

interface Posting {
  /** The term's number in the documents' term sequences. */
  id: number;
  docs: Int32Array;
  /** Occurrences in the body. */
  freqs: Uint16Array;
  /** Occurrences in the heading. */
  headingFreqs: Uint16Array;
}

/**
 * What defining a name the query asks for adds to a passage: this many full matches of the name (its idf
 * times k1 + 1, the most one field's match of it can add). A page that discusses checkpoint_timeout at
 * length mentions it more often than the one entry that says what it is; the entry is the answer.
 */
export const DEFINITION_WEIGHT = 1;

/** Default weight of the heading field against the body. */
export const HEADING_WEIGHT = 1;

/** Weight of a query term that is a part of an identifier the corpus holds whole. */
export const PART_WEIGHT = 0.3;

/**
 * A passage shorter than this share of the average length is normalized as if it were this long: a
 * one-line passage ("EXEC SQL SET CONNECTION TO con2;") is not more about a word than a paragraph that
 * explains it, however few other words it has.
 */
export const MIN_LENGTH_SHARE = 0.5;

/**
 * Passages gathered into postings one at a time, in the order they are added (a passage's number in the
 * index is its place in that order). An index is built from all of them at once (new Bm25Index(texts)),
 * or from a builder that was fed as the passages were made: ingestion adds each group of a dataset's
 * chunks while the group is being written, so the dataset's index is ready when its last group is stored.
 */
export class Bm25Builder {
  private readonly terms = new Map<string, { id: number; docs: number[]; freqs: number[]; headingFreqs: number[] }>();
  private readonly sequence: number[] = [];
  private readonly offsets: number[] = [0];
  private readonly lengths: number[] = [];
  private readonly headingLengths: number[] = [];
  private readonly languageOf: number[] = [];
  private readonly perLanguage = new Array<number>(LANGUAGES.length).fill(0);
  private built = false;
  /** Passages by the compound name they define (see IndexedText.ownHeading), in order. */
  private readonly definitions = new Map<string, number[]>();
  /**
   * A heading's terms, and the name an own heading defines. A section's passages come one after another
   * and share its headings (title, section path and lead), so the last result is kept: about a fifth of
   * what indexing analyzes.
   */
  private readonly headingTerms = keepingLast((heading: string, language: Language): readonly string[] => indexTerms(heading, language));
  private readonly definedName = keepingLast(definedName);

  /** Passages added so far. */
  get size(): number {
    return this.lengths.length;
  }

  add(document: string | IndexedText): void {
    if (this.built) throw new Error("this builder's index is already built");
    const doc = this.lengths.length;
    const text = typeof document === "string" ? document : document.text;
    const { language, terms } = analyze(text);
    const languageIndex = LANGUAGES.indexOf(language);
    this.languageOf.push(languageIndex);
    this.perLanguage[languageIndex]++;
    const heading = typeof document === "string" || !document.heading ? [] : this.headingTerms(document.heading, language);
    this.lengths.push(terms.length);
    this.headingLengths.push(heading.length);
    for (const term of terms) this.addTerm(term, doc, false);
    for (const term of heading) this.addTerm(term, doc, true);
    this.offsets.push(this.sequence.length);
    const defined = typeof document === "string" || !document.ownHeading ? null : this.definedName(document.ownHeading, language);
    if (defined !== null) {
      const docs = this.definitions.get(defined);
      if (docs) docs.push(doc);
      else this.definitions.set(defined, [doc]);
    }
  }

  private addTerm(term: string, doc: number, heading: boolean): void {
    let list = this.terms.get(term);
    if (!list) this.terms.set(term, (list = { id: this.terms.size, docs: [], freqs: [], headingFreqs: [] }));
    if (!heading) this.sequence.push(list.id);
    // Documents are added in order, so a term's current document is always the last of its postings.
    let last = list.docs.length - 1;
    if (last < 0 || list.docs[last] !== doc) {
      list.docs.push(doc);
      list.freqs.push(0);
      list.headingFreqs.push(0);
      last++;
    }
    if (heading) list.headingFreqs[last] = Math.min(0xffff, list.headingFreqs[last] + 1);
    else list.freqs[last] = Math.min(0xffff, list.freqs[last] + 1);
  }

  /** The postings as typed arrays, once: a builder makes one index. */
  finish(): BuiltPostings {
    if (this.built) throw new Error("this builder's index is already built");
    this.built = true;
    const postings = new Map<string, Posting>();
    for (const [term, list] of this.terms) {
      postings.set(term, { id: list.id, docs: Int32Array.from(list.docs), freqs: Uint16Array.from(list.freqs), headingFreqs: Uint16Array.from(list.headingFreqs) });
    }
    const { perLanguage } = this;
    const languages = LANGUAGES.filter((_, i) => perLanguage[i] > 0).sort((x, y) => perLanguage[LANGUAGES.indexOf(y)] - perLanguage[LANGUAGES.indexOf(x)]);
    const definitions = new Map<string, Int32Array>();
    for (const [name, docs] of this.definitions) definitions.set(name, Int32Array.from(docs));
    return {
      postings,
      definitions,
      lengths: Float32Array.from(this.lengths),
      headingLengths: Float32Array.from(this.headingLengths),
      sequence: Int32Array.from(this.sequence),
      offsets: Int32Array.from(this.offsets),
      languageOf: Uint8Array.from(this.languageOf),
      languages: languages.length === 0 ? ["en"] : languages,
    };
  }
}

/** `f` keeping its last result, returned again while it is called with the same text and language. */
function keepingLast<T>(f: (text: string, language: Language) => T): (text: string, language: Language) => T {
  let last: { text: string; language: Language; value: T } | null = null;
  return (text, language) => {
    if (last === null || last.text !== text || last.language !== language) last = { text, language, value: f(text, language) };
    return last.value;
  };
}

/**
 * The compound name a heading opens with (its first term, when that is an identifier held whole), else
 * null. Only compounds: a query's compounds are what it is matched against, and a plain word never is one.
 */
function definedName(heading: string, language: Language): string | null {
  const { terms, partOf } = analyze(heading, language);
  // A compound is followed by its parts, each naming it.
  return terms.length > 1 && partOf[0] === null && partOf[1] === terms[0] ? terms[0] : null;
}

interface BuiltPostings {
  postings: Map<string, Posting>;
  definitions: Map<string, Int32Array>;
  lengths: Float32Array;
  headingLengths: Float32Array;
  sequence: Int32Array;
  offsets: Int32Array;
  languageOf: Uint8Array;
  languages: Language[];
}

export class Bm25Index {
  readonly size: number;
  private readonly postings: Map<string, Posting>;
  /** Passages by the compound name they define (IndexedText.ownHeading). */
  private readonly definitions: Map<string, Int32Array>;
  private readonly lengths: Float32Array;
  private readonly headingLengths: Float32Array;
  /** Terms in all documents' bodies together. */
  readonly totalLength: number;
  /** Terms in all documents' headings together. */
  readonly totalHeadingLength: number;
  /** This index's own statistics. */
  readonly stats: CorpusStats;
  private readonly k1: number;
  private readonly b: number;
  private readonly headingWeight: number;
  private readonly headingB: number;
  private readonly minLengthShare: number;
  private readonly partWeight: number;
  private readonly proximity: number;
  /**
   * Each document's body terms in order, as term numbers (document d's are terms[offsets[d] … offsets[d+1]]):
   * the proximity bonus reads its candidates from here instead of analyzing their text again.
   */
  private readonly sequence: Int32Array;
  private readonly offsets: Int32Array;
  /** Each document's language, as an index into LANGUAGES. */
  private readonly languageOf: Uint8Array;
  /** The languages the documents are written in, most documents first. */
  private readonly languages: Language[];
  /**
   * Each document's length normalization, k1 × (1 − b + b × length / average length), for the average
   * length last searched with (body and heading): computed once per set of statistics, not per posting.
   */
  private bodyNorms: { average: number; values: Float64Array } | null = null;
  private headingNorms: { average: number; values: Float64Array } | null = null;

  /** An index of `documents`, or of the passages a builder was given (the builder is used up). */
  constructor(
    documents: readonly (string | IndexedText)[] | Bm25Builder,
    { k1 = 1.2, b = 0.75, proximity = 0.5, headingWeight = HEADING_WEIGHT, headingB = 0.7, minLengthShare = MIN_LENGTH_SHARE, partWeight = PART_WEIGHT }: Bm25Options = {},
  ) {
    this.minLengthShare = minLengthShare;
    this.partWeight = partWeight;
    this.k1 = k1;
    this.b = b;
    this.headingWeight = headingWeight;
    this.headingB = headingB;
    this.proximity = proximity;
    let builder: Bm25Builder;
    if (documents instanceof Bm25Builder) builder = documents;
    else {
      builder = new Bm25Builder();
      for (const document of documents) builder.add(document);
    }
    const built = builder.finish();
    this.postings = built.postings;
    this.definitions = built.definitions;
    this.lengths = built.lengths;
    this.headingLengths = built.headingLengths;
    this.sequence = built.sequence;
    this.offsets = built.offsets;
    this.languageOf = built.languageOf;
    this.languages = built.languages;
    this.size = built.lengths.length;
    let total = 0;
    let totalHeading = 0;
    for (let doc = 0; doc < this.size; doc++) {
      total += built.lengths[doc];
      totalHeading += built.headingLengths[doc];
    }
    this.totalLength = total;
    this.totalHeadingLength = totalHeading;
    this.stats = {
      size: this.size,
      averageLength: this.size ? total / this.size || 1 : 1,
      averageHeadingLength: this.size ? totalHeading / this.size || 1 : 1,
      documentFrequency: (term) => this.documentFrequency(term),
    };
  }

  /** How many documents of this index hold `term`. */
  documentFrequency(term: string): number {
    return this.postings.get(term)?.docs.length ?? 0;
  }

  /**
   * Documents matching any query term, best first (ties: lower index first), scored with `stats`: this
   * index's own, or those of every index searched together (sharedStats). searchIndexes with this index alone.
   */
  search(query: string, k: number, stats: CorpusStats = this.stats): Bm25Hit[] {
    return searchIndexes([this], query, k, stats).map(({ index, score }) => ({ index, score }));
  }

  /**
   * The query scored by BM25 alone against this index, with `stats`: each document's score is added to
   * scores[offset + document], and a document's number (offset + document) goes into `touched` the first
   * time it scores. Returns how much the proximity bonus can add to any document at most, and the bonus
   * itself (see searchIndexes). `analyzed` gives the query's terms in a language (searchIndexes analyzes
   * the query once per language for all its indexes).
   */
  accumulate(
    analyzed: (language: Language) => AnalyzedText,
    stats: CorpusStats,
    scores: Float32Array,
    offset: number,
    touched: number[],
  ): { maxBonus: number; bonus: (doc: number) => number } {
    const none = { maxBonus: 0, bonus: () => 0 };
    if (this.size === 0) return none;
    const idf = (term: string) => {
      const df = stats.documentFrequency(term);
      return df === 0 ? 0 : Math.log(1 + (stats.size - df + 0.5) / (df + 0.5));
    };
    // The query's terms in each language of the index (one list when the index has one language), each
    // with its weight: 1, or PART_WEIGHT for a part of an identifier the corpus holds whole (who asks
    // about "checkpoint_timeout" asks about it, not about every checkpoint and every timeout).
    const queryTerms = new Map<Language, string[]>();
    const terms = new Map<string, number>();
    // The compound names the query holds whole (checkpoint_timeout): a passage that defines one gains.
    const compounds = new Set<string>();
    for (const language of this.languages) {
      const { terms: list, partOf } = analyzed(language);
      queryTerms.set(language, list);
      list.forEach((term, i) => {
        const compound = partOf[i];
        if (compound !== null) compounds.add(compound);
        const weight = compound !== null && stats.documentFrequency(compound) > 0 ? this.partWeight : 1;
        terms.set(term, Math.max(terms.get(term) ?? 0, weight));
      });
    }
    const { k1, headingWeight } = this;
    const bodyNorm = this.bodyNormsFor(stats.averageLength);
    const headingNorm = this.headingNormsFor(stats.averageHeadingLength);
    for (const [term, queryWeight] of terms) {
      const posting = this.postings.get(term);
      if (!posting) continue;
      const { docs, freqs, headingFreqs } = posting;
      const df = docs.length;
      const weight = idf(term) * queryWeight;
      for (let i = 0; i < df; i++) {
        const doc = docs[i];
        const tf = freqs[i];
        const th = headingFreqs[i];
        let score = 0;
        if (tf > 0) score += (tf * (k1 + 1)) / (tf + bodyNorm[doc]);
        if (th > 0) score += (headingWeight * th * (k1 + 1)) / (th + headingNorm[doc]);
        // Every term's weight and every posting's score are above 0, so a document is listed once.
        if (scores[offset + doc] === 0) touched.push(offset + doc);
        scores[offset + doc] += weight * score;
      }
    }
    for (const name of compounds) {
      const docs = this.definitions.get(name);
      if (!docs) continue;
      const bonus = DEFINITION_WEIGHT * idf(name) * (k1 + 1);
      for (const doc of docs) {
        if (scores[offset + doc] === 0) touched.push(offset + doc);
        scores[offset + doc] += bonus;
      }
    }
    if (this.proximity <= 0 || terms.size < 2) return none;
    const pairsOf = new Map<Language, Pair[]>();
    let maxBonus = 0;
    for (const [language, list] of queryTerms) {
      const pairs = this.pairs(list, idf);
      pairsOf.set(language, pairs);
      let bonus = 0;
      for (const { weight } of pairs) bonus += weight * (this.k1 + 1);
      maxBonus = Math.max(maxBonus, this.proximity * bonus);
    }
    const bonus = (doc: number) => this.proximity * this.proximityBonus(pairsOf.get(LANGUAGES[this.languageOf[doc]]) ?? [], doc);
    return { maxBonus, bonus };
  }

  /** k1 × (1 − b + b × max(length, minimum) / average) of every document's body (see bodyNorms). */
  private bodyNormsFor(average: number): Float64Array {
    if (this.bodyNorms?.average !== average) {
      const { k1, b, lengths } = this;
      const minLength = this.minLengthShare * average;
      const values = new Float64Array(this.size);
      for (let doc = 0; doc < this.size; doc++) values[doc] = k1 * (1 - b + (b * Math.max(lengths[doc], minLength)) / average);
      this.bodyNorms = { average, values };
    }
    return this.bodyNorms.values;
  }

  /** k1 × (1 − b + b × length / average) of every document's heading, with the heading's b. */
  private headingNormsFor(average: number): Float64Array {
    if (this.headingNorms?.average !== average) {
      const { k1, headingB, headingLengths } = this;
      const values = new Float64Array(this.size);
      for (let doc = 0; doc < this.size; doc++) values[doc] = k1 * (1 - headingB + (headingB * headingLengths[doc]) / average);
      this.headingNorms = { average, values };
    }
    return this.headingNorms.values;
  }

  /** Consecutive query term pairs that the index holds both terms of, with their numbers and weight. */
  private pairs(queryTerms: readonly string[], idf: (term: string) => number): Pair[] {
    const pairs: Pair[] = [];
    for (let i = 1; i < queryTerms.length; i++) {
      const first = this.postings.get(queryTerms[i - 1]);
      const second = this.postings.get(queryTerms[i]);
      if (queryTerms[i] !== queryTerms[i - 1] && first && second) {
        pairs.push({ first: first.id, second: second.id, weight: (idf(queryTerms[i - 1]) + idf(queryTerms[i])) / 2 });
      }
    }
    return pairs;
  }

  /**
   * Σ over consecutive query term pairs (a, b) of mean idf(a, b) × saturated count of places where b
   * follows a directly (1) or with one word between (½).
   */
  private proximityBonus(pairs: readonly Pair[], doc: number): number {
    if (pairs.length === 0) return 0;
    const { sequence } = this;
    const start = this.offsets[doc];
    const end = this.offsets[doc + 1];
    let bonus = 0;
    for (const { first, second, weight } of pairs) {
      let count = 0;
      for (let p = start; p < end - 1; p++) {
        if (sequence[p] !== first) continue;
        if (sequence[p + 1] === second) count += 1;
        else if (p + 2 < end && sequence[p + 2] === second) count += 0.5;
      }
      if (count > 0) bonus += weight * ((count * (this.k1 + 1)) / (count + this.k1));
    }
    return bonus;
  }
}

/** The statistics of `indexes` taken together: what one index over all their documents would have. */
export function sharedStats(indexes: readonly Bm25Index[]): CorpusStats {
  if (indexes.length === 1) return indexes[0].stats;
  const size = indexes.reduce((n, index) => n + index.size, 0);
  const totalLength = indexes.reduce((n, index) => n + index.totalLength, 0);
  const totalHeadingLength = indexes.reduce((n, index) => n + index.totalHeadingLength, 0);
  return {
    size,
    averageLength: size ? totalLength / size || 1 : 1,
    averageHeadingLength: size ? totalHeadingLength / size || 1 : 1,
    documentFrequency: (term) => indexes.reduce((n, index) => n + index.documentFrequency(term), 0),
  };
}

/** A document ranked across several indexes: which index (`part`), its number in that index, and its score. */
export interface PartHit extends Bm25Hit {
  part: number;
}

/**
 * The k best documents of several indexes for `query`, scored with `stats` (by default the indexes'
 * statistics together, so the ranking is the one a single index over all their documents gives): best
 * first; ties go to the lower part, then the lower index.
 *
 * Proximity: when the query has two or more terms, the best max(2k, PROXIMITY_CANDIDATES) candidates by
 * BM25, over all the indexes together, are re-scored with the bonus (Bm25Index.proximityBonus), each in its
 * own index; a candidate whose score plus the largest bonus possible stays below the k-th score cannot
 * enter the top k (bonuses only raise scores) and is not re-read.
 */
export function searchIndexes(indexes: readonly Bm25Index[], query: string, k: number, stats: CorpusStats = sharedStats(indexes)): PartHit[] {
  if (k <= 0) return [];
  const candidates = Math.max(2 * k, PROXIMITY_CANDIDATES);
  const analyses = new Map<Language, AnalyzedText>();
  const analyzed = (language: Language) => {
    let analysis = analyses.get(language);
    if (!analysis) analyses.set(language, (analysis = analyze(query, language)));
    return analysis;
  };
  // The indexes' documents numbered one after another (index i's start at offsets[i]), scored into one
  // buffer, so the best candidates are selected once over all of them.
  const offsets: number[] = [];
  let total = 0;
  for (const index of indexes) {
    offsets.push(total);
    total += index.size;
  }
  const scores = new Float32Array(total);
  const touched: number[] = [];
  const scored = indexes.map((index, part) => index.accumulate(analyzed, stats, scores, offsets[part], touched));
  // topK orders ties by number, which is by part, then by index within it.
  const all = topK(touched, scores, candidates).map(({ index: number, score }): PartHit => {
    let part = 0;
    while (number >= offsets[part] + indexes[part].size) part++;
    return { part, index: number - offsets[part], score };
  });
  if (scored.every((s) => s.maxBonus === 0)) return all.slice(0, k);
  const byRank = (x: PartHit, y: PartHit) => y.score - x.score || x.part - y.part || x.index - y.index;
  const floor = all.length > k ? all[k - 1].score : -Infinity;
  const kept: PartHit[] = [];
  for (const hit of all) {
    const { maxBonus, bonus } = scored[hit.part];
    if (hit.score + maxBonus < floor) continue;
    kept.push({ ...hit, score: hit.score + bonus(hit.index) });
  }
  return kept.sort(byRank).slice(0, k);
}

/**
 * The k best of `candidates` (distinct document numbers), best first: by score, ties by lower index, so
 * which documents are kept does not depend on the order they were touched in. The k-th best score is
 * found by selection (quickselect over a copy of the candidates' scores, O(n) on average); the candidates
 * above it, and as many of those equal to it as fit (lowest index first), are then sorted: O(n + k log k).
 * A heap of the k best took twice as long on the chat benchmark's queries, which touch nearly every passage.
 * topKReference sorts every candidate; a test holds the two to the same results.
 */
export function topK(candidates: readonly number[], scores: Float32Array, k: number): Bm25Hit[] {
  const n = candidates.length;
  if (k <= 0 || n === 0) return [];
  const byRank = (x: Bm25Hit, y: Bm25Hit) => y.score - x.score || x.index - y.index;
  if (n <= k) return candidates.map((index) => ({ index, score: scores[index] })).sort(byRank);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = scores[candidates[i]];
  const threshold = kthLargest(values, k - 1);
  const best: Bm25Hit[] = [];
  const tied: number[] = [];
  for (let i = 0; i < n; i++) {
    const index = candidates[i];
    const score = scores[index];
    if (score > threshold) best.push({ index, score });
    else if (score === threshold) tied.push(index);
  }
  tied.sort((a, b) => a - b);
  for (let i = 0; best.length < k; i++) best.push({ index: tied[i], score: threshold });
  return best.sort(byRank);
}

/**
 * The value that would be at `rank` (0: the largest) if `values` were sorted from largest down; reorders
 * `values`. Hoare's selection with the middle of three as pivot; past 64 rounds (adversarial input), the
 * range left is sorted instead, so it never takes quadratic time.
 */
function kthLargest(values: Float32Array, rank: number): number {
  let lo = 0;
  let hi = values.length - 1;
  for (let round = 0; lo < hi; round++) {
    if (round === 64) {
      const rest = values.subarray(lo, hi + 1).sort().reverse();
      return rest[rank - lo];
    }
    const a = values[lo];
    const b = values[(lo + hi) >> 1];
    const c = values[hi];
    const pivot = a > b ? (b > c ? b : a > c ? c : a) : a > c ? a : b > c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] > pivot) i++;
      while (values[j] < pivot) j--;
      if (i <= j) {
        const swap = values[i];
        values[i] = values[j];
        values[j] = swap;
        i++;
        j--;
      }
    }
    // Now values[lo..j] >= pivot, values[i..hi] <= pivot, and anything between equals it.
    if (rank <= j) hi = j;
    else if (rank >= i) lo = i;
    else return pivot;
  }
  return values[rank];
}

/** topK by sorting every candidate: the plain reference topK is tested against. */
export function topKReference(candidates: readonly number[], scores: Float32Array, k: number): Bm25Hit[] {
  if (k <= 0) return [];
  return candidates
    .map((index) => ({ index, score: scores[index] }))
    .sort((x, y) => y.score - x.score || x.index - y.index)
    .slice(0, k);
}
