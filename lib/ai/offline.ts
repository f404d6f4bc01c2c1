// The built-in offline model: no weights, no network. It answers extractively: it scores the sentences
// of all the retrieved sources against the question and quotes the whole sentences that best answer it,
// each with its citation [n]. It never invents text beyond its sources, and when they hold no answer it
// says so instead of quoting filler.
//
// How a sentence is scored: the question's terms (lib/rag/terms.ts, stemmed in the sources' language)
// are weighted by how rare they are among the sentences in context (idf), and a sentence scores the
// share of that weight it covers. A sentence also inherits, at a lower weight, the terms of the label it
// stands under: a line without an end mark such as a setting's name ("random_page_cost (floating
// point)") or a heading. So "The default is 4.0." under "random_page_cost" answers "What is the default
// random_page_cost?", and is quoted after its label. A label alone is never quoted.
import { analyze, detectLanguage, type Language } from "@/lib/rag/terms";

export const OFFLINE_MODEL_NAME = "kip-offline-extractive-1";

export const NO_ANSWER = "I could not find anything in this app's sources that answers that question.";

/** Share of the question's weight a quoted sentence must cover. */
export const MIN_COVERAGE = 0.2;
/** Further sentences are quoted only if they score at least this share of the best one. */
export const RELATIVE_THRESHOLD = 0.6;
/** Weight of a term that a sentence only inherits from its label. */
const LABEL_WEIGHT = 0.7;

export interface OfflineSource {
  /** 1-based citation number. */
  index: number;
  text: string;
}

interface Unit {
  source: number;
  sentence: string;
  /** The label the sentence stands under, quoted before it when the score relies on it. */
  label: string | null;
  terms: Set<string>;
  labelTerms: Set<string>;
  order: number;
}

const END_MARK = /[.!?。！？…]["'”’)\]]*$/u;

/** A line that names something rather than says something: no end mark, and short. */
function isLabel(line: string): boolean {
  return !END_MARK.test(line) && line.split(/\s+/).length <= 12;
}

/**
 * Paragraphs of a passage: lines joined where the source only wrapped them (a line without an end mark
 * followed by one starting in lower case), so a sentence broken across lines is one sentence again.
 */
function paragraphs(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\n+/)) {
    const line = raw.replace(/\s+/g, " ").trim();
    if (!line) continue;
    const previous = out.at(-1);
    if (previous !== undefined && !END_MARK.test(previous) && !/[:;]$/.test(previous) && /^\p{Ll}/u.test(line) && !isLabel(line)) {
      out[out.length - 1] = `${previous} ${line}`;
    } else out.push(line);
  }
  return out;
}

const segmenters = new Map<string, Intl.Segmenter>();

function sentencesOf(paragraph: string, language: Language): string[] {
  let segmenter = segmenters.get(language);
  if (!segmenter) segmenters.set(language, (segmenter = new Intl.Segmenter(language, { granularity: "sentence" })));
  const out: string[] = [];
  for (const { segment } of segmenter.segment(paragraph)) {
    const sentence = segment.trim();
    if (sentence) out.push(sentence);
  }
  return out;
}

/** Compose an answer from the best-answering sentences of the sources, citing each as [n]. */
export function answerExtractively(question: string, sources: OfflineSource[], maxSentences = 3): string {
  if (sources.length === 0) return NO_ANSWER;
  // One language for the question and every sentence, so their stems meet.
  const language = detectLanguage(sources.map((s) => s.text).join("\n").slice(0, 4000));
  const questionTerms = new Set(analyze(question, language).terms);
  if (questionTerms.size === 0) return NO_ANSWER;

  const units: Unit[] = [];
  const seen = new Set<string>();
  for (const source of sources) {
    let label: { text: string; terms: Set<string> } | null = null;
    for (const paragraph of paragraphs(source.text)) {
      if (isLabel(paragraph)) {
        label = { text: paragraph, terms: new Set(analyze(paragraph, language).terms) };
        continue;
      }
      for (const sentence of sentencesOf(paragraph, language)) {
        // Overlapping passages repeat sentences: quote each once, from the first source that has it.
        const key = sentence.toLowerCase();
        if (seen.has(key)) continue;
        seen.add(key);
        units.push({
          source: source.index,
          sentence,
          label: label?.text ?? null,
          terms: new Set(analyze(sentence, language).terms),
          labelTerms: label?.terms ?? new Set(),
          order: units.length,
        });
      }
    }
  }

  // idf of each question term among the sentences in context: a term every sentence has tells little.
  const weight = new Map<string, number>();
  for (const term of questionTerms) {
    const df = units.filter((u) => u.terms.has(term) || u.labelTerms.has(term)).length;
    weight.set(term, Math.log(1 + (units.length + 1) / (df + 0.5)));
  }
  const total = [...weight.values()].reduce((a, b) => a + b, 0);

  const scored = units
    .map((unit) => {
      let own = 0;
      let inherited = 0;
      for (const [term, w] of weight) {
        if (unit.terms.has(term)) own += w;
        else if (unit.labelTerms.has(term)) inherited += w;
      }
      // Own terms first; an inherited term counts less, and only next to at least one own term.
      const coverage = own > 0 ? (own + LABEL_WEIGHT * inherited) / total : 0;
      return { unit, coverage, usesLabel: inherited > 0 };
    })
    .filter((s) => s.coverage >= MIN_COVERAGE)
    // Ties go to the shorter sentence (more focused), then to the earlier one (better-ranked source).
    .sort((a, b) => b.coverage - a.coverage || a.unit.terms.size - b.unit.terms.size || a.unit.order - b.unit.order);
  if (scored.length === 0) return NO_ANSWER;

  const best = scored[0].coverage;
  const chosen = scored.filter((s) => s.coverage >= RELATIVE_THRESHOLD * best).slice(0, maxSentences);
  chosen.sort((a, b) => a.unit.order - b.unit.order);
  // A label some quoted sentence relies on leads the first quoted sentence under it, once.
  const labelKey = (unit: Unit) => `${unit.source}\u0000${unit.label}`;
  const neededLabels = new Set(chosen.filter((s) => s.usesLabel && s.unit.label).map((s) => labelKey(s.unit)));
  const quotes = chosen.map(({ unit }) => {
    const lead = neededLabels.delete(labelKey(unit)) ? `${unit.label}: ` : "";
    return `“${lead}${unit.sentence}” [${unit.source}]`;
  });
  return `From the sources: ${quotes.join(" ")}`;
}
