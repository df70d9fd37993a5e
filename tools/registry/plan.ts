// A registry plan: what applying the YAML catalog would change in the applied registry, and what it would break.
import type { EntityType, FeatureDefinition } from "../../src/core/definitions";
import type { EventType } from "../../src/core/event-types";
import type { FeatureServiceDefinition } from "../../src/core/feature-services";
import {
  canonicalJson,
  DELETED_SERVICE_REASON,
  deletedEventTypeReason,
  diffByName,
  diffEventTypes,
  diffFeatureServices,
  diffRegistry,
  type EventTypeChange,
  type FeatureServiceChange,
  type FieldChange,
  type RegistryDiff,
  registryContentHash,
} from "../../src/core/registry";

/** `r-` + the first 12 hex digits of the registry content hash. */
export const VERSION_HASH_LENGTH = 12;

export function registryVersionOf(contentHash: string): string {
  return `r-${contentHash.slice(0, VERSION_HASH_LENGTH)}`;
}

export const EMPTY_REGISTRY_VERSION = "r-empty";

export interface EntityChange {
  name: string;
  kind: "created" | "updated" | "deleted";
  changes: FieldChange[];
  breaking: boolean;
  reason?: string;
}

export interface RegistryPlan {
  features: RegistryDiff;
  entities: EntityChange[];
  eventTypes: EventTypeChange[];
  featureServices: FeatureServiceChange[];
  appliedHash: string;
  desiredHash: string;
  appliedVersion: string;
  desiredVersion: string;
  empty: boolean;
  /** One line per breaking change: `feature: reason`. */
  breakingReasons: string[];
}

export const DELETED_FEATURE_REASON = "feature removed: requests for it will fail and its stored values become orphans";

/** What a registry holds; a catalog without events.yaml (services.yaml) has no event types (services). */
export interface RegistryContent {
  entities: EntityType[];
  features: FeatureDefinition[];
  eventTypes?: EventType[];
  featureServices?: FeatureServiceDefinition[];
}

export async function planRegistry(
  applied: RegistryContent,
  desired: RegistryContent,
  hasData: (name: string) => boolean,
): Promise<RegistryPlan> {
  const features = diffRegistry(applied.features, desired.features, hasData);
  const entities = diffEntities(applied.entities, desired.entities);
  const eventTypes = diffEventTypes(applied.eventTypes ?? [], desired.eventTypes ?? [], applied.features);
  const featureServices = diffFeatureServices(applied.featureServices ?? [], desired.featureServices ?? []);
  const [appliedHash, desiredHash] = await Promise.all([
    registryContentHash(applied.entities, applied.features, applied.eventTypes, applied.featureServices),
    registryContentHash(desired.entities, desired.features, desired.eventTypes, desired.featureServices),
  ]);
  const breakingReasons: string[] = [];
  for (const c of features.updated)
    for (const f of c.changes) if (f.breaking) breakingReasons.push(`${c.name}: ${f.reason ?? `${f.field} changed`}`);
  for (const c of features.deleted) breakingReasons.push(`${c.name}: ${DELETED_FEATURE_REASON}`);
  for (const c of entities) if (c.breaking) breakingReasons.push(`entity ${c.name}: ${c.reason ?? "changed"}`);
  for (const c of eventTypes) {
    if (c.kind === "deleted") breakingReasons.push(`event type ${c.name}: ${deletedEventTypeReason(c.name, applied.features)}`);
    for (const f of c.changes) if (f.breaking) breakingReasons.push(`event type ${c.name}: ${f.field}: ${f.reason ?? "changed"}`);
  }
  for (const c of featureServices) {
    if (c.kind === "deleted") breakingReasons.push(`feature service ${c.name}: ${DELETED_SERVICE_REASON}`);
    for (const f of c.changes) if (f.breaking) breakingReasons.push(`feature service ${c.name}: ${f.reason ?? `${f.field} changed`}`);
  }
  return {
    features,
    entities,
    eventTypes,
    featureServices,
    appliedHash,
    desiredHash,
    // "r-empty" as CompiledRegistry.empty() calls it, rather than the hash of nothing.
    appliedVersion:
      applied.entities.length + applied.features.length + (applied.eventTypes?.length ?? 0) + (applied.featureServices?.length ?? 0) === 0
        ? EMPTY_REGISTRY_VERSION
        : registryVersionOf(appliedHash),
    desiredVersion: registryVersionOf(desiredHash),
    empty: features.empty && entities.length === 0 && eventTypes.length === 0 && featureServices.length === 0,
    breakingReasons,
  };
}

const JOIN_KEY_REASON = "join_key change breaks every request keyed by the old key";

/** Entity types are keyed by join key in requests, so only a join_key change or a removal breaks callers. */
function diffEntities(applied: readonly EntityType[], desired: readonly EntityType[]): EntityChange[] {
  const changes = diffByName(applied, desired, (old, e) =>
    (["join_key", "description", "id_prefix"] as const)
      .filter((field) => canonicalJson(old[field]) !== canonicalJson(e[field]))
      .map((field) => ({
        field,
        from: old[field],
        to: e[field],
        breaking: field === "join_key",
        ...(field === "join_key" ? { reason: JOIN_KEY_REASON } : {}),
      })),
  );
  return changes.map((c) =>
    c.kind === "deleted" ? { ...c, reason: "entity type removed" } : c.breaking ? { ...c, reason: JOIN_KEY_REASON } : c,
  );
}
