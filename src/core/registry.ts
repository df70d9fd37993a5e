// The compiled registry: snapshot shape, fast lookups by flat or qualified name, diff and breaking changes.
import { z } from "zod";
import { EntityType, FeatureDefinition } from "./definitions";
import { EventType } from "./event-types";
import { FeatureServiceDefinition } from "./feature-services";
import { sha256Hex } from "./hash";

export const RegistrySnapshot = z.object({
  /** Short content hash of the definitions, e.g. "r-3f2a9c1b7d0e"; what responses call feature_store_version. */
  version: z.string(),
  /** registry_versions.id of the apply that published it. */
  version_number: z.number().int().nonnegative(),
  applied_at: z.string(),
  author: z.string(),
  entities: z.array(EntityType),
  features: z.array(FeatureDefinition),
  /** Raw event types that aggregation features read (features/events.yaml); absent in older snapshots. */
  event_types: z.array(EventType).default([]),
  /** Named feature lists models depend on (features/services.yaml); absent in older snapshots. */
  feature_services: z.array(FeatureServiceDefinition).default([]),
});
export type RegistrySnapshot = z.infer<typeof RegistrySnapshot>;
/** A snapshot as built in code, where a registry without event types or services may leave them out. */
export type RegistrySnapshotInput = Omit<RegistrySnapshot, "event_types" | "feature_services"> & {
  event_types?: EventType[] | undefined;
  feature_services?: FeatureServiceDefinition[] | undefined;
};

export class CompiledRegistry {
  readonly version: string;
  readonly snapshot: RegistrySnapshot;
  private readonly byName = new Map<string, FeatureDefinition>();
  private readonly byQualified = new Map<string, FeatureDefinition>();
  private readonly byEntity = new Map<string, FeatureDefinition[]>();
  private readonly downstream = new Map<string, string[]>();
  private readonly inputs = new Map<string, FeatureDefinition[]>();
  private readonly events = new Map<string, EventType>();
  private readonly services = new Map<string, FeatureServiceDefinition>();

  constructor(input: RegistrySnapshotInput) {
    const snapshot: RegistrySnapshot = { ...input, event_types: input.event_types ?? [], feature_services: input.feature_services ?? [] };
    this.snapshot = snapshot;
    this.version = snapshot.version;
    for (const f of snapshot.features) {
      this.byName.set(f.name, f);
      this.byQualified.set(`${f.group}:${f.name}`, f);
      const list = this.byEntity.get(f.entity_type) ?? [];
      list.push(f);
      this.byEntity.set(f.entity_type, list);
    }
    for (const e of snapshot.event_types) this.events.set(e.name, e);
    for (const s of snapshot.feature_services) this.services.set(s.name, s);
    for (const f of snapshot.features) {
      for (const up of upstreamFeatures(f)) {
        const target = this.resolve(up);
        if (!target) continue;
        const list = this.downstream.get(target.name) ?? [];
        list.push(f.name);
        this.downstream.set(target.name, list);
      }
    }
  }

  static empty(): CompiledRegistry {
    return new CompiledRegistry({
      version: "r-empty",
      version_number: 0,
      applied_at: new Date(0).toISOString(),
      author: "none",
      entities: [],
      features: [],
      event_types: [],
      feature_services: [],
    });
  }

  featureService(name: string): FeatureServiceDefinition | undefined {
    return this.services.get(name);
  }

  /** The services that list a feature (by flat or qualified reference): its consumers, for discovery. */
  servicesOf(def: FeatureDefinition): FeatureServiceDefinition[] {
    return this.snapshot.feature_services.filter((s) => s.features.some((ref) => this.resolve(ref) === def));
  }

  eventType(name: string): EventType | undefined {
    return this.events.get(name);
  }

  /** `skip_rate_7d` or `user_behavior_features:skip_rate_7d` (Feast's `view:feature`). */
  resolve(ref: string): FeatureDefinition | undefined {
    return ref.includes(":") ? this.byQualified.get(ref) : this.byName.get(ref);
  }

  get features(): readonly FeatureDefinition[] {
    return this.snapshot.features;
  }

