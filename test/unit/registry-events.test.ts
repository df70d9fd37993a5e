// Event types in the registry: loading features/events.yaml, cross-checks of aggregation features against them,
// plan's breaking-change guard, and apply to Postgres (event_types table and the snapshot).
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { FeatureDefinition } from "../../src/core/definitions";
import type { EventType } from "../../src/core/event-types";
import { CompiledRegistry } from "../../src/core/registry";
import { planFeatures } from "../../src/training/plan";
import { migrateDatabase } from "../../tools/migrate";
import { FEATURES_DIR } from "../../tools/paths";
import { createDatabase, dropDatabase } from "../../tools/postgres";
import { applyCatalog } from "../../tools/registry/apply-catalog";
import { formatDefinitionError, loadDefinitions } from "../../tools/registry/load-definitions";
import { planRegistry } from "../../tools/registry/plan";
import { renderPlan } from "../../tools/registry/render";
import { probe, urlFor } from "../support/postgres-server";

const IN_CI = process.env.CI === "true";
const tempDirs: string[] = [];

function copyCatalog(): string {
  const root = mkdtempSync(path.join(tmpdir(), "registry-events-test-"));
  tempDirs.push(root);
  const dir = path.join(root, "features");
  cpSync(FEATURES_DIR, dir, { recursive: true });
  return dir;
}

type Entry = Record<string, unknown>;

function editEvents(dir: string, mutate: (types: Entry[]) => void): void {
  const file = path.join(dir, "events.yaml");
  const doc = parseYaml(readFileSync(file, "utf8")) as { event_types: Entry[] };
  mutate(doc.event_types);
  writeFileSync(file, stringifyYaml(doc));
}

const aggregateFeature = (name: string, aggregation: Entry, extra: Entry = {}): Entry => ({
  name,
  feature_type: "numerical",
  computation_type: "aggregation",
  description: "test aggregate",
  update_frequency: "realtime",
  ttl_seconds: 3600,
  retention_days: 30,
  aggregation: { source_event: "listening_event", window: "1h", tile: "1m", ...aggregation },
  ...extra,
});

function addGroup(dir: string, entityType: string, features: Entry[]): void {
  const group = { group: "test_aggregates", entity_type: entityType, description: "aggregates under test", owner: "tests", features };
  writeFileSync(path.join(dir, "test_aggregates.yaml"), stringifyYaml(group));
}

const errorsOf = (dir: string) => loadDefinitions(dir).errors.map(formatDefinitionError);

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe("event types in the catalog", () => {
  it("loads listening_event and user_action from features/events.yaml", () => {
    const loaded = loadDefinitions(FEATURES_DIR);
    expect(loaded.errors).toEqual([]);
    const listening = loaded.eventTypes.find((e) => e.name === "listening_event");
    expect(listening?.entity_keys).toEqual(["user_id", "track_id", "artist_id", "session_id"]);
    expect(Object.fromEntries(Object.entries(listening?.fields ?? {}).map(([k, f]) => [k, f.type]))).toEqual({
      seconds_played: "number",
      skipped: "boolean",
      replayed: "boolean",
      source: "string",
      device_type: "string",
      genre: "string",
    });
    expect(loaded.eventTypes.map((e) => e.name)).toEqual(["listening_event", "user_action"]);
  });

  it("names file and event type for a schema error and for an entity key that is no join key", () => {
    const dir = copyCatalog();
    editEvents(dir, (types) => {
      (types[0] as { fields: Record<string, Entry> }).fields.skipped = { type: "integer" };
      (types[1] as { entity_keys: string[] }).entity_keys = ["user_id", "playlist_id"];
    });
    expect(errorsOf(dir)).toEqual([
      expect.stringMatching(/^features\/events\.yaml: listening_event: fields\.skipped\.type: Invalid option/),
      'features/events.yaml: user_action: entity_keys: "playlist_id" is not a join key of entities.yaml (user_id, track_id, artist_id, session_id)',
    ]);
  });

  it("checks an aggregation against its event type: the type, the entity key, fields, their types and filter values", () => {
    const dir = copyCatalog();
    addGroup(dir, "user", [
      aggregateFeature("a_unknown_type", { function: "count", source_event: "page_view" }),
      aggregateFeature("b_unknown_field", { function: "sum", field: "volume" }),
      aggregateFeature("c_string_sum", { function: "avg", field: "source" }),
      aggregateFeature("d_bad_filter", { function: "count", filter: { source: "tiktok", skipped: "yes" } }),
      aggregateFeature("e_ratio_side", {
        function: "ratio",
        numerator: { function: "sum", field: "skipped", filter: { mood: "happy" } },
        denominator: { function: "count" },
      }),
      aggregateFeature("f_ok", { function: "ratio", numerator: { function: "sum", field: "skipped" }, denominator: { function: "count" } }),
    ]);
    expect(errorsOf(dir)).toEqual([
      'features/test_aggregates.yaml: a_unknown_type: aggregation.source_event: unknown event type "page_view" (features/events.yaml defines listening_event, user_action)',
      expect.stringMatching(/^features\/test_aggregates\.yaml: b_unknown_field: aggregation\.field: listening_event has no field "volume"/),
      "features/test_aggregates.yaml: c_string_sum: aggregation.field: avg needs a number or boolean field; listening_event.source is a string",
      expect.stringMatching(
        /^features\/test_aggregates\.yaml: d_bad_filter: aggregation\.filter\.source: "tiktok" is not one of home, search/,
      ),
      'features/test_aggregates.yaml: d_bad_filter: aggregation.filter.skipped: "yes" is not a boolean',
      expect.stringMatching(
        /^features\/test_aggregates\.yaml: e_ratio_side: aggregation\.numerator\.filter: listening_event has no field "mood"/,
      ),
    ]);
  });

  it("refuses an aggregation whose event type does not carry the feature's entity", () => {
    const dir = copyCatalog();
    addGroup(dir, "track", [aggregateFeature("track_shares_1h", { function: "count", source_event: "user_action" })]);
    expect(errorsOf(dir)).toEqual([
      "features/test_aggregates.yaml: track_shares_1h: aggregation.source_event: user_action does not carry track_id (its entity_keys: user_id)",
    ]);
  });
});

