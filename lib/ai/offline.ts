// The built-in offline model: no weights, no network. It answers extractively: it picks the sentences
// of the retrieved sources that share the most terms with the question and quotes them with citations.
// It says what it is in every answer's metadata and never invents text beyond its sources.
import { indexTerms } from "@/lib/rag/terms";

export const OFFLINE_MODEL_NAME = "kip-offline-extractive-1";

export interface OfflineSource {
  /** 1-based citation number. */
  index: number;
  text: string;
}

/** Compose an answer from the best-matching sentences of the sources, citing each as [n]. */
export function answerExtractively(question: string, sources: OfflineSource[], maxSentences = 3): string {
  const terms = new Set(indexTerms(question));
  if (sources.length === 0 || terms.size === 0) {
    return "I could not find anything in this app's sources that answers that question.";
  }
  const candidates: { source: number; sentence: string; score: number; order: number }[] = [];
  let order = 0;
  for (const source of sources) {
    for (const raw of source.text.split(/(?<=[.!?])\s+|\n+/)) {
      const sentence = raw.trim();
      if (sentence.length < 20) continue;
      const words = indexTerms(sentence);
      const hits = words.filter((word) => terms.has(word)).length;
      const distinct = new Set(words.filter((word) => terms.has(word))).size;
      if (distinct === 0) continue;
      // Distinct question terms matter most; density breaks ties in favour of focused sentences.
      candidates.push({ source: source.index, sentence, score: distinct * 2 + hits / Math.sqrt(words.length + 1), order: order++ });
    }
  }
  if (candidates.length === 0) {
    return "I could not find anything in this app's sources that answers that question.";
  }
  const best = candidates.sort((a, b) => b.score - a.score).slice(0, maxSentences).sort((a, b) => a.order - b.order);
  const quoted = best.map((c) => `“${c.sentence}” [${c.source}]`).join(" ");
  return `From the sources: ${quoted}`;
}