  forEntity(entityType: string): readonly FeatureDefinition[] {
    return this.byEntity.get(entityType) ?? [];
  }

  dependents(name: string): readonly string[] {
    return this.downstream.get(name) ?? [];
  }

  /** user_1 → user, by the longest matching id prefix of the registered entity types. */
  entityTypeOf(entityId: string): string | undefined {
    let best: string | undefined;
    let bestLen = 0;
    for (const e of this.snapshot.entities) {
      if (e.id_prefix && entityId.startsWith(e.id_prefix) && e.id_prefix.length > bestLen) {
        best = e.name;
        bestLen = e.id_prefix.length;
      }
    }
    return best;
  }

  /** Stored features an on-demand transform reads (its `feature:` inputs), resolved once per definition. */
  storedInputsOf(def: FeatureDefinition): readonly FeatureDefinition[] {
    let inputs = this.inputs.get(def.name);
    if (!inputs) {
      inputs = (def.transform?.inputs ?? [])
        .filter((i) => i.startsWith("feature:"))
        .map((i) => this.resolve(i.slice("feature:".length)))
        .filter((d): d is FeatureDefinition => d !== undefined && d.computation_type !== "on_demand");
      this.inputs.set(def.name, inputs);
    }
    return inputs;
  }
}

/** Upstream feature references of a definition: depends_on.features plus `feature:` transform inputs. */
export function upstreamFeatures(f: FeatureDefinition): string[] {
  const refs = new Set(f.depends_on.features);
  for (const input of f.transform?.inputs ?? []) if (input.startsWith("feature:")) refs.add(input.slice("feature:".length));
  return [...refs];
}

// ------------------------------------------------------------------ hashing

/** JSON with sorted keys, so the same definitions always hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

export async function registryContentHash(
  entities: EntityType[],
  features: FeatureDefinition[],
  eventTypes: readonly EventType[] = [],
  services: readonly FeatureServiceDefinition[] = [],
): Promise<string> {
  const byName = <T extends { name: string }>(list: readonly T[]) => [...list].sort((a, b) => (a.name < b.name ? -1 : 1));
  // Parts a registry does not have are left out, so older versions keep their names.
  return sha256Hex(
    canonicalJson({
      entities: byName(entities),
      features: byName(features),
      ...(eventTypes.length ? { event_types: byName(eventTypes) } : {}),
      ...(services.length ? { feature_services: byName(services) } : {}),
    }),
  );
}

// ------------------------------------------------------------------ diff

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
  breaking: boolean;
  reason?: string;
}

export interface FeatureChange {
  name: string;
  kind: "created" | "updated" | "deleted";
  changes: FieldChange[];
  breaking: boolean;
}

export interface RegistryDiff {
  created: FeatureChange[];
  updated: FeatureChange[];
  deleted: FeatureChange[];
  breaking: FeatureChange[];
  empty: boolean;
}

/**
 * Field-by-field diff of applied vs desired definitions. `hasData(name)` says whether a feature
 * has stored values: tightening validation only breaks something when there is data it may reject.
 */
export function diffRegistry(
  applied: readonly FeatureDefinition[],
  desired: readonly FeatureDefinition[],
  hasData: (name: string) => boolean,
): RegistryDiff {
  const before = new Map(applied.map((f) => [f.name, f]));
  const after = new Map(desired.map((f) => [f.name, f]));
  const created: FeatureChange[] = [];
  const updated: FeatureChange[] = [];
  const deleted: FeatureChange[] = [];
  for (const [name, f] of after) {
    const old = before.get(name);
    if (!old) {
      created.push({ name, kind: "created", changes: [], breaking: false });
      continue;
    }
    const changes = fieldChanges(old, f, hasData(name));
    if (changes.length) updated.push({ name, kind: "updated", changes, breaking: changes.some((c) => c.breaking) });
  }
  for (const [name] of before) {
    if (!after.has(name)) {
      deleted.push({
        name,
        kind: "deleted",
        changes: [],
        breaking: true,
      });
    }
  }
  const sortByName = (a: FeatureChange, b: FeatureChange) => (a.name < b.name ? -1 : 1);
  created.sort(sortByName);
  updated.sort(sortByName);
  deleted.sort(sortByName);
  const breaking = [...updated, ...deleted].filter((c) => c.breaking);
  return { created, updated, deleted, breaking, empty: created.length + updated.length + deleted.length === 0 };
}

