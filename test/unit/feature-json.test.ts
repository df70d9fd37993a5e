// Answers written as JSON text (FeatureService.serveJson, src/serving/feature-json.ts) are byte for byte what JSON.stringify gives for serve's objects.
import { describe, expect, it } from "vitest";
import type { ComputationType } from "../../src/core/definitions";
import type { FeatureRequest } from "../../src/core/feature-request";
import { jsonArray } from "../../src/core/json-text";
import { entityMapKey, type TimedValue } from "../../src/core/keys";
import type { EntityRef, OnlineStoreReader } from "../../src/core/online-store";
import { CompiledRegistry } from "../../src/core/registry";
import { jsonValue, planJsonKeys } from "../../src/serving/feature-json";
import { FeatureService } from "../../src/serving/feature-service";
import { MemoryCache } from "../../src/stores/memory-cache";
import { TieredFeatureStore } from "../../src/stores/tiered-feature-store";
import { catalogSnapshot } from "../support/catalog-snapshot";

const NOW = Date.UTC(2026, 11, 2, 10, 30, 0, 123);
const DAY = 86_400_000;
const registry = new CompiledRegistry(catalogSnapshot("r-json"));
const features = registry.snapshot.features;

/** Values of every JSON kind, and some JSON.stringify treats specially. */
const VALUES: unknown[] = [
  1.5,
  -0,
  0,
  42,
  1e21,
  5e-324,
  -123.456,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  "rock",
  "",
  'quote " backslash \\ slash /',
  "line\nbreak\ttab\u0001\u001f",
  "é 😀 \u2028\u2029",
  "\uD800 lone",
  true,
  false,
  null,
  ["rock", "pop", 3, null],
  [],
  [[1, 2], { a: 1 }],
  { nested: { deeper: [1, "x"] }, 'k"ey': true },
  {},
];

/** A tier holding, per entity, one value of VALUES per feature (some features missing, some too old). */
class CatalogTier implements OnlineStoreReader {
  readonly tier = "kv";
  readonly serves: ReadonlySet<ComputationType> = new Set(["batch", "stream", "aggregation"]);
  readonly deadlineMs = 1_000;
  readonly rows = new Map<string, Record<string, TimedValue>>();

  constructor(entities: EntityRef[]) {
    entities.forEach((e, n) => {
      const row: Record<string, TimedValue> = {};
      features.forEach((f, i) => {
        if (f.entity_type !== e.entityType || f.computation_type === "on_demand") return;
        const pick = (n * 7 + i * 3) % (VALUES.length + 3);
        if (pick === VALUES.length) return; // NOT_FOUND
        // Event times shared by runs of features, some older than any ttl (OUTSIDE_MAX_AGE).
        const age = pick === VALUES.length + 1 ? 400 * DAY : ((i % 3) * 61_000 + n * 1_000) % DAY;
        row[f.name] = { eventTimestamp: NOW - age, value: VALUES[pick % VALUES.length] };
      });
      this.rows.set(entityMapKey(e.entityType, e.entityId), row);
    });
  }

  async ping() {
    return undefined;
  }

  async read(refs: readonly EntityRef[], names: readonly (readonly string[])[]) {
    return refs.map((r, i) => {
      const row = this.rows.get(entityMapKey(r.entityType, r.entityId)) ?? {};
      const out: Record<string, TimedValue> = {};
      for (const f of names[i] ?? []) if (row[f]) out[f] = row[f];
      return out;
    });
  }
}

const ENTITIES: EntityRef[] = ["user", "track", "artist", "session"].flatMap((entityType) =>
  Array.from({ length: 6 }, (_, n) => ({ entityType, entityId: `${entityType}_${n}${n === 5 ? ' "quoted" é' : ""}` })),
);

function service(): FeatureService {
  const store = new TieredFeatureStore([[new CatalogTier(ENTITIES)]], new MemoryCache(undefined, undefined, () => NOW), {
    now: () => NOW,
  });
  return new FeatureService(store);
}

const namesOf = (type: string) => features.filter((f) => f.entity_type === type).map((f) => f.name);

