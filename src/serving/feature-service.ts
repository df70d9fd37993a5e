// Assembles feature vectors: resolves names, reads stored features through the tiers, runs transforms, applies policies.

import type { FeatureDefinition } from "../core/definitions";
import { FeatureStoreError, listedSnippets, snippet } from "../core/errors";
import {
  type FeatureErrorResult,
  type FeatureMetadata,
  type FeatureRequest,
  type FeatureResponse,
  type FeatureStatus,
  MAX_FEATURES_PER_REQUEST,
  MAX_VALUES_PER_REQUEST,
  type ServedTier,
} from "../core/feature-request";
import { entityMapKey } from "../core/keys";
import { log } from "../core/log";
import type { CompiledRegistry } from "../core/registry";
import { runTransform } from "../core/transforms";
import type { Found, Lookup, ReadOptions, TieredFeatureStore } from "../stores/tiered-feature-store";
import { type WriteMarks, writeMarksOf } from "./read-your-writes";

export interface ServeOptions {
  now: number;
  waitUntil: (p: Promise<unknown>) => void;
  /** Tally of served values by status (with or without include_metadata), e.g. the metrics' counters. */
  statuses?: Record<string, number>;
}

interface PlannedFeature {
  ref: string;
  def: FeatureDefinition;
  entityId: string | undefined;
}

interface PlannedRequest {
  req: FeatureRequest;
  features: PlannedFeature[];
}

/**
 * The references a request asks for: its feature service's (as flat names, so the response keys
 * do not depend on how services.yaml spells them), then its own feature_names not already listed.
 */
export function requestedRefs(registry: CompiledRegistry, req: FeatureRequest): string[] {
  let refs = req.feature_names ?? [];
  if (req.feature_service !== undefined) {
    const service = registry.featureService(req.feature_service);
    if (!service)
      throw new FeatureStoreError("not_found", `Unknown feature service: ${snippet(req.feature_service)}`, {
        known: registry.snapshot.feature_services.map((s) => s.name),
        registry_version: registry.version,
      });
    const names = service.features.map((ref) => registry.resolve(ref)?.name ?? ref);
    const listed = new Set(names);
    refs = [...names, ...refs.filter((r) => !listed.has(registry.resolve(r)?.name ?? r))];
  }
  if (refs.length > MAX_FEATURES_PER_REQUEST)
    throw new FeatureStoreError(
      "payload_too_large",
      `${refs.length} features in one request exceed the limit of ${MAX_FEATURES_PER_REQUEST}`,
      {
        limit: MAX_FEATURES_PER_REQUEST,
      },
    );
  return refs;
}

/** Resolve every name up front: unknown names are a 404 that lists each of them. */
export function resolveFeatureRefs(registry: CompiledRegistry, refs: Iterable<string>): Map<string, FeatureDefinition> {
  const out = new Map<string, FeatureDefinition>();
  const unknown: string[] = [];
  for (const ref of refs) {
    if (out.has(ref)) continue;
    const def = registry.resolve(ref);
    if (def) out.set(ref, def);
    else unknown.push(ref);
  }
  if (unknown.length) {
    throw new FeatureStoreError("not_found", `Unknown feature${unknown.length > 1 ? "s" : ""}: ${listedSnippets(unknown)}`, {
      unknown_features: unknown.slice(0, 100).map((n) => snippet(n)),
      registry_version: registry.version,
    });
  }
  return out;
}

/** Entities × features of one call (a batch, or Feast's columns): past the limit, a 413 asking to split it. */
function checkValueCount(n: number): void {
  if (n > MAX_VALUES_PER_REQUEST)
    throw new FeatureStoreError(
      "payload_too_large",
      `${n} entities × features in one request exceed the limit of ${MAX_VALUES_PER_REQUEST}; split it`,
      { limit: MAX_VALUES_PER_REQUEST, values: n },
    );
}

function planRequest(
  registry: CompiledRegistry,
  req: FeatureRequest,
  refs: readonly string[],
  defs: Map<string, FeatureDefinition>,
): PlannedRequest {
  const primaryType = req.entity_type ?? registry.entityTypeOf(req.entity_id) ?? singleEntityType(refs.map((r) => defs.get(r)!));
  const idFor = (type: string): string | undefined =>
    type === primaryType ? req.entity_id : req.entities?.[type as keyof typeof req.entities];
  const features: PlannedFeature[] = [];
  const missingEntities: string[] = [];
  for (const ref of refs) {
    const def = defs.get(ref)!;
    const entityId = idFor(def.entity_type);
    if (entityId === undefined && def.computation_type !== "on_demand") missingEntities.push(`${ref} (needs entities.${def.entity_type})`);
    features.push({ ref, def, entityId });
  }
  if (missingEntities.length) {
    throw new FeatureStoreError(
      "bad_request",
      `entity_id ${snippet(req.entity_id)} is of type ${primaryType ?? "unknown"}; these features belong to other entity types: ${missingEntities.join(", ")}`,
      { features: missingEntities },
    );
  }
  return { req, features };
}

