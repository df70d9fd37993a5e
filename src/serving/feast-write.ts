// Feast's writes (a feature view's rows as DataFrame columns) as our push updates, one per row.
import type { EntityTypeName } from "../core/definitions";
import { FeatureStoreError } from "../core/errors";
import { FEAST_CREATED_COLUMN, FEAST_EVENT_TIMESTAMP_COLUMN, type FeastDataFrame } from "../core/feast-write";
import type { FeatureUpdate } from "../core/ingest-message";
import type { CompiledRegistry } from "../core/registry";

/**
 * Suffix of the Feast push source of a feature group in the repo `registry export-feast` writes
 * (`user_behavior_features_push`); POST /push takes that name or the group's own.
 */
export const FEAST_PUSH_SOURCE_SUFFIX = "_push";

/** A Feast timestamp: ISO 8601, naive ones in UTC (the SDK sends `datetime.isoformat()` of naive UTC), or epoch ms. */
export function feastTimeOf(raw: unknown): number | undefined {
  if (typeof raw === "number" && Number.isFinite(raw)) return Math.trunc(raw);
  if (typeof raw !== "string") return undefined;
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(raw) ? raw : `${raw}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The rows of `df` for feature group `group` (Feast's feature view or push source of the same
 * name) as push updates: the group's join key column names the entity, `event_timestamp` the event
 * time, every other column a feature of the group. Validation of the values is the push path's.
 */
export function feastFrameToUpdates(registry: CompiledRegistry, group: string, df: FeastDataFrame, what: string): FeatureUpdate[] {
  const defs = registry.features.filter((f) => f.group === group);
  if (defs.length === 0)
    throw new FeatureStoreError("not_found", `Unknown ${what}: ${group} (name it after a feature group)`, {
      groups: [...new Set(registry.features.map((f) => f.group))].sort(),
    });
  const entityType = defs[0]!.entity_type as EntityTypeName;
  const joinKey = registry.snapshot.entities.find((e) => e.name === entityType)?.join_key ?? `${entityType}_id`;
  const names = new Set(defs.map((d) => d.name));
  const columns = Object.keys(df);
  const unknown = columns.filter((c) => c !== joinKey && c !== FEAST_EVENT_TIMESTAMP_COLUMN && c !== FEAST_CREATED_COLUMN && !names.has(c));
  if (unknown.length)
    throw new FeatureStoreError("bad_request", `Columns that are not features of ${group}: ${unknown.join(", ")}`, {
      features: [...names].sort(),
    });
  const ids = df[joinKey];
  const times = df[FEAST_EVENT_TIMESTAMP_COLUMN];
  if (!ids) throw new FeatureStoreError("bad_request", `df needs the join key column ${joinKey}`);
  if (!times) throw new FeatureStoreError("bad_request", `df needs the ${FEAST_EVENT_TIMESTAMP_COLUMN} column`);
  const featureColumns = columns.filter((c) => names.has(c));
  if (featureColumns.length === 0) throw new FeatureStoreError("bad_request", `df has no feature column of ${group}`);
  const ragged = columns.filter((c) => df[c]!.length !== ids.length);
  if (ragged.length)
    throw new FeatureStoreError("bad_request", `df columns must have the same length; ${ragged.join(", ")} differ from ${joinKey}`);
  return ids.map((id, row) => {
    const eventTimestamp = feastTimeOf(times[row]);
    if (eventTimestamp === undefined)
      throw new FeatureStoreError("bad_request", `${FEAST_EVENT_TIMESTAMP_COLUMN}[${row}] is not a date-time`, { row });
    if ((typeof id !== "string" && typeof id !== "number") || id === "")
      throw new FeatureStoreError("bad_request", `${joinKey}[${row}] must be a non-empty string or a number`, { row });
    const features: Record<string, unknown> = {};
    for (const c of featureColumns) features[`${group}:${c}`] = df[c]![row] ?? null;
    return { entity_type: entityType, entity_id: String(id), event_timestamp: eventTimestamp, features };
  });
}
