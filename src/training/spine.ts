// The spine of a training set: rows of entity ids and an event time, parsed from CSV, JSONL or objects.
//
// Column conventions: `event_timestamp` (ISO 8601 or epoch milliseconds) is the time each row's
// features are read "as of"; entity ids come from `entity_id` (its type from an `entity_type`
// column or inferred from the id prefix, user_1 -> user) and/or one column per entity type named
// by its join key (`user_id`, `track_id`, ...), so one row can carry ids of several types. Every
// column, including these, is written back unchanged; the others are labels and the on-demand
// transforms' context.
import { FeatureStoreError } from "../core/errors";
import { decodeCsvCell, parseCsv } from "./csv";

export const SPINE_TIMESTAMP_COLUMN = "event_timestamp";
export const SPINE_ENTITY_ID_COLUMN = "entity_id";
export const SPINE_ENTITY_TYPE_COLUMN = "entity_type";

/** Below this an epoch number is almost certainly seconds (1973-03-03 in ms), a common unit mistake. */
const MIN_EPOCH_MS = 100_000_000_000;
/** How many offending rows an error message lists before "and N more". */
const MAX_LISTED_ERRORS = 5;

export interface SpineRow {
  /** The row's event time, epoch ms: no feature value observed after it may appear in the row. */
  ts: number;
  /** The row's columns as given (CSV: text), written back unchanged. */
  cells: Record<string, unknown>;
}

export interface Spine {
  /** Column names in first-seen order. */
  columns: string[];
  rows: SpineRow[];
  /** True when the cells are CSV text, so the transforms' context decodes numbers, booleans and JSON. */
  textCells: boolean;
}

const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const DIGITS = /^-?\d+$/;

/**
 * Epoch ms from an ISO 8601 time (a time without zone is UTC; fractions beyond milliseconds are
 * dropped) or from epoch milliseconds as a number or digits. Null when it is neither.
 */
