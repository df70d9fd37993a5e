// RFC 4180 CSV: a parser for spines and an encoder for training sets (arrays and objects as JSON in a cell).
import { FeatureStoreError } from "../core/errors";

/**
 * Parses CSV text into records of fields. Accepts CRLF or LF line ends, quoted fields with `""`
 * escapes and line breaks inside quotes, a leading UTF-8 BOM and a missing final line break.
 * Blank lines are skipped (a spine never has a meaningful empty record).
 */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  let afterQuote = false;
  let fieldStarted = false;
  let line = 1;
  let quoteLine = 0;
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRecord = () => {
    record.push(field);
    if (!(record.length === 1 && record[0] === "" && !fieldStarted)) records.push(record);
    record = [];
    field = "";
    fieldStarted = false;
    afterQuote = false;
  };
  for (let i = start; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
          afterQuote = true;
        }
      } else {
        if (ch === "\n") line++;
        field += ch;
      }
      continue;
    }
    if (afterQuote && ch !== "," && ch !== "\r" && ch !== "\n") {
      throw new FeatureStoreError("bad_request", `CSV line ${line}: text after a closing quote`);
    }
    if (ch === '"') {
      if (field !== "")
        throw new FeatureStoreError(
          "bad_request",
          `CSV line ${line}: a quote inside an unquoted field; quote the whole field and double inner quotes`,
        );
      quoted = true;
      fieldStarted = true;
      quoteLine = line;
    } else if (ch === ",") {
      record.push(field);
      field = "";
      fieldStarted = true;
      afterQuote = false;
    } else if (ch === "\r" && text[i + 1] === "\n") {
      // CRLF: the \n ends the record on the next iteration.
    } else if (ch === "\n" || ch === "\r") {
      endRecord();
      line++;
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (quoted) throw new FeatureStoreError("bad_request", `CSV line ${quoteLine}: a quoted field is never closed`);
  if (field !== "" || fieldStarted || record.length > 0) endRecord();
  return records;
}

const CANONICAL_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const NEEDS_QUOTES = /[",\r\n]/;
/** What spreadsheets read as the start of a formula (OWASP's CSV injection list). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * Text a spreadsheet would run as a formula (`=HYPERLINK(...)`, `+1+1`, `@SUM`, `-2+3`) gets a
 * leading `'`, which spreadsheets show as text. Only text cells are escaped, and not text that is
 * a plain number (`-1.5`, `-3e-7`): numbers stay numbers for every reader of the file. The
 * escape is not undone when a CSV spine is read back: `'=x` stays that text.
 */
export function escapeFormula(text: string): string {
  return FORMULA_START.test(text) && !CANONICAL_NUMBER.test(text) ? `'${text}` : text;
}

/**
 * One field: escaped against formula injection, quoted when it holds a comma, quote or line
 * break; the empty string is `""` so it differs from null.
 */
export function encodeCsvField(text: string): string {
  if (text === "") return '""';
  const safe = escapeFormula(text);
  return NEEDS_QUOTES.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** A cell value: null is an empty field, arrays and objects are JSON, dates ISO 8601. */
export function encodeCsvValue(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return encodeCsvField(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value instanceof Date) return value.toISOString();
  return encodeCsvField(JSON.stringify(value));
}

export function encodeCsvRecord(values: readonly unknown[]): string {
  return `${values.map(encodeCsvValue).join(",")}\r\n`;
}

/**
 * What a CSV cell means as transform context: the CSV cannot say whether "120" is a number, so
 * a cell in canonical number form is a number ("007" stays text), true/false are booleans, a
 * cell that is a JSON array or object is decoded (the encoder writes them so), empty is absent.
 */
export function decodeCsvCell(cell: string): unknown {
  if (cell === "") return undefined;
  if (cell === "true") return true;
  if (cell === "false") return false;
  if (cell === "null") return null;
  if (CANONICAL_NUMBER.test(cell)) {
    const n = Number(cell);
    if (Number.isFinite(n) && String(n) === cell) return n;
    return cell;
  }
  const first = cell[0];
  if (first === "[" || first === "{") {
    try {
      return JSON.parse(cell) as unknown;
    } catch {
      return cell; // Text that merely starts with a bracket.
    }
  }
  return cell;
}