describe("plan: event type changes", () => {
  const loaded = loadDefinitions(FEATURES_DIR);
  const listening = loaded.eventTypes.find((e) => e.name === "listening_event") as EventType;
  const skipsAgg = FeatureDefinition.parse({
    ...aggregateFeature("skips_agg_1h", { function: "sum", field: "skipped" }),
    group: "g",
    entity_type: "user",
    owner: "o",
  });
  const base = { entities: loaded.entities, features: [skipsAgg], eventTypes: loaded.eventTypes };
  const withListening = (change: (e: EventType) => EventType) => ({
    ...base,
    eventTypes: loaded.eventTypes.map((e) => (e.name === "listening_event" ? change(structuredClone(e)) : e)),
  });
  const reasonsOf = async (desired: typeof base) => (await planRegistry(base, desired, () => false)).breakingReasons;

  it("is empty for the same event types, and lists a new one as a non-breaking change", async () => {
    expect((await planRegistry(base, base, () => false)).empty).toBe(true);
    const plan = await planRegistry({ ...base, eventTypes: [listening] }, base, () => false);
    expect(plan.eventTypes).toEqual([{ name: "user_action", kind: "created", changes: [], breaking: false }]);
    expect(plan.breakingReasons).toEqual([]);
    expect(plan.desiredVersion).not.toBe(plan.appliedVersion);
    expect(renderPlan(plan, [])).toContain("+ event type user_action");
  });

  it("breaks on removing an aggregated event type, a field an aggregation reads, or a field's type", async () => {
    expect(await reasonsOf({ ...base, eventTypes: loaded.eventTypes.filter((e) => e.name !== "listening_event") })).toEqual([
      "event type listening_event: event type removed but aggregated by skips_agg_1h",
    ]);
    expect(
      await reasonsOf(
        withListening((e) => {
          delete e.fields.skipped;
          return e;
        }),
      ),
    ).toEqual(["event type listening_event: fields.skipped: field removed but aggregated by skips_agg_1h"]);
    expect(
      await reasonsOf(withListening((e) => ({ ...e, fields: { ...e.fields, seconds_played: { type: "string", optional: false } } }))),
    ).toEqual(["event type listening_event: fields.seconds_played: field type number -> string changes what aggregates compute"]);
  });

  it("does not break on a removed unused field, a new optional field or a new lateness", async () => {
    const plan = await planRegistry(
      base,
      withListening((e) => {
        delete e.fields.device_type;
        e.fields.country = { type: "string", optional: true };
        return { ...e, allowed_lateness: "2h" };
      }),
      () => false,
    );
    expect(plan.breakingReasons).toEqual([]);
    expect(plan.eventTypes[0]?.changes.map((c) => c.field)).toEqual(["fields.device_type", "fields.country", "allowed_lateness"]);
  });
});

