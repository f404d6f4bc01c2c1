// What retrieval and the offline model count as the terms of a text. One rule for both sides of a
// match (the index and the question), in this order:
//   1. Unicode: NFKC (full-width and ligature forms fold to their plain letters), lower case, and Latin
//      and Greek diacritics folded inside the word ("réplication" → "replication", "Müller" → "muller",
//      "Straße" → "strasse"), so an accent never splits a word or keeps two spellings apart.
//   2. Words: runs of letters, digits and combining marks. Chinese, Japanese, Thai, Lao, Khmer and
//      Burmese have no spaces between words, so their runs are segmented with Intl.Segmenter (ICU's
//      dictionaries, built into Node).
//   3. Identifiers and units are kept whole and split: "shared_buffers" → shared_buffers, shared,
//      buffers; "128MB" → 128mb, 128, mb (so it meets "128 MB"); "0.2" → 0.2, 0, 2.
//   4. One-character tokens are kept when they mean something on their own: digits ("exit code 2"),
//      a letter with ++ or # ("C++", "C#"), and single Han, katakana and Hangul characters. Other
//      single letters (and lone hiragana, which are particles) are noise that would flood the index.
//   5. Stopwords of English and of the text's language are dropped.
//   6. Words are stemmed with the Snowball stemmer of the text's language (snowball-stemmers, the
//      Snowball project's own port: "rows" → row, "queries" and "query" → queri). Whole identifiers are not stemmed.
// The language of a text is detected from its own words (see detectLanguage).
import snowball from "snowball-stemmers";

