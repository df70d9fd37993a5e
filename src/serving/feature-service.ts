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
import type { JsonText } from "../core/json-text";
import { entityMapKey } from "../core/keys";
import { log } from "../core/log";
import type { CompiledRegistry } from "../core/registry";
import { runTransform } from "../core/transforms";
import type { Found, Lookup, ReadOptions, TieredFeatureStore } from "../stores/tiered-feature-store";
import { type PlanJsonKeys, planJsonKeys, type VectorParts, writeFeatureResponse } from "./feature-json";
import { type WriteMarks, writeMarksOf } from "./read-your-writes";

export interface ServeOptions {
  now: number;
  waitUntil: (p: Promise<unknown>) => void;
  /** Tally of served values by status (with or without include_metadata), e.g. the metrics' counters. */
  statuses?: Record<string, number>;
}

/**
 * A request's feature list resolved against one registry: shared by every request that asks for the
 * same list (a batch's requests mostly do), cached per registry object so a new version starts afresh.
 */
interface FeaturePlan {
  refs: readonly string[];
  defs: readonly FeatureDefinition[];
  /** The one entity type of every feature, when they share one (the primary type of a request without entity_type). */
  singleType: string | undefined;
  /** Entity types of the features that are read from storage (each needs an id in the request). */
  storedTypes: readonly string[];
  /**
   * What it reads per entity type, in the order a request's lookups are made: the stored features
   * of that type and the stored inputs of its on-demand features, each once. A lookup of one
   * request's entity takes its list as it is; only an entity that requests with other plans share
   * gets a merged copy.
   */
  reads: readonly { type: string; defs: readonly FeatureDefinition[] }[];
  /** Its keys as JSON text (feature-json.ts), made on the first JSON answer; null when it cannot be written so. */
  json?: PlanJsonKeys | null;
}

interface PlannedRequest {
  req: FeatureRequest;
  plan: FeaturePlan;
  /** The entity type `req.entity_id` is of. */
  primaryType: string | undefined;
}

/** Plans kept per registry (distinct feature lists; past this the cache starts over). */
export const PLAN_CACHE_MAX = 512;
const planCaches = new WeakMap<CompiledRegistry, Map<string, FeaturePlan>>();

/** The entity id a request gives for an entity type: its entity_id for the primary type, else `entities`. */
function entityOf(p: PlannedRequest, type: string): string | undefined {
  return type === p.primaryType ? p.req.entity_id : p.req.entities?.[type as keyof NonNullable<FeatureRequest["entities"]>];
}

