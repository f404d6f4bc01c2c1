// The term rule shared by retrieval and the offline model (lib/rag/terms.ts): each case names a way
// tokenizing used to break matching.
import { describe, expect, it } from "vitest";
import { Bm25Index } from "@/lib/rag/bm25";
import { analyze, detectLanguage, indexTerms, lex, stem, tokenize, tokensReference } from "@/lib/rag/terms";

describe("Unicode normalization", () => {
  it("folds accents without splitting the word", () => {
    expect(tokenize("réplication")).toEqual(["replication"]);
    expect(tokenize("Müller")).toEqual(["muller"]);
    expect(indexTerms("Réplication")).toEqual(indexTerms("replication"));
    expect(tokenize("Straße")).toEqual(["strasse"]);
  });

  it("reads composed, decomposed, full-width and ligature forms alike", () => {
    expect(tokenize("Cafe\u0301")).toEqual(tokenize("Café"));
    expect(tokenize("ＰＯＳＴＧＲＥＳ")).toEqual(["postgres"]);
    expect(tokenize("ﬁle")).toEqual(["file"]);
  });

  it("keeps the marks of scripts whose words need them", () => {
    // Devanagari vowel signs are combining marks: the word stays one token.
    expect(tokenize("नमस्ते दुनिया")).toEqual(["नमस्ते", "दुनिया"]);
  });
});

describe("Chinese and Japanese word segmentation", () => {
  it("segments Chinese into words (Intl.Segmenter) and drops its particles", () => {
    const terms = tokenize("数据库服务器的共享内存缓冲区");
    expect(terms).toEqual(expect.arrayContaining(["共享", "内存"]));
    expect(terms).not.toContain("的");
    expect(terms).not.toContain("数据库服务器的共享内存缓冲区");
  });

  it("segments Japanese and keeps a Latin word inside it", () => {
    const terms = tokenize("PostgreSQLの設定ファイルを編集します");
    expect(terms).toEqual(expect.arrayContaining(["postgresql", "設定", "ファイル", "編集"]));
    expect(terms).not.toContain("の");
  });

  it("finds a Chinese passage from a query that shares one word", () => {
    const index = new Bm25Index(["服务器使用共享内存缓冲区。", "今天天气很好。"]);
    expect(index.search("共享内存", 2).map((h) => h.index)).toEqual([0]);
  });
});

describe("numbers and one-character tokens", () => {
  it("keeps digits, C++ and C#, and single CJK characters, but not lone Latin letters", () => {
    expect(tokenize("exit code 2")).toEqual(["exit", "code", "2"]);
    expect(tokenize("C++ and C# and F#")).toEqual(["c++", "c#", "f#"]);
    expect(tokenize("x y z")).toEqual([]);
    expect(tokenize("水")).toEqual(["水"]);
  });

  it("tells exit code 2 from exit code 3, and C++ from C", () => {
    const index = new Bm25Index(["The program ends with exit code 2 on a usage error.", "The program ends with exit code 3 when the file is missing.", "Written in C++ for speed.", "Written in C for portability."]);
    expect(index.search("exit code 2", 1)[0].index).toBe(0);
    expect(index.search("exit code 3", 1)[0].index).toBe(1);
    expect(index.search("C++", 4).map((h) => h.index)).toEqual([2]);
  });

  it('matches "128MB" and "128 MB" both ways', () => {
    expect(indexTerms("128MB")).toEqual(expect.arrayContaining(indexTerms("128 MB")));
    const index = new Bm25Index(["The default is 128 MB of memory.", "The default is 64 kB of memory."]);
    expect(index.search("128MB", 1)[0].index).toBe(0);
    const other = new Bm25Index(["shared_buffers is typically 128MB.", "work_mem is 4MB."]);
    expect(other.search("128 MB", 1)[0].index).toBe(0);
  });

  it('keeps decimals whole: "0.2" is one term as well as its digits', () => {
    expect(tokenize("The default is 0.2.")).toEqual(["default", "0.2", "0", "2"]);
  });
});