describe("training sets", () => {
  it("plan aggregation features as computed from raw events of their entity, not as a stored lookup", () => {
    const def = FeatureDefinition.parse({
      ...aggregateFeature("plays_agg_1h", { function: "count" }),
      group: "g",
      entity_type: "user",
      owner: "o",
    });
    const registry = new CompiledRegistry({ version: "r", version_number: 1, applied_at: "", author: "", entities: [], features: [def] });
    const plan = planFeatures(registry, ["plays_agg_1h"]);
    expect(plan.lookups).toEqual([]);
    expect(plan.entityTypes).toEqual(["user"]);
    expect([...plan.requiredTypes]).toEqual(["user"]);
    expect(plan.outputs).toEqual([expect.objectContaining({ ref: "plays_agg_1h", aggregateSlot: 0 })]);
  });
});

const ADMIN_URL = urlFor("postgres");
const unreachable = await probe(ADMIN_URL);
if (unreachable && IN_CI) throw new Error(`CI=true but Postgres is not reachable at ${ADMIN_URL}: ${unreachable}`);

describe.skipIf(unreachable !== null)("apply with event types (Postgres)", () => {
  const dbName = `registry_events_test_${randomBytes(4).toString("hex")}`;
  const databaseUrl = urlFor(dbName);

  beforeAll(async () => {
    await createDatabase(ADMIN_URL, dbName);
    await migrateDatabase(databaseUrl);
  });
  afterAll(async () => {
    await dropDatabase(ADMIN_URL, dbName);
  });

  it("stores event types in event_types and the snapshot, then plans nothing; removing one is refused", async () => {
    const dir = copyCatalog();
    const apply = (opts: { allowBreaking?: boolean } = {}) => applyCatalog({ dir, databaseUrl, publish: false, author: "t", ...opts });
    const first = await apply();
    expect(first.status).toBe("applied");
    if (first.status !== "applied") return;
    expect(first.snapshot.event_types.map((e) => e.name)).toEqual(["listening_event", "user_action"]);
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const rows = (await db.query<{ name: string; version: number }>("SELECT name, version FROM event_types ORDER BY name")).rows;
      expect(rows).toEqual([
        { name: "listening_event", version: 1 },
        { name: "user_action", version: 1 },
      ]);
      expect((await apply()).status).toBe("unchanged");
      editEvents(dir, (types) => {
        types.splice(1, 1);
      });
      // The catalog's features that read user_action go with it (an aggregation over a missing type is invalid).
      const group = path.join(dir, "user_behavior_features.yaml");
      const parsed = parseYaml(readFileSync(group, "utf8")) as { features: { aggregation?: { source_event?: string } }[] };
      parsed.features = parsed.features.filter((f) => f.aggregation?.source_event !== "user_action");
      writeFileSync(group, stringifyYaml(parsed));
      // ...and so do their places in the feature services that list them.
      const servicesFile = path.join(dir, "services.yaml");
      const services = parseYaml(readFileSync(servicesFile, "utf8")) as { feature_services: { features: string[] }[] };
      const gone = ["playlist_creation_rate", "social_sharing_frequency"];
      for (const s of services.feature_services) s.features = s.features.filter((f) => !gone.includes(f.slice(f.indexOf(":") + 1)));
      writeFileSync(servicesFile, stringifyYaml(services));
      const refused = await apply();
      expect(refused.status).toBe("refused");
      if (refused.status === "refused")
        expect(refused.plan.breakingReasons).toEqual([
          "playlist_creation_rate: feature removed: requests for it will fail and its stored values become orphans",
          "social_sharing_frequency: feature removed: requests for it will fail and its stored values become orphans",
          "event type user_action: event type removed but aggregated by playlist_creation_rate, social_sharing_frequency",
          "feature service churn_risk_v1: features removed from the service: user_behavior_features:playlist_creation_rate, user_behavior_features:social_sharing_frequency",
        ]);
      expect((await db.query("SELECT name FROM event_types")).rows).toHaveLength(2);
      expect((await apply({ allowBreaking: true })).status).toBe("applied");
      expect((await db.query("SELECT name FROM event_types")).rows).toEqual([{ name: "listening_event" }]);
    } finally {
      await db.end();
    }
  });
});