function singleEntityType(defs: FeatureDefinition[]): string | undefined {
  const types = new Set(defs.map((d) => d.entity_type));
  return types.size === 1 ? [...types][0] : undefined;
}

export class FeatureService {
  constructor(private readonly store: TieredFeatureStore) {}

  /** Serves many requests with one pass through the tiers (entities shared across requests are read once). */
  async serve(
    registry: CompiledRegistry,
    requests: FeatureRequest[],
    opts: ServeOptions,
  ): Promise<(FeatureResponse | FeatureErrorResult)[]> {
    const refs = requests.map((r) => requestedRefs(registry, r));
    checkValueCount(refs.reduce((n, r) => n + r.length, 0));
    const defs = resolveFeatureRefs(registry, refs.flat());
    const planned = requests.map((req, i) => planRequest(registry, req, refs[i]!, defs));
    const marks = writeMarksOf(requests);

    // One lookup per entity, union of its stored features (including transform inputs).
    type Pending = Lookup & { has: Set<FeatureDefinition> };
    const lookups = new Map<string, Pending>();
    // A request's features mostly share one entity: remember the last lookup instead of building and
    // hashing its key for each of them (that was a tenth of a 100 × 50 batch).
    let last: Pending | undefined;
    const need = (type: string, id: string, def: FeatureDefinition) => {
      let l = last;
      if (!l || l.entityId !== id || l.entityType !== type) {
        const key = entityMapKey(type, id);
        l = lookups.get(key);
        if (!l) {
          l = { entityType: type, entityId: id, features: [], has: new Set() };
          lookups.set(key, l);
        }
        last = l;
      }
      if (!l.has.has(def)) {
        l.has.add(def);
        l.features.push(def);
      }
    };
    for (const p of planned) {
      for (const f of p.features) {
        if (f.def.computation_type !== "on_demand") {
          need(f.def.entity_type, f.entityId!, f.def);
          continue;
        }
        const inputs = registry.storedInputsOf(f.def);
        for (const input of inputs) {
          const id = input.entity_type === f.def.entity_type ? f.entityId : entityIdFor(p, input.entity_type);
          if (id !== undefined) need(input.entity_type, id, input);
        }
      }
    }
    const lookupList = [...lookups.values()];
    if (marks) for (const l of lookupList) marks.attach(l);
    const staleness = new Map<FeatureRequest, number | undefined>(planned.map((p) => [p.req, p.req.max_staleness_ms]));
    const tightest = Math.min(...[...staleness.values()].map((v) => v ?? Number.POSITIVE_INFINITY));
    const maxAgeMs = (def: FeatureDefinition) => Math.min(def.ttl_seconds * 1000, tightest);
    const readOptions = { maxAgeMs, waitUntil: opts.waitUntil };
    const found = await this.store.read(lookupList, readOptions);
    if (marks) await this.awaitWrites(lookupList, found, marks, readOptions);
    const byEntity = new Map<string, Map<string, Found>>();
    lookupList.forEach((l, i) => {
      byEntity.set(entityMapKey(l.entityType, l.entityId), found[i]!);
    });

    if (lookupList.length && found.every((m) => [...m.values()].every((f) => f.unavailable))) {
      throw new FeatureStoreError(
        "unavailable",
        "No storage tier could answer: KV, Durable Objects, Redis and Postgres all failed or timed out",
      );
    }
    return planned.map((p) => this.assemble(p, byEntity, registry, opts.now, opts.statuses));
  }