function requests(): FeatureRequest[] {
  const out: FeatureRequest[] = [];
  for (let n = 0; n < 6; n++) {
    for (const type of ["user", "track", "artist", "session"] as const) {
      out.push({
        entity_id: `${type}_${n}${n === 5 ? ' "quoted" é' : ""}`,
        entity_type: type,
        feature_names: namesOf(type),
        include_metadata: n % 2 === 0,
      });
    }
    // Every feature of the catalog at once: other entity types through `entities`, on-demand ones with context.
    out.push({
      entity_id: `user_${n}`,
      entities: { track: `track_${n}`, artist: `artist_${n}`, session: `session_${n}` },
      feature_names: features.map((f) => f.name),
      include_metadata: true,
      context: { device_type: "mobile", hour_of_day: 7, playlist_id: "pl_1", source: "search" },
      ...(n === 3 ? { max_staleness_ms: 90_000 } : {}),
    });
  }
  // Qualified names, a name given twice (the object keeps the first key with the last value), feature services.
  const first = features.find((f) => f.entity_type === "user" && f.computation_type !== "on_demand")!;
  out.push({ entity_id: "user_1", feature_names: [`${first.group}:${first.name}`, first.name], include_metadata: true });
  out.push({ entity_id: "user_2", feature_names: [first.name, "time_of_day", first.name], include_metadata: true });
  for (const s of registry.snapshot.feature_services)
    out.push({
      entity_id: "user_4",
      entities: { track: "track_4", artist: "artist_4", session: "session_4" },
      feature_service: s.name,
      include_metadata: true,
    });
  return out;
}

describe("FeatureService.serveJson", () => {
  it("writes the bytes JSON.stringify gives for serve's answers, and tallies the same statuses", async () => {
    const reqs = requests();
    const objectStatuses: Record<string, number> = {};
    const textStatuses: Record<string, number> = {};
    const objects = await service().serve(registry, reqs, { now: NOW, waitUntil: () => {}, statuses: objectStatuses });
    const texts = await service().serveJson(registry, reqs, { now: NOW, waitUntil: () => {}, statuses: textStatuses });
    expect(objects.some((o) => "error" in o)).toBe(true); // a reject-policy feature without a value
    expect(texts.filter((t) => typeof t === "string").length).toBeGreaterThan(reqs.length / 2);
    expect(texts.length).toBe(objects.length);
    texts.forEach((t, i) => {
      expect(typeof t === "string" ? t : JSON.stringify(t), `request ${i}`).toBe(JSON.stringify(objects[i]));
    });
    expect(jsonArray(texts)).toBe(JSON.stringify(objects));
    expect(textStatuses).toEqual(objectStatuses);
    for (const status of ["PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE", "DEFAULTED"])
      expect(objectStatuses[status], status).toBeGreaterThan(0);
    expect(Object.keys(textStatuses)).toEqual(Object.keys(objectStatuses));
  });

  it("answers L0 hits (the second read) the same way too", async () => {
    const reqs = requests();
    const a = service();
    const b = service();
    await a.serve(registry, reqs, { now: NOW, waitUntil: () => {} });
    await b.serveJson(registry, reqs, { now: NOW, waitUntil: () => {} });
    const objects = await a.serve(registry, reqs, { now: NOW, waitUntil: () => {} });
    const texts = await b.serveJson(registry, reqs, { now: NOW, waitUntil: () => {} });
    expect(JSON.stringify(objects)).toContain('"tier":"memory"');
    expect(jsonArray(texts)).toBe(JSON.stringify(objects));
  });
});

describe("feature-json", () => {
  it("writes each value as JSON.stringify does inside an object", () => {
    for (const v of VALUES) expect(`{"k":${jsonValue(v)}}`).toBe(JSON.stringify({ k: v }));
    expect(jsonValue(undefined)).toBeUndefined();
    expect(jsonValue(() => 1)).toBeUndefined();
    expect(() => jsonValue(1n)).toThrow(TypeError);
  });

  it("declines a plan that names a feature twice", () => {
    expect(planJsonKeys(["a", "b", "a"])).toBeNull();
    const keys = planJsonKeys(["a", 'b"']);
    expect(keys?.features).toEqual(['"a":', ',"b\\"":']);
    expect(keys?.metadata[1]?.DEFAULTED).toBe(',"b\\"":{"status":"DEFAULTED","event_timestamp":');
  });
});
