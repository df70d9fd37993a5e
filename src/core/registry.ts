// The compiled registry: snapshot shape, fast lookups by flat or qualified name, diff and breaking changes.
import { z } from "zod";
import { EntityType, FeatureDefinition } from "./definitions";
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
});
export type RegistrySnapshot = z.infer<typeof RegistrySnapshot>;

export class CompiledRegistry {
  readonly version: string;
  readonly snapshot: RegistrySnapshot;
  private readonly byName = new Map<string, FeatureDefinition>();
  private readonly byQualified = new Map<string, FeatureDefinition>();
  private readonly byEntity = new Map<string, FeatureDefinition[]>();
  private readonly downstream = new Map<string, string[]>();
  private readonly inputs = new Map<string, FeatureDefinition[]>();

  constructor(snapshot: RegistrySnapshot) {
    this.snapshot = snapshot;
    this.version = snapshot.version;
    for (const f of snapshot.features) {
      this.byName.set(f.name, f);
      this.byQualified.set(`${f.group}:${f.name}`, f);
      const list = this.byEntity.get(f.entity_type) ?? [];
      list.push(f);
      this.byEntity.set(f.entity_type, list);
    }
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
    });
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

export async function registryContentHash(entities: EntityType[], features: FeatureDefinition[]): Promise<string> {
  const sorted = [...features].sort((a, b) => (a.name < b.name ? -1 : 1));
  const ents = [...entities].sort((a, b) => (a.name < b.name ? -1 : 1));
  return sha256Hex(canonicalJson({ entities: ents, features: sorted }));
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
