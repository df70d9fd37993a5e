// Source-query values as Postgres returns them (numeric and bigint arrive as strings) → the feature's JSON type.
import type { FeatureDefinition } from "../core/definitions";

const NUMERIC_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function toNumber(v: unknown): unknown {
  if (typeof v === "string" && NUMERIC_TEXT.test(v.trim())) return Number(v);
  if (typeof v === "bigint") return Number(v);
  return v;
}

/**
 * Only lossless, unambiguous conversions: numeric text to numbers for numerical features and number
 * items, numbers and dates to text for categories. Anything else is left for validation to reject.
 */
export function coerceSourceValue(def: FeatureDefinition, raw: unknown): unknown {
  if (raw === null || raw === undefined) return null;
  switch (def.feature_type) {
    case "numerical":
      return toNumber(raw);
    case "categorical":
      if (typeof raw === "number" || typeof raw === "bigint" || typeof raw === "boolean") return String(raw);
      if (raw instanceof Date) return raw.toISOString();
      return raw;
    case "embedding":
      return Array.isArray(raw) ? raw.map(toNumber) : raw;
    case "array":
      if (!Array.isArray(raw)) return raw;
      return (def.item_type ?? "string") === "number" ? raw.map(toNumber) : raw.map((x) => (typeof x === "number" ? String(x) : x));
  }
}