const IDENTITY_FIELDS = new Set(["feature_type", "entity_type", "item_type", "dimension", "computation_type"]);

function fieldChanges(old: FeatureDefinition, next: FeatureDefinition, hasData: boolean): FieldChange[] {
  const keys = new Set([...Object.keys(old), ...Object.keys(next)]);
  const out: FieldChange[] = [];
  for (const field of [...keys].sort()) {
    const from = (old as Record<string, unknown>)[field];
    const to = (next as Record<string, unknown>)[field];
    if (canonicalJson(from) === canonicalJson(to)) continue;
    const change: FieldChange = { field, from, to, breaking: false };
    if (IDENTITY_FIELDS.has(field)) {
      change.breaking = true;
      change.reason = `${field} change makes stored values and consumers incompatible`;
    } else if (field === "group") {
      // Requests, Feast feature refs and saved dataset specs may name it "group:name" (or group__name).
      change.breaking = true;
      change.reason = `moving to another group breaks references to "${String(from)}:${next.name}"`;
    } else if (hasData && tightens(field, from, to, next.null_policy)) {
      change.breaking = true;
      change.reason = `tightened validation (${field}) on a feature with stored data`;
    }
    out.push(change);
  }
  return out;
}

function tightens(field: string, from: unknown, to: unknown, policy: string): boolean {
  switch (field) {
    case "min_value":
      return typeof to === "number" && (typeof from !== "number" || to > from);
    case "max_value":
      return typeof to === "number" && (typeof from !== "number" || to < from);
    case "allowed_values": {
      if (!Array.isArray(to)) return false;
      if (!Array.isArray(from)) return true;
      return (from as unknown[]).some((v) => !(to as unknown[]).includes(v));
    }
    case "null_policy":
      return to === "reject" && policy === "reject";
    default:
      return false;
  }
}

// ------------------------------------------------------------------ named definitions

/** A change of one named definition (an event type, a feature service, an entity type). */
export interface NamedChange {
  name: string;
  kind: "created" | "updated" | "deleted";
  changes: FieldChange[];
  breaking: boolean;
}

/**
 * Applied vs desired definitions by name: created, updated (when `changesOf` finds field changes;
 * breaking when one of them is) and deleted (always breaking: something refers to it by name), sorted.
 */
