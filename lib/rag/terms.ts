// What retrieval and the offline model count as the terms of a text: lower-cased words and numbers
// (any script), without common English stopwords, lightly stemmed so "battles" matches "battle".

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

/**
 * Strip one of -ing, -ed, -es, -s from words longer than four letters. "-es" goes whole only after
 * s, x, z, ch and sh ("boxes" → "box"); elsewhere only the "s" ("battles" → "battle"), so a plural
 * meets its singular.
 */
export function stem(word: string): string {
  if (word.length <= 4) return word;
  if (word.endsWith("ing")) return word.slice(0, -3);
  if (word.endsWith("ed")) return word.slice(0, -2);
  if (word.endsWith("es") && /(?:[sxz]|ch|sh)es$/u.test(word)) return word.slice(0, -2);
  if (word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1);
  return word;
}

/** Terms as the index sees them: tokens, stemmed. */
export function indexTerms(text: string): string[] {
  const words = tokenize(text);
  for (let i = 0; i < words.length; i++) words[i] = stem(words[i]);
  return words;
}