/** Languages with a stemmer, as ISO 639-1 codes. "en" is the default when a text gives no sign. */
export const LANGUAGES = ["en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "ru"] as const;
export type Language = (typeof LANGUAGES)[number];

// The Snowball project's own algorithms (its official JavaScript port): English is Porter2, which keeps
// "connection" and "connect" together and "use" apart from "us".
const SNOWBALL_NAMES: Record<Language, string> = {
  en: "english",
  fr: "french",
  de: "german",
  es: "spanish",
  it: "italian",
  pt: "portuguese",
  nl: "dutch",
  sv: "swedish",
  da: "danish",
  no: "norwegian",
  fi: "finnish",
  ru: "russian",
};
const STEMMERS = Object.fromEntries(
  LANGUAGES.map((language) => {
    const stemmer = snowball.newStemmer(SNOWBALL_NAMES[language]);
    return [language, (word: string) => stemmer.stem(word)];
  }),
) as Record<Language, (word: string) => string>;

// The most frequent function words of each language: dropped as stopwords and counted to tell the
// languages apart. Words shared by several languages ("de", "la", "en") are left out of the counting
// lists so that they do not blur the vote; they are written with accents and folded like any text.
const FUNCTION_WORDS: Record<Language, string> = {
  en:
    "a an and are as at be been but by for from had has have he her his i if in into is it its of on or our she so than " +
    "that the their them then there these they this those to was we were what when where which who will with you your " +
    "not no can do does did how why",
  fr: "le les des est et une du que qui dans pour pas sur au aux avec ce cette il elle ils sont par mais être leur ou où ne se sa son ses nous vous",
  de: "der die das und ist nicht ein eine einen mit den dem zu von auf für sich auch im wird werden oder bei aus nach wenn kann sind wie",
  es: "el los las del y que un una es por con para se su sus al como más pero lo está son esta este cuando también",
  it: "il di che gli del della è per non con sono nel alla si dei delle anche come più questo questa viene essere",
  pt: "os do da dos das que em um uma para com não no na por mais é são ao pela pelo como seu sua quando também",
  nl: "het een van is dat niet op te zijn met voor ook aan er maar als bij door wordt worden deze dit naar",
  sv: "och att det som är på av för med till inte har om ett var men från kan vid eller sig",
  da: "og det er som på af for med til ikke har om et var men fra kan ved eller sig",
  no: "og det er som på av for med til ikke har om et var men fra kan ved eller seg",
  fi: "ja on ei että se oli hän mutta kun tai ovat joka myös sen ovat jos kuin niin",
  ru: "и в не на что с по это как из к для то о но от же за бы по все так его или был",
};

// Particles of Chinese and Japanese that segment as words of their own.
const CJK_STOPWORDS = "的 了 是 在 和 与 或 也 の に は を が で と も へ や か な だ です ます".split(" ");

/**
 * A character that needs the Unicode rules: anything but ASCII and the General Punctuation block (dashes,
 * typographic quotes, "›", spaces, joiners), whose characters separate words under both rules alike. Left
 * out of the block are the few whose NFKC form is a dot or carries a mark (U+2017, U+2024-U+2026, U+203E):
 * "1․5" is "1.5" after NFKC. A test holds the fast path to the Unicode rules (tokensReference).
 */
const NEEDS_UNICODE = /[^\u0000-\u007f\u2000-\u2016\u2018-\u2023\u2027-\u203d\u203f-\u206f]/;

/** Lower case, NFKC, Latin and Greek diacritics folded: the form in which words are compared. */
export function normalizeText(text: string): string {
  // ASCII text (most technical text, with its dashes and quotes) needs no Unicode work at all.
  if (!NEEDS_UNICODE.test(text)) return text.toLowerCase();
  return normalizeUnicode(text);
}

function normalizeUnicode(text: string): string {
  return text.normalize("NFKC").toLowerCase().replace(FOLDABLE, foldWord);
}

// Latin and Greek letters that carry a diacritic or are a ligature, with the letters after them.
const FOLDABLE = /[\u00c0-\u024f\u0370-\u03ff\u1e00-\u1eff][\p{L}\p{M}]*/gu;
const LIGATURES: Record<string, string> = { ß: "ss", æ: "ae", œ: "oe", ø: "o", ł: "l", đ: "d", ð: "d", þ: "th", ı: "i", ς: "σ" };

function foldWord(word: string): string {
  return word
    .normalize("NFD")
    .replace(/(?<=[\p{sc=Latin}\p{sc=Greek}])\p{M}+/gu, "")
    .replace(/[ßæœøłđðþış]/g, (c) => LIGATURES[c])
    .normalize("NFC");
}

const STOPWORDS: Record<Language, Set<string>> = Object.fromEntries(
  LANGUAGES.map((language) => [
    language,
    new Set([...normalizeText(FUNCTION_WORDS.en).split(" "), ...normalizeText(FUNCTION_WORDS[language]).split(" "), ...CJK_STOPWORDS]),
  ]),
) as Record<Language, Set<string>>;

// For detection: which languages (indexes into LANGUAGES) each function word votes for. English's list
// is long and general, so it votes only with its commonest words.
const VOTES = new Map<string, number[]>();
LANGUAGES.forEach((language, index) => {
  const words = language === "en" ? "the of and to is that for it with was on are this from which be by" : FUNCTION_WORDS[language];
  for (const word of normalizeText(words).split(" ")) VOTES.set(word, [...(VOTES.get(word) ?? []), index]);
});
/** Words read to detect a language: a passage's first few hundred tell it. */
const DETECTION_WORDS = 300;

const SEGMENTED_SCRIPT = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Thai}\p{sc=Lao}\p{sc=Khmer}\p{sc=Myanmar}]/u;
// A lone hiragana is a particle or an inflection ending, not a word.
const SINGLE_KEPT = /^(?:\p{N}|[\p{sc=Han}\p{sc=Katakana}\p{sc=Hangul}])$/u;
const TOKEN = /[\p{L}\p{N}\p{M}]+(?:[_.-][\p{L}\p{N}\p{M}]+)*(?:\+\+|#(?![\p{L}\p{N}]))?/gu;
const COMPOUND = /[_.-]|\p{L}\p{N}|\p{N}\p{L}/u;
const PARTS = /[_.-]+|(?<=\p{L})(?=\p{N})|(?<=\p{N})(?=\p{L})/u;

let segmenter: Intl.Segmenter | undefined;

// The same rules for text that is all ASCII, without Unicode property lookups (most technical text).
const ASCII_TOKEN = /[a-z0-9]+(?:[_.-][a-z0-9]+)*(?:\+\+|#(?![a-z0-9]))?/g;
const ASCII_COMPOUND = /[_.-]|[a-z][0-9]|[0-9][a-z]/;

/** A token kept as a word on its own: two or more characters, or one that means something alone. */
function keep(token: string): boolean {
  if (token.length > 2) return true;
  const single = token.length === 1 || (token.length === 2 && token.codePointAt(0)! > 0xffff);
  return !single || SINGLE_KEPT.test(token);
}

/**
 * The tokens of a text as it occurs, in order: `words`, and for each whether it is a whole compound
 * (kept as written, not stemmed) or a part or plain word (stemmed).
 */
export interface Lexemes {
  words: string[];
  whole: boolean[];
  /** A part of the compound before it ("buffers" of "shared_buffers"). */
  part: boolean[];
}

function pushToken(token: string, out: Lexemes, ascii: boolean): void {
  const last = token.charCodeAt(token.length - 1);
  if (last === 0x2b /* + */ || last === 0x23 /* # */) {
    // "c++", "c#", "f#" are names; elsewhere ("notepad++") the marks add nothing.
    const base = token.replace(/(?:\+\+|#)$/, "");
    if (base.length === 1 && /\p{L}/u.test(base)) {
      out.words.push(token);
      out.whole.push(true);
      out.part.push(false);
      return;
    }
    token = base;
  }
  if (!(ascii ? ASCII_COMPOUND : COMPOUND).test(token)) {
    if (keep(token)) {
      out.words.push(token);
      out.whole.push(false);
      out.part.push(false);
    }
    return;
  }
  const parts = token.split(PARTS).filter(keep);
  out.words.push(token);
  out.whole.push(true);
  out.part.push(false);
  for (const part of parts) {
    out.words.push(part);
    out.whole.push(false);
    out.part.push(true);
  }
}

/** The tokens of a text in order, normalized, before stopwords and stemming. */
export function lex(text: string): Lexemes {
  const normalized = normalizeText(text);
  if (!NEEDS_UNICODE.test(normalized)) {
    const out: Lexemes = { words: [], whole: [], part: [] };
    ASCII_TOKEN.lastIndex = 0;
    for (let match = ASCII_TOKEN.exec(normalized); match; match = ASCII_TOKEN.exec(normalized)) pushToken(match[0], out, true);
    return out;
  }
  return lexUnicode(normalized);
}

/**
 * The tokens of a text by the Unicode rules alone, without the fast path for ASCII and punctuation: the
 * reference the fast path must agree with (tests compare the two).
 */
export function tokensReference(text: string): Lexemes {
  return lexUnicode(normalizeUnicode(text));
}

function lexUnicode(normalized: string): Lexemes {
  const out: Lexemes = { words: [], whole: [], part: [] };
  TOKEN.lastIndex = 0;
  for (let match = TOKEN.exec(normalized); match; match = TOKEN.exec(normalized)) {
    const token = match[0];
    if (!SEGMENTED_SCRIPT.test(token)) {
      pushToken(token, out, false);
      continue;
    }
    segmenter ??= new Intl.Segmenter("zh", { granularity: "word" });
    for (const segment of segmenter.segment(token)) {
      if (segment.isWordLike) pushToken(segment.segment, out, false);
    }
  }
  return out;
}

/**
 * The language of a text by its function words: the language with the most of them (ties go to the
 * one listed first in LANGUAGES), if it has at least two; else Russian for mostly Cyrillic text; else
 * English. Detection
 * libraries were measured at 0.7 to 5 ms per 900-character passage, too slow to run on every chunk
 * of a large upload; counting function words costs one map lookup per word.
 */
export function detectLanguage(text: string): Language {
  return detectFromLexemes(lex(text), text);
}

function detectFromLexemes(lexemes: Lexemes, text: string): Language {
  const counts = new Int32Array(LANGUAGES.length);
  const { words } = lexemes;
  for (let i = 0, n = Math.min(words.length, DETECTION_WORDS); i < n; i++) {
    const votes = VOTES.get(words[i]);
    if (votes) for (const language of votes) counts[language]++;
  }
  let best: Language = "en";
  let bestCount = 0;
  LANGUAGES.forEach((language, index) => {
    if (counts[index] > bestCount) {
      best = language;
      bestCount = counts[index];
    }
  });
  if (bestCount >= 2) return best;
  const cyrillic = text.match(/\p{sc=Cyrillic}/gu)?.length ?? 0;
  if (cyrillic > 0 && cyrillic * 2 > (text.match(/\p{L}/gu)?.length ?? 0)) return "ru";
  return "en";
}

// Stemmers are pure and vocabularies repeat, so each language remembers its stems, and (for analyze)
// each word's term: its stem, or "" for a stopword. One lookup per word on the indexing path.
const STEM_CACHE_LIMIT = 200_000;
const stemCache = new Map<Language, Map<string, string>>();
const termCache = new Map<Language, Map<string, string>>();

/** The stem of a normalized word in a language (English by default). Non-letters stay as they are. */
export function stem(word: string, language: Language = "en"): string {
  let cache = stemCache.get(language);
  if (!cache) stemCache.set(language, (cache = new Map()));
  let stemmed = cache.get(word);
  if (stemmed === undefined) {
    stemmed = /^\p{L}{3,}$/u.test(word) && !SEGMENTED_SCRIPT.test(word) ? STEMMERS[language](word) || word : word;
    if (cache.size >= STEM_CACHE_LIMIT) cache.clear();
    cache.set(word, stemmed);
  }
  return stemmed;
}

/** Tokens of a text: normalized and segmented, identifiers whole and split, without stopwords. */
export function tokenize(text: string, language?: Language): string[] {
  const lexemes = lex(text);
  const stopwords = STOPWORDS[language ?? detectFromLexemes(lexemes, text)];
  const words: string[] = [];
  for (const word of lexemes.words) if (!stopwords.has(word)) words.push(word);
  return words;
}

export interface AnalyzedText {
  language: Language;
  /** The index terms, in text order (a compound is followed by its parts). */
  terms: string[];
  /** For each term, the compound it is a part of ("shared_buffers" for "buffer"), else null. */
  partOf: (string | null)[];
}

/** Terms of a text and the language they were stemmed in (detected when not given). */
export function analyze(text: string, language?: Language): AnalyzedText {
  const lexemes = lex(text);
  const lang = language ?? detectFromLexemes(lexemes, text);
  const stopwords = STOPWORDS[lang];
  let cache = termCache.get(lang);
  if (!cache) termCache.set(lang, (cache = new Map()));
  const terms: string[] = [];
  const partOf: (string | null)[] = [];
  const { words, whole, part } = lexemes;
  let compound: string | null = null;
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (whole[i]) {
      terms.push(word);
      partOf.push(null);
      compound = word;
      continue;
    }
    let term = cache.get(word);
    if (term === undefined) {
      term = stopwords.has(word) ? "" : stem(word, lang);
      if (cache.size >= STEM_CACHE_LIMIT) cache.clear();
      cache.set(word, term);
    }
    if (term) {
      terms.push(term);
      partOf.push(part[i] ? compound : null);
    }
  }
  return { language: lang, terms, partOf };
}

/** Terms as the index sees them: tokens, stemmed in the text's language (or the one given). */
export function indexTerms(text: string, language?: Language): string[] {
  return analyze(text, language).terms;
}