export function diffByName<T extends { name: string }>(
  applied: readonly T[],
  desired: readonly T[],
  changesOf: (old: T, next: T) => FieldChange[],
): NamedChange[] {
  const before = new Map(applied.map((d) => [d.name, d]));
  const after = new Set(desired.map((d) => d.name));
  const out: NamedChange[] = [];
  for (const d of desired) {
    const old = before.get(d.name);
    if (!old) {
      out.push({ name: d.name, kind: "created", changes: [], breaking: false });
      continue;
    }
    const changes = changesOf(old, d);
    if (changes.length) out.push({ name: d.name, kind: "updated", changes, breaking: changes.some((c) => c.breaking) });
  }
  for (const name of before.keys()) if (!after.has(name)) out.push({ name, kind: "deleted", changes: [], breaking: true });
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

// ------------------------------------------------------------------ event types

export type EventTypeChange = NamedChange;

/** Event fields an aggregation reads: its field, its sides' fields and every filter field. */
export function aggregationFields(f: FeatureDefinition): string[] {
  const a = f.aggregation;
  if (!a) return [];
  const out = new Set<string>();
  for (const part of [a, a.numerator, a.denominator]) {
    if (!part) continue;
    if (part.field !== undefined) out.add(part.field);
    for (const k of Object.keys(part.filter ?? {})) out.add(k);
  }
  return [...out];
}

/**
 * Diff of applied vs desired event types. Breaking: removing an event type an applied feature
 * aggregates, or any event type (producers still send it); removing a field an applied aggregation
 * reads; changing a field's type; making a field required or narrowing its allowed values (events
 * producers send today would be rejected); dropping an entity key.
 */
export function diffEventTypes(
  applied: readonly EventType[],
  desired: readonly EventType[],
  appliedFeatures: readonly FeatureDefinition[],
): EventTypeChange[] {
  const usedBy = (type: string, field?: string) =>
    appliedFeatures
      .filter((f) => f.aggregation?.source_event === type && (field === undefined || aggregationFields(f).includes(field)))
      .map((f) => f.name);
  return diffByName(applied, desired, (old, e) => {
    const name = e.name;
    const changes: FieldChange[] = [];
    const change = (field: string, from: unknown, to: unknown, reason?: string) =>
      changes.push({ field, from, to, breaking: reason !== undefined, ...(reason ? { reason } : {}) });
    for (const [fieldName, f] of Object.entries(old.fields)) {
      const next = e.fields[fieldName];
      const where = `fields.${fieldName}`;
      if (!next) {
        const users = usedBy(name, fieldName);
        change(where, f, undefined, users.length ? `field removed but aggregated by ${users.join(", ")}` : undefined);
        continue;
      }
      if (canonicalJson(f) === canonicalJson(next)) continue;
      if (f.type !== next.type) change(where, f, next, `field type ${f.type} -> ${next.type} changes what aggregates compute`);
      else if (f.optional && !next.optional) change(where, f, next, "field made required: events without it would be rejected");
      else if (next.allowed_values && (!f.allowed_values || f.allowed_values.some((v) => !next.allowed_values?.includes(v))))
        change(where, f, next, "allowed_values narrowed: events producers send today would be rejected");
      else change(where, f, next);
    }
    for (const [fieldName, f] of Object.entries(e.fields))
      if (!old.fields[fieldName])
        change(`fields.${fieldName}`, undefined, f, f.optional ? undefined : "new required field: events without it would be rejected");
    const dropped = old.entity_keys.filter((k) => !e.entity_keys.includes(k));
    if (canonicalJson(old.entity_keys) !== canonicalJson(e.entity_keys))
      change("entity_keys", old.entity_keys, e.entity_keys, dropped.length ? `entity keys dropped: ${dropped.join(", ")}` : undefined);
    for (const key of ["description", "owner", "allowed_lateness"] as const)
      if (canonicalJson(old[key]) !== canonicalJson(e[key])) change(key, old[key], e[key]);
    return changes;
  });
}

/** Why removing an event type breaks: the features that aggregate it, or its producers. */
export function deletedEventTypeReason(name: string, appliedFeatures: readonly FeatureDefinition[]): string {
  const users = appliedFeatures.filter((f) => f.aggregation?.source_event === name).map((f) => f.name);
  return users.length
    ? `event type removed but aggregated by ${users.join(", ")}`
    : "event type removed: producers sending it would be rejected";
}

// ------------------------------------------------------------------ feature services

export type FeatureServiceChange = NamedChange;

/**
 * Diff of applied vs desired feature services. A model reads a service by name, so removing the
 * service, or a feature from it, breaks that model; adding features or editing metadata does not.
 */
export function diffFeatureServices(
  applied: readonly FeatureServiceDefinition[],
  desired: readonly FeatureServiceDefinition[],
): FeatureServiceChange[] {
  return diffByName(applied, desired, (old, s) => {
    const changes: FieldChange[] = [];
    for (const field of ["description", "owner", "tags", "features"] as const) {
      if (canonicalJson(old[field]) === canonicalJson(s[field])) continue;
      const dropped = field === "features" ? old.features.filter((f) => !s.features.includes(f)) : [];
      changes.push({
        field,
        from: old[field],
        to: s[field],
        breaking: dropped.length > 0,
        ...(dropped.length ? { reason: `features removed from the service: ${dropped.join(", ")}` } : {}),
      });
    }
    return changes;
  });
}

export const DELETED_SERVICE_REASON = "feature service removed: models that read it by name will fail";
