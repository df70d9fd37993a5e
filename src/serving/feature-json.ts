// A feature vector written straight as JSON text: the bytes JSON.stringify gives for the FeatureResponse object, without building it.
//
// Assembling a 100 × 50 batch as objects (a features and a metadata record per entity, an object
// per value's metadata) and then stringifying it allocated a third of the batch's garbage and took
// longer than writing the text from the plan's keys, which are escaped once per plan. The object
// path (FeatureService.assemble) stays for the Feast route, in-process callers, and whatever this
// writer declines: a plan naming a feature twice (an object keeps the first key with the last value)
// and a value JSON has no text for.
import {
  type FeatureResponse,
  type FeatureStatus,
  FeatureStatus as FeatureStatusSchema,
  type ServedTier,
  ServedTier as ServedTierSchema,
} from "../core/feature-request";
import type { JsonText } from "../core/json-text";

/** One request's answer before it is written: per feature of its plan, in order. */
export interface VectorParts {
  values: unknown[];
  statuses: FeatureStatus[];
  tiers: (ServedTier | null)[];
  eventTs: (number | null)[];
}

/**
 * A plan's keys as JSON text, escaped once: per feature `"ref":` for `features`, and for
 * `metadata` `"ref":{"status":"<status>","event_timestamp":` for each status; each after a comma
 * but the first.
 */
export interface PlanJsonKeys {
  features: readonly string[];
  metadata: readonly Readonly<Record<FeatureStatus, string>>[];
}

const STATUSES: readonly FeatureStatus[] = FeatureStatusSchema.options;

/** The keys of a plan's references, or null when a reference repeats (the object path writes those). */
export function planJsonKeys(refs: readonly string[]): PlanJsonKeys | null {
  if (new Set(refs).size !== refs.length) return null;
  return {
    features: refs.map((r, i) => `${i ? "," : ""}${JSON.stringify(r)}:`),
    metadata: refs.map((r, i) => {
      const prefix = `${i ? "," : ""}${JSON.stringify(r)}:{"status":"`;
      return Object.fromEntries(STATUSES.map((st) => [st, `${prefix}${st}","event_timestamp":`])) as Record<FeatureStatus, string>;
    }),
  };
}

/** The end of a value's metadata: its tier and the closing brace. */
const TIER_ENDS = new Map<ServedTier | null, string>([
  [null, ',"tier":null}'],
  ...ServedTierSchema.options.map((t): [ServedTier, string] => [t, `,"tier":"${t}"}`]),
]);

/** JSON text of a value as JSON.stringify writes it inside an object; undefined when it would drop the key. */
export function jsonValue(v: unknown): string | undefined {
  switch (typeof v) {
    case "number":
      return Number.isFinite(v) ? String(v) : "null";
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "object":
      return JSON.stringify(v);
    default:
      // undefined, a function or a symbol: JSON.stringify leaves the key out (bigint throws there as here).
      return typeof v === "bigint" ? JSON.stringify(v) : undefined;
  }
}

/** ISO text of event times, quoted, shared across requests (an L0 entity's values keep their event time between reads). */
const ISO_CACHE_MAX = 4_096;
const isoCache = new Map<number, string>();

function isoJson(ms: number): string {
  let iso = isoCache.get(ms);
  if (iso === undefined) {
    if (isoCache.size >= ISO_CACHE_MAX) isoCache.clear();
    iso = `"${new Date(ms).toISOString()}"`;
    isoCache.set(ms, iso);
  }
  return iso;
}

/**
 * The JSON text of the FeatureResponse `{entity_id, features, timestamp, feature_store_version,
 * metadata?}` of `parts`, key for key as JSON.stringify writes it; undefined when a value has no
 * JSON text (the caller stringifies the object instead).
 */
export function writeFeatureResponse(
  keys: PlanJsonKeys,
  parts: VectorParts,
  entityIdJson: string,
  timestamp: number,
  versionJson: string,
  includeMetadata: boolean,
  now: number,
): JsonText<FeatureResponse> | undefined {
  const { values, statuses, tiers, eventTs } = parts;
  const n = keys.features.length;
  // One string appended to per piece: each `+` is a rope node, so pieces are few and made once
  // (the keys per plan, the event time and age once per run of equal event times).
  let out = `{"entity_id":${entityIdJson},"features":{`;
  for (let k = 0; k < n; k++) {
    const v = jsonValue(values[k]);
    if (v === undefined) return undefined;
    out += keys.features[k]!;
    out += v;
  }
  out += `},"timestamp":${timestamp},"feature_store_version":${versionJson}`;
  if (includeMetadata) {
    out += ',"metadata":{';
    let runOf: number | null | undefined;
    let time = "";
    for (let k = 0; k < n; k++) {
      const ts = eventTs[k]!;
      if (ts !== runOf) {
        runOf = ts;
        time = ts === null ? 'null,"age_ms":null' : `${isoJson(ts)},"age_ms":${jsonValue(Math.max(0, now - ts))}`;
      }
      out += keys.metadata[k]![statuses[k]!];
      out += time;
      out += TIER_ENDS.get(tiers[k]!)!;
    }
    out += "}";
  }
  return `${out}}`;
}