describe("identifiers", () => {
  it("are indexed whole and split", () => {
    expect(tokenize("shared_buffers")).toEqual(["shared_buffers", "shared", "buffers"]);
    expect(tokenize("pg_isready")).toEqual(["pg_isready", "pg", "isready"]);
    expect(tokenize("postgresql.conf")).toEqual(["postgresql.conf", "postgresql", "conf"]);
    // The whole identifier is not stemmed; its parts are.
    expect(indexTerms("shared_buffers")).toEqual(["shared_buffers", stem("shared"), stem("buffers")]);
  });

  it("are found by their whole name or by their words", () => {
    const index = new Bm25Index(["Run pg_isready to check the connection status of a server.", "The server is ready to accept connections."]);
    expect(index.search("pg_isready", 2).map((h) => h.index)).toEqual([0]);
    const memory = new Bm25Index(["shared_buffers sets the memory for buffers.", "Buffers of the WAL are sized by wal_buffers."]);
    expect(memory.search("shared buffers", 1)[0].index).toBe(0);
  });
});

describe("Snowball stemming per language", () => {
  it('English: "rows" meets "row", "queries" meets "query"', () => {
    expect(indexTerms("rows")).toEqual(indexTerms("row"));
    expect(indexTerms("queries")).toEqual(indexTerms("query"));
    expect(stem("queries")).not.toBe("querie");
    expect(indexTerms("running configurations")).toEqual(indexTerms("run configuration"));
  });

  it("English is Porter2: derivations meet their verb, and short words keep their letters", () => {
    // A stemmer that is not Porter2 cut "connection" to "connec" (apart from "connect") and "using" to "us".
    expect(indexTerms("connection")).toEqual(indexTerms("connect"));
    expect(indexTerms("connections")).toEqual(indexTerms("connected"));
    expect(indexTerms("transaction")).toEqual(indexTerms("transact"));
    expect(indexTerms("expressions")).toEqual(indexTerms("express"));
    expect(stem("using")).toBe("use");
    expect(stem("using")).not.toBe(stem("us"));
    expect(stem("keys")).toBe("key");
  });

  it("detects the language of a passage by its function words", () => {
    expect(detectLanguage("The server writes the log to the disk and it is read by the standby.")).toBe("en");
    expect(detectLanguage("Le serveur envoie les journaux au serveur en attente, qui les applique dans l'ordre et sans pause.")).toBe("fr");
    expect(detectLanguage("Der Server schreibt die Protokolle und der Standby liest sie, wenn er nicht verbunden ist.")).toBe("de");
    expect(detectLanguage("Сервер записывает журнал на диск")).toBe("ru");
    expect(detectLanguage("rows")).toBe("en");
  });

  it("stems a French passage with the French stemmer", () => {
    const french = "Les serveurs en attente reçoivent les journaux et ils sont appliqués dans l'ordre.";
    const { language, terms } = analyze(french);
    expect(language).toBe("fr");
    expect(terms).toContain(stem("serveurs", "fr"));
    expect(stem("serveurs", "fr")).toBe(stem("serveur", "fr"));
  });

  it("finds a French passage from a French query in an index of two languages", () => {
    const index = new Bm25Index([
      "The primary server streams its log to the standby servers as it is written.",
      "Le serveur primaire envoie les journaux aux serveurs en attente pour la réplication.",
      "La réplication logique publie les modifications des tables choisies par le serveur.",
    ]);
    expect(index.search("serveur réplication", 3).map((h) => h.index).slice(0, 2).sort()).toEqual([1, 2]);
    expect(index.search("replication", 3).map((h) => h.index)).toEqual(expect.arrayContaining([1, 2]));
  });
});

describe("the fast path for ASCII and punctuation", () => {
  it("tokenizes exactly as the Unicode rules do", () => {
    // Texts made of ASCII, every General Punctuation character, and letters that need the Unicode rules.
    const punctuation = Array.from({ length: 0x70 }, (_, i) => String.fromCodePoint(0x2000 + i));
    const pool = [..."abcXYZ019 _.-+#()/:;,'\"\n", ...punctuation, "é", "ß", "ﬁ", "中", "ж", "\u0301", "１"];
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 3000; n++) {
      const length = 1 + Math.floor(random() * 24);
      const text = Array.from({ length }, () => pool[Math.floor(random() * pool.length)]).join("");
      expect(lex(text), JSON.stringify(text)).toEqual(tokensReference(text));
    }
    // Typical text of a manual: a section path, an em dash, typographic quotes.
    for (const text of ["Chapter 20. Server Configuration › 20.4. Resource Consumption", "pg_isready — check the connection status", "the “ordinary” database… 1․5 a‗b x‾y"]) {
      expect(lex(text)).toEqual(tokensReference(text));
    }
  });
});