  /**
   * Read-your-writes: reads again the lookups whose values are older than their token's writes
   * (still in the queue or the consumer) until each has caught up, or answers 503 after
   * WRITE_WAIT_MS. Only requests with a token pay for this.
   */
  private async awaitWrites(lookups: Lookup[], found: Map<string, Found>[], marks: WriteMarks, readOptions: ReadOptions): Promise<void> {
    const deadline = Date.now() + marks.waitMs;
    for (let delay = 20; ; delay = Math.min(delay * 2, 200)) {
      const behind = lookups.flatMap((l, i) => (marks.behind(l, found[i]!).length ? [i] : []));
      if (behind.length === 0) return;
      if (Date.now() + delay > deadline) {
        const first = lookups[behind[0]!]!;
        throw new FeatureStoreError(
          "unavailable",
          `The writes of min_write_token are not visible yet for ${behind.length} entit${behind.length > 1 ? "ies" : "y"} (e.g. ${first.entityType} ${snippet(first.entityId)}: ${marks.behind(first, found[behind[0]!]!).join(", ")}) after ${marks.waitMs} ms; retry, or check the dead letters if it persists`,
          { entities: behind.length, waited_ms: marks.waitMs, retry_after_s: 1 },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      const again = await this.store.read(
        behind.map((i) => lookups[i]!),
        readOptions,
      );
      behind.forEach((i, j) => {
        found[i] = again[j]!;
      });
    }
  }

  private assemble(
    p: PlannedRequest,
    byEntity: Map<string, Map<string, Found>>,
    registry: CompiledRegistry,
    now: number,
    statuses: Record<string, number> | undefined,
  ): FeatureResponse | FeatureErrorResult {
    const features: Record<string, unknown> = {};
    const metadata: Record<string, FeatureMetadata> = {};
    const rejected: string[] = [];
    // Features of one entity usually share their entity and event time: look each up and format
    // each timestamp once per run of equal ones (toISOString was a third of serving 100 × 50 values).
    let isoOf = Number.NaN;
    let iso = "";
    let lastType: string | undefined;
    let lastId: string | undefined;
    let lastFound: Map<string, Found> | undefined;
    const tally: Record<FeatureStatus, number> = { PRESENT: 0, NOT_FOUND: 0, OUTSIDE_MAX_AGE: 0, DEFAULTED: 0 };
    for (const f of p.features) {
      let value: unknown = null;
      let status: FeatureStatus;
      let tier: ServedTier | null = null;
      let eventTs: number | null = null;
      if (f.def.computation_type === "on_demand") {
        const inputs: Record<string, unknown> = {};
        for (const input of registry.storedInputsOf(f.def)) {
          const id = input.entity_type === f.def.entity_type ? f.entityId : entityIdFor(p, input.entity_type);
          const got = id === undefined ? undefined : byEntity.get(entityMapKey(input.entity_type, id))?.get(input.name);
          if (got?.value && now - got.value.eventTimestamp <= input.ttl_seconds * 1000) inputs[input.name] = got.value.value;
        }
        value = computeOnDemand(f.def, p.req.context ?? {}, inputs, now);
        status = value === null || value === undefined ? "NOT_FOUND" : "PRESENT";
        tier = "computed";
        eventTs = now;
      } else {
        if (f.def.entity_type !== lastType || f.entityId !== lastId) {
          lastType = f.def.entity_type;
          lastId = f.entityId;
          lastFound = byEntity.get(entityMapKey(lastType, lastId!));
        }
        const got = lastFound?.get(f.def.name);
        const maxAge = Math.min(f.def.ttl_seconds * 1000, p.req.max_staleness_ms ?? Number.POSITIVE_INFINITY);
        if (!got?.value) status = "NOT_FOUND";
        else {
          tier = got.tier;
          eventTs = got.value.eventTimestamp;
          if (now - got.value.eventTimestamp > maxAge) status = "OUTSIDE_MAX_AGE";
          else {
            status = "PRESENT";
            value = got.value.value;
          }
        }
      }
      if (value === null || value === undefined) {
        value = null;
        if (f.def.null_policy === "default") {
          value = f.def.default_value ?? null;
          status = "DEFAULTED";
        } else if (f.def.null_policy === "reject") rejected.push(f.ref);
      }
      features[f.ref] = value;
      tally[status]++;
      if (eventTs !== null && eventTs !== isoOf) {
        isoOf = eventTs;
        iso = new Date(eventTs).toISOString();
      }
      metadata[f.ref] = {
        status,
        event_timestamp: eventTs === null ? null : iso,
        age_ms: eventTs === null ? null : Math.max(0, now - eventTs),
        tier,
      };
    }
    if (statuses && !rejected.length) for (const [s, n] of Object.entries(tally)) statuses[s] = (statuses[s] ?? 0) + n;
    if (rejected.length) {
      return {
        entity_id: p.req.entity_id,
        error: {
          code: "value_required",
          message: `No value for ${rejected.join(", ")} (null_policy: reject) for entity ${p.req.entity_id}`,
          details: { features: rejected },
        },
      };
    }
    return {
      entity_id: p.req.entity_id,
      features,
      timestamp: Math.floor(now / 1000),
      feature_store_version: registry.version,
      ...(p.req.include_metadata ? { metadata } : {}),
    };
  }
}

function entityIdFor(p: PlannedRequest, type: string): string | undefined {
  const primary = p.features.find((f) => f.def.entity_type === type && f.entityId !== undefined);
  return primary?.entityId ?? p.req.entities?.[type as keyof NonNullable<FeatureRequest["entities"]>];
}

function computeOnDemand(
  def: FeatureDefinition,
  context: Record<string, unknown>,
  features: Record<string, unknown>,
  now: number,
): unknown {
  try {
    return runTransform(def.transform!.name, { context, features, now });
  } catch (err) {
    // A transform bug must cost one feature, not the whole vector.
    log("error", "transform_failed", { transform: def.transform?.name, feature: def.name, error: err });
    return null;
  }
}
