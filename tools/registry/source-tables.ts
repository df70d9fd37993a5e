// Source tables for lineage: which tables exist in the drizzle schema and which ones a source_query reads.
import { getTableConfig, type PgTable } from "drizzle-orm/pg-core";
import * as schema from "../../src/db/schema";

/**
 * The demo source tables of src/db/schema.ts: what a batch source_query may read. An allowlist of
 * table objects, not "everything but the feature store's own tables", so a new bookkeeping table
 * never silently becomes readable; the names come from drizzle, so a rename is picked up here.
 */
const SOURCE_TABLE_OBJECTS: readonly PgTable[] = [schema.users, schema.tracks, schema.artists, schema.listeningEvents, schema.userActions];

export const SOURCE_TABLES: ReadonlySet<string> = new Set(SOURCE_TABLE_OBJECTS.map((table) => getTableConfig(table).name));

const DEFAULT_SCHEMA = "public";

// ------------------------------------------------------------------ tokenizer

interface Token {
  kind: "word" | "quoted" | "punct";
  text: string;
}

const WORD = /[A-Za-z_][A-Za-z0-9_$]*/y;
const NUMBER = /[0-9][0-9.eE]*/y;
const DOLLAR_TAG = /\$([A-Za-z_][A-Za-z0-9_]*)?\$/y;

/** Words, quoted identifiers and punctuation; comments, string literals and numbers are dropped. */
function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const match = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    const m = re.exec(sql);
    return m ? m[0] : undefined;
  };
  while (i < sql.length) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (sql.startsWith("--", i)) {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end + 1;
    } else if (sql.startsWith("/*", i)) {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (c === "'") {
      // '' is an escaped quote inside the literal; E'...' escapes are rare in source queries.
      i++;
      while (i < sql.length) {
        if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i++;
      }
      i++;
    } else if (c === '"') {
      const end = sql.indexOf('"', i + 1);
      const stop = end === -1 ? sql.length : end;
      tokens.push({ kind: "quoted", text: sql.slice(i + 1, stop) });
      i = stop + 1;
    } else if (c === "$" && match(DOLLAR_TAG)) {
      const tag = match(DOLLAR_TAG) as string;
      const end = sql.indexOf(tag, i + tag.length);
      i = end === -1 ? sql.length : end + tag.length;
    } else if (match(WORD)) {
      const word = match(WORD) as string;
      tokens.push({ kind: "word", text: word.toLowerCase() });
      i += word.length;
    } else if (match(NUMBER)) {
      i += (match(NUMBER) as string).length;
    } else {
      tokens.push({ kind: "punct", text: c });
      i++;
    }
  }
  return tokens;
}

// ------------------------------------------------------------------ table references

/** Keywords that open a query inside parentheses: `(SELECT ...)` is a subquery, `f(x FROM y)` is not. */
const QUERY_STARTERS = new Set(["select", "with", "values", "table"]);
/** Keywords that end a FROM list: a comma after them no longer separates tables. */
const FROM_LIST_ENDERS = new Set([
  "where",
  "group",
  "having",
  "order",
  "limit",
  "offset",
  "union",
  "intersect",
  "except",
  "window",
  "on",
  "using",
  "select",
  "returning",
  "fetch",
  "for",
  "join",
]);
const TABLE_PREFIX_KEYWORDS = new Set(["lateral", "only"]);

const isName = (t: Token | undefined): t is Token => t !== undefined && (t.kind === "word" || t.kind === "quoted");
const isPunct = (t: Token | undefined, p: string): boolean => t !== undefined && t.kind === "punct" && t.text === p;
const isWord = (t: Token | undefined, w: string): boolean => t !== undefined && t.kind === "word" && t.text === w;

/** Names of the common table expressions (`WITH name AS (...)`) anywhere in the query. */
function cteNames(tokens: Token[]): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const before = tokens[i - 1];
    // A CTE name follows WITH [RECURSIVE] or the comma after a previous CTE's closing parenthesis.
    const starts = isWord(before, "with") || isWord(before, "recursive") || (isPunct(before, ",") && isPunct(tokens[i - 2], ")"));
    if (!starts || !isName(tokens[i])) continue;
    let j = i + 1;
    if (isPunct(tokens[j], "(")) {
      while (j < tokens.length && !isPunct(tokens[j], ")")) j++;
      j++;
    }
    if (!isWord(tokens[j], "as")) continue;
    j++;
    if (isWord(tokens[j], "not")) j++;
    if (isWord(tokens[j], "materialized")) j++;
    if (isPunct(tokens[j], "(")) names.add((tokens[i] as Token).text);
  }
  return names;
}

interface Frame {
  query: boolean;
  inFromList: boolean;
}

/**
 * Tables a SQL query reads: identifiers after FROM/JOIN (and in comma FROM lists) at query level,
 * minus CTE names, subqueries, set-returning functions such as unnest(...), and FROM inside
 * function syntax like EXTRACT(YEAR FROM ts). Schema-qualified names keep their schema unless it
 * is `public`. Not a full SQL parser: good enough to check lineage of source queries.
 */
export function tablesReadBy(sql: string): string[] {
  const tokens = tokenize(sql);
  const ctes = cteNames(tokens);
  const found = new Set<string>();
  const frames: Frame[] = [{ query: true, inFromList: false }];

  const readTableRef = (start: number): void => {
    let i = start;
    while (TABLE_PREFIX_KEYWORDS.has(tokens[i]?.text ?? "") && tokens[i]?.kind === "word") i++;
    if (!isName(tokens[i])) return; // a parenthesised subquery: its own frame handles it
    const parts = [(tokens[i] as Token).text];
    while (isPunct(tokens[i + 1], ".") && isName(tokens[i + 2])) {
      parts.push((tokens[i + 2] as Token).text);
      i += 2;
    }
    if (isPunct(tokens[i + 1], "(")) return; // unnest(...), generate_series(...): a function, not a table
    if (parts.length === 2 && parts[0] === DEFAULT_SCHEMA) parts.shift();
    const name = parts.join(".");
    if (parts.length === 1 && ctes.has(name)) return;
    found.add(name);
  };

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    const frame = frames[frames.length - 1] as Frame;
    if (t.kind === "punct") {
      if (t.text === "(") {
        const next = tokens[i + 1];
        frames.push({ query: next?.kind === "word" && QUERY_STARTERS.has(next.text), inFromList: false });
      } else if (t.text === ")") {
        if (frames.length > 1) frames.pop();
      } else if (t.text === "," && frame.query && frame.inFromList) {
        readTableRef(i + 1);
      }
      continue;
    }
    if (t.kind !== "word" || !frame.query) continue;
    if (t.text === "from" && !isWord(tokens[i - 1], "distinct")) {
      frame.inFromList = true;
      readTableRef(i + 1);
    } else if (t.text === "join") {
      frame.inFromList = true;
      readTableRef(i + 1);
    } else if (FROM_LIST_ENDERS.has(t.text)) {
      frame.inFromList = false;
    }
  }
  return [...found];
}