export function parseEventTimestamp(raw: unknown): number | null {
  if (typeof raw === "number") return Number.isFinite(raw) && Math.abs(raw) >= MIN_EPOCH_MS ? Math.trunc(raw) : null;
  if (raw instanceof Date) return Number.isFinite(raw.getTime()) ? raw.getTime() : null;
  if (typeof raw !== "string") return null;
  const text = raw.trim();
  if (DIGITS.test(text)) return parseEventTimestamp(Number(text));
  const m = ISO_TIMESTAMP.exec(text);
  if (!m) return null;
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", zone] = m;
  const ms = frac ? frac.slice(1, 4).padEnd(3, "0") : "000";
  let z = zone ?? "Z";
  if (/^[+-]\d{2}$/.test(z)) z = `${z}:00`;
  else if (/^[+-]\d{4}$/.test(z)) z = `${z.slice(0, 3)}:${z.slice(3)}`;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}${z.toUpperCase()}`;
  // Date.parse would roll 2024-02-30 over into March; a date or time that does not exist is an error.
  const calendar = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (calendar.getUTCDate() !== Number(d) || calendar.getUTCMonth() !== Number(mo) - 1) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  const parsed = Date.parse(iso);
  return Number.isFinite(parsed) ? parsed : null;
}

function timestampHint(raw: unknown): string {
  const n = typeof raw === "string" && DIGITS.test(raw.trim()) ? Number(raw) : raw;
  if (typeof n === "number" && Number.isFinite(n) && Math.abs(n) < MIN_EPOCH_MS && n !== 0)
    return `${n} looks like epoch seconds; epoch milliseconds are expected`;
  return `${JSON.stringify(raw)} is neither ISO 8601 nor epoch milliseconds`;
}

function badRows(problems: string[], what: string): FeatureStoreError {
  const listed = problems.slice(0, MAX_LISTED_ERRORS).join("; ");
  const more = problems.length > MAX_LISTED_ERRORS ? ` (and ${problems.length - MAX_LISTED_ERRORS} more)` : "";
  return new FeatureStoreError("bad_request", `Invalid spine ${what}: ${listed}${more}`, { problems: problems.slice(0, 100) });
}

/** Builds a spine from row objects (JSONL lines, an HTTP body); `rowLabel` names a row in errors. */
export function spineFromObjects(
  objects: readonly Record<string, unknown>[],
  textCells = false,
  rowLabel: (index: number) => string = (i) => `row ${i + 1}`,
): Spine {
  const columns: string[] = [];
  const seen = new Set<string>();
  const rows: SpineRow[] = [];
  const problems: string[] = [];
  objects.forEach((cells, i) => {
    for (const key of Object.keys(cells)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
    const raw = cells[SPINE_TIMESTAMP_COLUMN];
    if (raw === undefined || raw === null || raw === "") {
      problems.push(`${rowLabel(i)}: ${SPINE_TIMESTAMP_COLUMN} is missing`);
      return;
    }
    const ts = parseEventTimestamp(raw);
    if (ts === null) problems.push(`${rowLabel(i)}: ${SPINE_TIMESTAMP_COLUMN} ${timestampHint(raw)}`);
    else rows.push({ ts, cells });
  });
  if (problems.length) throw badRows(problems, "rows");
  if (rows.length === 0) throw new FeatureStoreError("bad_request", "The spine has no rows");
  return { columns, rows, textCells };
}

/** A CSV spine: the first record is the header. */
export function parseSpineCsv(text: string): Spine {
  const records = parseCsv(text);
  const header = records[0];
  if (!header) throw new FeatureStoreError("bad_request", "The spine CSV is empty; expected a header with event_timestamp");
  const names = header.map((h) => h.trim());
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new FeatureStoreError("bad_request", `The spine CSV header names column "${duplicate}" twice`);
  if (!names.includes(SPINE_TIMESTAMP_COLUMN))
    throw new FeatureStoreError("bad_request", `The spine CSV has no ${SPINE_TIMESTAMP_COLUMN} column (header: ${names.join(", ")})`);
  const problems: string[] = [];
  const objects: Record<string, unknown>[] = [];
  for (let r = 1; r < records.length; r++) {
    const record = records[r]!;
    if (record.length !== names.length) {
      problems.push(`record ${r + 1} has ${record.length} fields, the header ${names.length}`);
      continue;
    }
    const cells: Record<string, unknown> = {};
    names.forEach((n, i) => {
      cells[n] = record[i];
    });
    objects.push(cells);
  }
  if (problems.length) throw badRows(problems, "CSV");
  // Record 1 is the header, so data record i sits at CSV record i + 2.
  return spineFromObjects(objects, true, (i) => `CSV record ${i + 2}`);
}

/** A JSONL spine: one JSON object per line; blank lines are skipped. */
export function parseSpineJsonl(text: string): Spine {
  const objects: Record<string, unknown>[] = [];
  const lineOf: number[] = [];
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      problems.push(`line ${i + 1}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      problems.push(`line ${i + 1}: expected a JSON object`);
      return;
    }
    objects.push(value as Record<string, unknown>);
    lineOf.push(i + 1);
  });
  if (problems.length) throw badRows(problems, "JSONL");
  return spineFromObjects(objects, false, (i) => `line ${lineOf[i]}`);
}

/** The transforms' context for a row: its cells, CSV text decoded (see decodeCsvCell). */
export function rowContext(spine: Spine, row: SpineRow): Record<string, unknown> {
  if (!spine.textCells) return row.cells;
  const context: Record<string, unknown> = {};
  for (const [key, cell] of Object.entries(row.cells)) {
    const value = typeof cell === "string" ? decodeCsvCell(cell) : cell;
    if (value !== undefined) context[key] = value;
  }
  return context;
}

/** An id cell as the store keys it: text, trimmed; empty means the row has no id of that type. */
export function idCell(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (typeof value !== "string") return undefined;
  const id = value.trim();
  return id === "" ? undefined : id;
}