function sameNames(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Per registry, the plan found last and the request it was found for: clients mostly repeat one feature list. */
const lastPlans = new WeakMap<CompiledRegistry, { req: FeatureRequest; plan: FeaturePlan }>();

/** The cached plan of a request's features, or undefined when one of them is unknown (the caller reports them all). */
function cachedPlan(registry: CompiledRegistry, req: FeatureRequest): FeaturePlan | undefined {
  // Comparing the names with the last request's is cheaper than joining and hashing them into the key.
  const last = lastPlans.get(registry);
  if (last && last.req.feature_service === req.feature_service && sameNames(last.req.feature_names, req.feature_names)) return last.plan;
  const plan = plannedFor(registry, req);
  if (plan) lastPlans.set(registry, { req, plan });
  return plan;
}

function plannedFor(registry: CompiledRegistry, req: FeatureRequest): FeaturePlan | undefined {
  let cache = planCaches.get(registry);
  if (!cache) {
    cache = new Map();
    planCaches.set(registry, cache);
  }
  const key = `${req.feature_service ?? ""}\u0000${(req.feature_names ?? []).join("\u0000")}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const refs = requestedRefs(registry, req);
  const defs: FeatureDefinition[] = [];
  for (const ref of refs) {
    const def = registry.resolve(ref);
    if (!def) return undefined;
    defs.push(def);
  }
  const types = new Set(defs.map((d) => d.entity_type));
  const reads = new Map<string, Set<FeatureDefinition>>();
  const read = (def: FeatureDefinition) => {
    let set = reads.get(def.entity_type);
    if (!set) {
      set = new Set();
      reads.set(def.entity_type, set);
    }
    set.add(def);
  };
  for (const def of defs) {
    if (def.computation_type !== "on_demand") read(def);
    else for (const input of registry.storedInputsOf(def)) read(input);
  }
  const plan: FeaturePlan = {
    refs,
    defs,
    singleType: types.size === 1 ? [...types][0] : undefined,
    storedTypes: [...new Set(defs.filter((d) => d.computation_type !== "on_demand").map((d) => d.entity_type))],
    reads: [...reads].map(([type, set]) => ({ type, defs: [...set] })),
  };
  if (cache.size >= PLAN_CACHE_MAX) cache.clear();
  cache.set(key, plan);
  return plan;
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

function planRequest(registry: CompiledRegistry, req: FeatureRequest, plan: FeaturePlan): PlannedRequest {
  const planned: PlannedRequest = { req, plan, primaryType: req.entity_type ?? registry.entityTypeOf(req.entity_id) ?? plan.singleType };
  if (plan.storedTypes.every((t) => entityOf(planned, t) !== undefined)) return planned;
  const missingEntities: string[] = [];
  plan.defs.forEach((def, i) => {
    if (def.computation_type !== "on_demand" && entityOf(planned, def.entity_type) === undefined)
      missingEntities.push(`${plan.refs[i]} (needs entities.${def.entity_type})`);
  });
  throw new FeatureStoreError(
    "bad_request",
    `entity_id ${snippet(req.entity_id)} is of type ${planned.primaryType ?? "unknown"}; these features belong to other entity types: ${missingEntities.join(", ")}`,
    { features: missingEntities },
  );
}

export class FeatureService {
  constructor(private readonly store: TieredFeatureStore) {}

  /** Serves many requests with one pass through the tiers (entities shared across requests are read once). */
  async serve(
    registry: CompiledRegistry,
    requests: FeatureRequest[],
    opts: ServeOptions,
  ): Promise<(FeatureResponse | FeatureErrorResult)[]> {
    const { planned, byEntity } = await this.read(registry, requests, opts);
    const parts = scratch;
    return planned.map((p) => {
      const rejected = this.fill(p, byEntity, registry, opts.now, opts.statuses, parts);
      return rejected ? rejectedResult(p, rejected) : responseObject(p, parts, registry, opts.now);
    });
  }

  /**
   * `serve`, each answer written as its JSON text (feature-json.ts) instead of an object: the same
   * bytes JSON.stringify gives, without the object graph. A request that failed alone is its object.
   */
  async serveJson(
    registry: CompiledRegistry,
    requests: FeatureRequest[],
    opts: ServeOptions,
  ): Promise<(JsonText<FeatureResponse> | FeatureErrorResult)[]> {
    const { planned, byEntity } = await this.read(registry, requests, opts);
    const parts = scratch;
    const timestamp = Math.floor(opts.now / 1000);
    const versionJson = JSON.stringify(registry.version);
    return planned.map((p) => {
      const rejected = this.fill(p, byEntity, registry, opts.now, opts.statuses, parts);
      if (rejected) return rejectedResult(p, rejected);
      const { plan } = p;
      if (plan.json === undefined) plan.json = planJsonKeys(plan.refs);
      const text =
        plan.json &&
        writeFeatureResponse(
          plan.json,
          parts,
          JSON.stringify(p.req.entity_id),
          timestamp,
          versionJson,
          p.req.include_metadata === true,
          opts.now,
        );
      return text ?? (JSON.stringify(responseObject(p, parts, registry, opts.now)) as JsonText<FeatureResponse>);
    });
  }

  /** Plans the requests and reads their entities through the tiers. */
  private async read(
    registry: CompiledRegistry,
    requests: FeatureRequest[],
    opts: ServeOptions,
  ): Promise<{ planned: PlannedRequest[]; byEntity: Map<string, Map<string, Found>> }> {
    // One plan per distinct feature list: a request asking what the one before it asked reuses its plan.
    const plans: FeaturePlan[] = [];
    let values = 0;
    for (let i = 0; i < requests.length; i++) {
      const req = requests[i]!;
      const prev = requests[i - 1];
      let plan =
        prev && prev.feature_service === req.feature_service && sameNames(prev.feature_names, req.feature_names) ? plans[i - 1] : undefined;
      plan ??= cachedPlan(registry, req);
      if (!plan) {
        // An unknown name: a call too large is a 413 first; else resolving every request's names
        // throws the 404 that lists all of them.
        const refs = requests.map((r) => requestedRefs(registry, r));
        checkValueCount(refs.reduce((n, r) => n + r.length, 0));
        resolveFeatureRefs(registry, refs.flat());
        throw new Error("a feature list failed to resolve, then resolved");
      }
      plans.push(plan);
      values += plan.refs.length;
    }
    checkValueCount(values);
    const planned = requests.map((req, i) => planRequest(registry, req, plans[i]!));
    const marks = writeMarksOf(requests);

    // One lookup per entity, union of its stored features (including transform inputs), in the
    // order the requests first name them; a lookup keeps its plan's list unless another plan adds to it.
    const lookups = new Map<string, Lookup>();
    let tightest = Number.POSITIVE_INFINITY;
    for (const p of planned) {
      if (p.req.max_staleness_ms !== undefined && p.req.max_staleness_ms < tightest) tightest = p.req.max_staleness_ms;
      for (const r of p.plan.reads) {
        const id = entityOf(p, r.type);
        if (id === undefined) continue;
        const key = entityMapKey(r.type, id);
        const l = lookups.get(key);
        if (!l) lookups.set(key, { entityType: r.type, entityId: id, features: r.defs });
        else if (l.features !== r.defs) l.features = unionDefs(l.features, r.defs);
      }
    }
    const lookupList = [...lookups.values()];
    if (marks) for (const l of lookupList) marks.attach(l);
    const maxAgeMs = (def: FeatureDefinition) => Math.min(def.ttl_seconds * 1000, tightest);
    const readOptions = { maxAgeMs, waitUntil: opts.waitUntil };
    const found = await this.store.read(lookupList, readOptions);
    if (marks) await this.awaitWrites(lookupList, found, marks, readOptions);
    const byEntity = new Map<string, Map<string, Found>>();
    let i = 0;
    for (const key of lookups.keys()) byEntity.set(key, found[i++]!);

    if (lookupList.length && found.every(allUnavailable)) {
      throw new FeatureStoreError(
        "unavailable",
        "No storage tier could answer: KV, Durable Objects, Redis and Postgres all failed or timed out",
      );
    }
    return { planned, byEntity };
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

  /**
   * Fills `parts` with the request's values, statuses, tiers and event times (its plan's order) and
   * tallies its statuses; returns the features with null_policy reject that have no value (the
   * request then failed alone, and nothing is tallied), else undefined.
   */
  private fill(
    p: PlannedRequest,
    byEntity: Map<string, Map<string, Found>>,
    registry: CompiledRegistry,
    now: number,
    statuses: Record<string, number> | undefined,
    parts: VectorParts,
  ): string[] | undefined {
    let rejected: string[] | undefined;
    // Features of one entity usually share their entity: look it up once per run of equal types.
    let lastType: string | undefined;
    let lastFound: Map<string, Found> | undefined;
    let present = 0;
    let notFound = 0;
    let outsideMaxAge = 0;
    let defaulted = 0;
    const { refs, defs } = p.plan;
    const maxStaleness = p.req.max_staleness_ms ?? Number.POSITIVE_INFINITY;
    for (let k = 0; k < defs.length; k++) {
      const def = defs[k]!;
      let value: unknown = null;
      let status: FeatureStatus;
      let tier: ServedTier | null = null;
      let eventTs: number | null = null;
      if (def.computation_type === "on_demand") {
        const inputs: Record<string, unknown> = {};
        for (const input of registry.storedInputsOf(def)) {
          const id = entityOf(p, input.entity_type);
          const got = id === undefined ? undefined : byEntity.get(entityMapKey(input.entity_type, id))?.get(input.name);
          if (got?.value && now - got.value.eventTimestamp <= input.ttl_seconds * 1000) inputs[input.name] = got.value.value;
        }
        value = computeOnDemand(def, p.req.context ?? {}, inputs, now);
        status = value === null || value === undefined ? "NOT_FOUND" : "PRESENT";
        tier = "computed";
        eventTs = now;
      } else {
        if (def.entity_type !== lastType) {
          lastType = def.entity_type;
          lastFound = byEntity.get(entityMapKey(lastType, entityOf(p, lastType)!));
        }
        const got = lastFound?.get(def.name);
        const maxAge = Math.min(def.ttl_seconds * 1000, maxStaleness);
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
        if (def.null_policy === "default") {
          value = def.default_value ?? null;
          status = "DEFAULTED";
        } else if (def.null_policy === "reject") {
          rejected ??= [];
          rejected.push(refs[k]!);
        }
      }
      parts.values[k] = value;
      parts.statuses[k] = status;
      parts.tiers[k] = tier;
      parts.eventTs[k] = eventTs;
      if (status === "PRESENT") present++;
      else if (status === "NOT_FOUND") notFound++;
      else if (status === "OUTSIDE_MAX_AGE") outsideMaxAge++;
      else defaulted++;
    }
    if (rejected) return rejected;
    if (statuses) {
      statuses.PRESENT = (statuses.PRESENT ?? 0) + present;
      statuses.NOT_FOUND = (statuses.NOT_FOUND ?? 0) + notFound;
      statuses.OUTSIDE_MAX_AGE = (statuses.OUTSIDE_MAX_AGE ?? 0) + outsideMaxAge;
      statuses.DEFAULTED = (statuses.DEFAULTED ?? 0) + defaulted;
    }
    return undefined;
  }
}

/** `a`, then the features of `b` it lacks. */
function unionDefs(a: readonly FeatureDefinition[], b: readonly FeatureDefinition[]): FeatureDefinition[] {
  const has = new Set(a);
  return [...a, ...b.filter((d) => !has.has(d))];
}

/** Did no tier answer for any feature of this lookup? */
function allUnavailable(found: Map<string, Found>): boolean {
  for (const f of found.values()) if (!f.unavailable) return false;
  return true;
}

/**
 * Scratch arrays for one request's values at a time, shared by every call: `fill` overwrites them
 * and the writers read them right after, with no await in between.
 */
const scratch: VectorParts = { values: [], statuses: [], tiers: [], eventTs: [] };

/** The answer of a request with a reject-policy feature left without a value. */
function rejectedResult(p: PlannedRequest, rejected: string[]): FeatureErrorResult {
  return {
    entity_id: p.req.entity_id,
    error: {
      code: "value_required",
      message: `No value for ${rejected.join(", ")} (null_policy: reject) for entity ${p.req.entity_id}`,
      details: { features: rejected },
    },
  };
}

/** The FeatureResponse object of filled `parts`. */
function responseObject(p: PlannedRequest, parts: VectorParts, registry: CompiledRegistry, now: number): FeatureResponse {
  const features: Record<string, unknown> = {};
  const metadata: Record<string, FeatureMetadata> = {};
  const { refs } = p.plan;
  // Format each timestamp once per run of equal ones (toISOString was a third of serving 100 × 50 values).
  let isoOf = Number.NaN;
  let iso = "";
  for (let k = 0; k < refs.length; k++) {
    const ref = refs[k]!;
    const eventTs = parts.eventTs[k]!;
    features[ref] = parts.values[k];
    if (eventTs !== null && eventTs !== isoOf) {
      isoOf = eventTs;
      iso = new Date(eventTs).toISOString();
    }
    metadata[ref] = {
      status: parts.statuses[k]!,
      event_timestamp: eventTs === null ? null : iso,
      age_ms: eventTs === null ? null : Math.max(0, now - eventTs),
      tier: parts.tiers[k]!,
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
