// Training-set output formats: CSV (RFC 4180, header first) and JSONL (one object per line), encoded batch by batch.
import { FeatureStoreError } from "../core/errors";
import { encodeCsvRecord } from "./csv";
import type { DatasetRow } from "./training-dataset";

export const DATASET_FORMATS = ["csv", "jsonl"] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export const CONTENT_TYPES: Readonly<Record<DatasetFormat, string>> = {
  csv: "text/csv; charset=utf-8",
  jsonl: "application/x-ndjson; charset=utf-8",
};

/** The format a file name asks for. Parquet is refused by name: no maintained writer is installed. */
export function datasetFormatOf(path: string): DatasetFormat {
  const lower = path.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
  if (lower.endsWith(".parquet"))
    throw new FeatureStoreError(
      "bad_request",
      `${path}: Parquet is not supported (no maintained Parquet writer is installed); write .csv or .jsonl`,
    );
  throw new FeatureStoreError("bad_request", `${path}: unknown format; use a .csv or .jsonl file name`);
}

/** What precedes the rows: the CSV header, nothing for JSONL. */
export function encodeHeader(format: DatasetFormat, columns: readonly string[]): string {
  return format === "csv" ? encodeCsvRecord(columns) : "";
}

export function encodeRows(format: DatasetFormat, columns: readonly string[], rows: readonly DatasetRow[]): string {
  let out = "";
  if (format === "csv") {
    for (const row of rows) out += encodeCsvRecord(columns.map((c) => row[c]));
    return out;
  }
  for (const row of rows) {
    const ordered: Record<string, unknown> = {};
    for (const c of columns) ordered[c] = row[c] ?? null;
    out += `${JSON.stringify(ordered)}\n`;
  }
  return out;
}
