// The registry workflow: loading and cross-checking features/*.yaml, plan/apply against a real Postgres, KV publishing and the CLI.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { RegistrySnapshot } from "../../src/core/registry";
import { migrateDatabase } from "../../tools/migrate";
import { FEATURES_DIR, PROJECT_ROOT, SERVING_WRANGLER_CONFIG, TSX_BIN, WRANGLER_BIN } from "../../tools/paths";
import { createDatabase, dropDatabase, withPgClient } from "../../tools/postgres";
import { applyCatalog, planAgainst, planCatalog } from "../../tools/registry/apply-catalog";
import { formatDefinitionError, loadDefinitions } from "../../tools/registry/load-definitions";
import { publishSnapshot } from "../../tools/registry/publish";
import { applyRegistry, featureContentHash, RegistryChangedError } from "../../tools/registry/registry-db";
import { renderPlan } from "../../tools/registry/render";
import { SOURCE_TABLES, tablesReadBy } from "../../tools/registry/source-tables";
import { probe, urlFor } from "../support/postgres-server";

const REGISTRY_CLI = path.join(PROJECT_ROOT, "scripts", "registry.ts");
const CLI_TIMEOUT_MS = 60_000;
const WRANGLER_TIMEOUT_MS = 60_000;
const TEST_AUTHOR = "registry-test";
const IN_CI = process.env.CI === "true";

// ---------------------------------------------------------------- catalog copies

const tempDirs: string[] = [];

/** A private copy of features/ under `<tmp>/features`, so error labels read `features/x.yaml`. */
function copyCatalog(): string {
  const root = mkdtempSync(path.join(tmpdir(), "registry-test-"));
  tempDirs.push(root);
  const dir = path.join(root, "features");
  cpSync(FEATURES_DIR, dir, { recursive: true });
  return dir;
}

type Entry = Record<string, unknown>;
interface GroupYaml {
  group: string;
  features: Entry[];
  [key: string]: unknown;
}

function editGroup(dir: string, file: string, mutate: (group: GroupYaml) => void): void {
  const fullPath = path.join(dir, file);
  const group = parseYaml(readFileSync(fullPath, "utf8")) as GroupYaml;
  mutate(group);
  writeFileSync(fullPath, stringifyYaml(group));
}

function editFeature(dir: string, file: string, name: string, mutate: (feature: Entry) => void): void {
  editGroup(dir, file, (group) => {
    const feature = group.features.find((f) => f.name === name);
    if (!feature) throw new Error(`test setup: ${name} is not in ${file}`);
    mutate(feature);
  });
}

/** Feature entries in the YAML, counted independently of the loader. */
function yamlFeatureCount(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") && f !== "entities.yaml" && f !== "events.yaml" && f !== "services.yaml")
    .reduce((n, f) => n + (parseYaml(readFileSync(path.join(dir, f), "utf8")) as GroupYaml).features.length, 0);
}

const errorsOf = (dir: string): string[] => loadDefinitions(dir).errors.map(formatDefinitionError);

// ---------------------------------------------------------------- loading and cross-checks (no database)

describe("loadDefinitions", () => {
  it("accepts the real catalog and loads every feature of every group", () => {
    const loaded = loadDefinitions(FEATURES_DIR);
    expect(loaded.errors.map(formatDefinitionError)).toEqual([]);
    expect(loaded.features).toHaveLength(yamlFeatureCount(FEATURES_DIR));
    expect(loaded.groups.map((g) => g.name).sort()).toEqual(
      readdirSync(FEATURES_DIR)
        .filter((f) => f !== "entities.yaml" && f !== "events.yaml" && f !== "services.yaml")
        .map((f) => f.replace(/\.yaml$/, ""))
        .sort(),
    );
    expect(loaded.entities.map((e) => e.name).sort()).toEqual(["artist", "session", "track", "user"]);
  });

  it("merges group defaults into features: group and entity type, owner unless the feature has one, tags as a union", () => {
    const dir = copyCatalog();
    editFeature(dir, "interaction_features.yaml", "listening_source", (f) => {
      f.owner = "growth@echotune.fm";
      f.tags = ["surface", "user"];
    });
    const byName = new Map(loadDefinitions(dir).features.map((f) => [f.name, f]));
    expect(byName.get("listening_source")).toMatchObject({
      group: "interaction_features",
      entity_type: "user",
      owner: "growth@echotune.fm",
      tags: ["user", "interaction", "context", "surface"],
    });
    expect(byName.get("current_playlist_context")?.owner).toBe("personalization@echotune.fm");
  });

  it("names file, feature and field for a schema error", () => {
    const dir = copyCatalog();
    editFeature(dir, "user_behavior_features.yaml", "skip_rate_7d", (f) => (f.max_value = "one"));
    expect(errorsOf(dir)).toEqual(["features/user_behavior_features.yaml: skip_rate_7d: max_value: expected number, received string"]);
  });

  it("rejects an entity type that entities.yaml does not define", () => {
    const dir = copyCatalog();
    editFeature(dir, "artist_features.yaml", "career_stage", (f) => (f.entity_type = "podcast"));
    expect(errorsOf(dir)).toEqual([
      'features/artist_features.yaml: career_stage: entity_type: unknown entity type "podcast" (entities.yaml defines user, track, artist, session)',
    ]);
  });

  it("rejects a group whose entity type was removed from entities.yaml", () => {
    const dir = copyCatalog();
    const entitiesPath = path.join(dir, "entities.yaml");
    const entities = parseYaml(readFileSync(entitiesPath, "utf8")) as { entities: Entry[] };
    entities.entities = entities.entities.filter((e) => e.name !== "session");
    writeFileSync(entitiesPath, stringifyYaml(entities));
    expect(errorsOf(dir)).toEqual([
      // The listening event still carries a session_id, which no entity type has as its join key any more.
      expect.stringMatching(/^features\/events\.yaml: listening_event: entity_keys: "session_id" is not a join key/),
      expect.stringMatching(/^features\/session_features\.yaml: entity_type: unknown entity type "session"/),
    ]);
  });

  it("rejects a feature name used twice across files", () => {
    const dir = copyCatalog();
    editGroup(dir, "track_content_features.yaml", (g) => {
      const language = g.features.find((f) => f.name === "language") as Entry;
      g.features.push({ ...language, name: "energy" });
    });
    expect(errorsOf(dir)).toEqual([
      "features/track_content_features.yaml: energy: duplicate feature name (also defined in features/track_audio_features.yaml)",
    ]);
  });

  it("rejects a default_value that breaks the feature's own rules", () => {
    const dir = copyCatalog();
    editFeature(dir, "track_content_features.yaml", "popularity_score", (f) => (f.default_value = 250));
    editFeature(dir, "user_profile_features.yaml", "subscription_type", (f) => (f.default_value = "platinum"));
    expect(errorsOf(dir)).toEqual([
      "features/track_content_features.yaml: popularity_score: default_value: 250 is above max_value 100",
      'features/user_profile_features.yaml: subscription_type: default_value: "platinum" is not one of free, premium, family, student, duo',
    ]);
  });

  it("rejects an unregistered transform and transform inputs it does not read", () => {
    const dir = copyCatalog();
    editFeature(dir, "session_features.yaml", "device_type", (f) => ((f.transform as Entry).name = "device_kind"));
    editFeature(dir, "session_features.yaml", "time_of_day", (f) => ((f.transform as Entry).inputs = ["context.timestamp", "context.tz"]));
    const errors = errorsOf(dir).sort();
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(
      /^features\/session_features\.yaml: device_type: transform\.name: unregistered transform "device_kind" \(registered in src\/core\/transforms\.ts: /,
    );
    expect(errors[1]).toMatch(
      /^features\/session_features\.yaml: time_of_day: transform\.inputs: transform "time_of_day" does not read "context\.tz"/,
    );
  });

  it("rejects feature references that do not resolve, in depends_on and in transform inputs", () => {
    const dir = copyCatalog();
    editFeature(dir, "interaction_features.yaml", "user_track_genre_affinity", (f) => {
      (f.transform as Entry).inputs = ["feature:favourite_genres", "context.track_genre"];
      f.depends_on = { features: ["user_profile_features:favourite_genres"] };
    });
    expect(errorsOf(dir)).toEqual([
      'features/interaction_features.yaml: user_track_genre_affinity: transform.inputs: unknown feature "favourite_genres" in "feature:favourite_genres"',
      'features/interaction_features.yaml: user_track_genre_affinity: depends_on.features: unknown feature "user_profile_features:favourite_genres"',
    ]);
  });

  it("accepts qualified group:name references", () => {
    const dir = copyCatalog();
    editFeature(dir, "interaction_features.yaml", "user_track_genre_affinity", (f) => {
      f.depends_on = { features: ["user_profile_features:favorite_genres"] };
    });
    expect(errorsOf(dir)).toEqual([]);
  });

  it("rejects unknown tables in a source_query and in depends_on.tables, and tables read but not declared", () => {
    const dir = copyCatalog();
    editFeature(dir, "track_audio_features.yaml", "tempo", (f) => (f.source_query = "SELECT id AS entity_id, tempo AS value FROM trackz"));
    editFeature(dir, "user_profile_features.yaml", "country", (f) => (f.depends_on = { tables: ["users", "userz"] }));
    editFeature(dir, "artist_features.yaml", "popularity_tier", (f) => {
      f.source_query = "SELECT a.id AS entity_id, 'star' AS value FROM artists a JOIN tracks t ON t.artist_id = a.id";
    });
    expect(errorsOf(dir)).toEqual([
      'features/artist_features.yaml: popularity_tier: depends_on.tables: source_query reads "tracks", which is not listed',
      'features/track_audio_features.yaml: tempo: source_query: reads unknown table "trackz" (known source tables: artists, listening_events, tracks, user_actions, users)',
      'features/user_profile_features.yaml: country: depends_on.tables: unknown table "userz" (known source tables: artists, listening_events, tracks, user_actions, users)',
    ]);
  });

  it("reports a YAML syntax error with file, line and column", () => {
    const dir = copyCatalog();
    const file = path.join(dir, "track_audio_features.yaml");
    const lines = readFileSync(file, "utf8").split("\n");
    const at = lines.findIndex((l) => l.includes("name: energy"));
    lines.splice(at + 1, 0, "    tags: audio: loud"); // a mapping inside a plain scalar, on line at + 2
    writeFileSync(file, lines.join("\n"));
    const errors = errorsOf(dir);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`^features/track_audio_features\\.yaml:${at + 2}:\\d+: YAML syntax error: `));
  });

  it("collects every error in one pass instead of stopping at the first", () => {
    const dir = copyCatalog();
    editFeature(dir, "artist_features.yaml", "career_stage", (f) => (f.ttl_seconds = -1));
    editFeature(dir, "track_content_features.yaml", "release_year", (f) => (f.retention_days = "forever"));
    editFeature(dir, "user_behavior_features.yaml", "skips_1h", (f) => (f.update_frequency = "sometimes"));
    writeFileSync(path.join(dir, "session_features.yaml"), "group: [unclosed\n");
    const errors = errorsOf(dir);
    expect(errors).toHaveLength(4);
    expect(errors.map((e) => e.split(":")[0])).toEqual([
      "features/artist_features.yaml",
      "features/session_features.yaml",
      "features/track_content_features.yaml",
      "features/user_behavior_features.yaml",
    ]);
  });

  it("rejects a dependency cycle between features", () => {
    const dir = copyCatalog();
    editFeature(
      dir,
      "user_profile_features.yaml",
      "favorite_genres",
      (f) => (f.depends_on = { tables: ["users", "listening_events", "tracks"], features: ["user_track_genre_affinity"] }),
    );
    expect(errorsOf(dir)).toEqual([
      "features/user_profile_features.yaml: favorite_genres: dependency cycle: favorite_genres -> user_track_genre_affinity -> favorite_genres",
    ]);
  });
});

describe("tablesReadBy", () => {
  it("knows the demo source tables from the drizzle schema", () => {
    expect([...SOURCE_TABLES].sort()).toEqual(["artists", "listening_events", "tracks", "user_actions", "users"]);
  });

  it("finds FROM/JOIN tables and ignores CTE names, subquery aliases and set-returning functions", () => {
    const sql = `
      WITH plays AS (SELECT user_id FROM listening_events e JOIN tracks t ON t.id = e.track_id),
           ranked (user_id) AS (SELECT user_id FROM plays)
      SELECT u.id, g.genre, EXTRACT(YEAR FROM now()) - u.birth_year, substring(u.country FROM 1 FOR 2)
      FROM public.users u
      CROSS JOIN LATERAL (SELECT 1 FROM ranked r WHERE r.user_id = u.id) x
      CROSS JOIN LATERAL unnest(u.genres) AS g(genre)
      LEFT JOIN (SELECT artist_id FROM artists) a ON true
      WHERE u.id IS DISTINCT FROM 'FROM fake_table' -- FROM commented_table
        AND u.id IN (SELECT user_id FROM user_actions)`;
    expect(tablesReadBy(sql).sort()).toEqual(["artists", "listening_events", "tracks", "user_actions", "users"]);
  });

  it("reads comma-separated FROM lists and keeps a non-public schema", () => {
    expect(tablesReadBy("SELECT 1 FROM users u, tracks AS t, analytics.events WHERE u.id = t.id").sort()).toEqual([
      "analytics.events",
      "tracks",
      "users",
    ]);
  });
});

// ---------------------------------------------------------------- Postgres

const ADMIN_URL = urlFor("postgres");
const unreachable = await probe(ADMIN_URL);
if (unreachable && IN_CI) throw new Error(`CI=true but Postgres is not reachable at ${ADMIN_URL}: ${unreachable}`);
if (unreachable) console.warn(`\n*** SKIPPING registry database tests: Postgres not reachable at ${ADMIN_URL} (${unreachable}) ***\n`);

describe.skipIf(unreachable !== null)("registry against Postgres", () => {
  const dbName = `registry_test_${randomBytes(4).toString("hex")}`;
  const databaseUrl = urlFor(dbName);
  const db = new pg.Client({ connectionString: databaseUrl });

  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await db.query<{ n: string }>(sql, params)).rows[0]?.n);
  const versionsCount = () => count("SELECT count(*) AS n FROM registry_versions");
  const featureRow = async (name: string) =>
    (
      await db.query<{ version: number; ttl_seconds: number; max_value: number | null; feature_type: string }>(
        "SELECT version, ttl_seconds, max_value, feature_type FROM feature_definitions WHERE name = $1",
        [name],
      )
    ).rows[0];
  /** Everything apply writes, to prove that a refused or invalid apply wrote nothing. */
  const registryState = async () => ({
    versions: await versionsCount(),
    features: (await db.query("SELECT name, version, content_hash, updated_at FROM feature_definitions ORDER BY name")).rows,
    entities: (await db.query("SELECT * FROM entity_types ORDER BY name")).rows,
  });
  const apply = (dir: string, opts: { allowBreaking?: boolean } = {}) =>
    applyCatalog({ dir, databaseUrl, publish: false, author: TEST_AUTHOR, ...opts });
  /** A fresh copy of the real catalog, applied, so each test starts from the catalog as it is in git. */
  const syncedCatalog = async (): Promise<string> => {
    const dir = copyCatalog();
    const outcome = await apply(dir, { allowBreaking: true });
    expect(["applied", "unchanged"]).toContain(outcome.status);
    return dir;
  };
  const storeValue = (feature: string, entityId: string, value: unknown) =>
    db.query(
      `INSERT INTO feature_latest (entity_type, entity_id, feature_name, feature_value, event_timestamp)
       VALUES ('user', $1, $2, $3::jsonb, now()) ON CONFLICT DO NOTHING`,
      [entityId, feature, JSON.stringify(value)],
    );

  beforeAll(async () => {
    await createDatabase(ADMIN_URL, dbName);
    await migrateDatabase(databaseUrl);
    await db.connect();
  });

  afterAll(async () => {
    await db.end().catch((err: unknown) => console.warn(`registry test: closing the connection failed: ${String(err)}`));
    await dropDatabase(ADMIN_URL, dbName);
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });

  it("apply registers every feature with all its columns, entity types and one registry version", async () => {
    const dir = copyCatalog();
    const outcome = await apply(dir);
    expect(outcome.status).toBe("applied");
    if (outcome.status !== "applied") return;
    const expected = yamlFeatureCount(dir);
    expect(outcome.plan.features.created).toHaveLength(expected);
    expect(await count("SELECT count(*) AS n FROM feature_definitions")).toBe(expected);
    expect(await count("SELECT count(*) AS n FROM entity_types")).toBe(4);
    expect(await versionsCount()).toBe(1);

    const { rows } = await db.query<{ id: number; content_hash: string; author: string; feature_count: number; snapshot: unknown }>(
      "SELECT id, content_hash, author, feature_count, snapshot FROM registry_versions",
    );
    const row = rows[0];
    expect(row).toMatchObject({ author: TEST_AUTHOR, feature_count: expected });
    expect(outcome.snapshot.version).toBe(`r-${row?.content_hash.slice(0, 12)}`);
    expect(outcome.snapshot.version_number).toBe(row?.id);
    expect(RegistrySnapshot.parse(row?.snapshot)).toEqual(outcome.snapshot);

    const skip = await db.query(
      `SELECT group_name, entity_type, feature_type, computation_type, ttl_seconds, min_value, max_value, tags, null_policy,
              depends_on, version, content_hash, definition
         FROM feature_definitions WHERE name = 'skip_rate_7d'`,
    );
    const definition = outcome.loaded.features.find((f) => f.name === "skip_rate_7d");
    expect(skip.rows[0]).toMatchObject({
      group_name: "user_behavior_features",
      entity_type: "user",
      feature_type: "numerical",
      computation_type: "aggregation",
      ttl_seconds: 604800,
      min_value: 0,
      max_value: 1,
      tags: ["user", "behavior", "engagement", "negative_feedback"],
      null_policy: "allow",
      depends_on: { tables: [], features: [] },
      version: 1,
      content_hash: await featureContentHash(definition as NonNullable<typeof definition>),
    });
  });

  it("plans no changes right after apply", async () => {
    const dir = await syncedCatalog();
    const outcome = await planCatalog(dir, databaseUrl);
    expect(outcome.status).toBe("planned");
    if (outcome.status !== "planned") return;
    expect(outcome.plan.empty).toBe(true);
    expect(renderPlan(outcome.plan, outcome.loaded.features)).toBe(
      `No changes. Registry is up to date (version ${outcome.plan.appliedVersion}).`,
    );
  });

  it("applying the same catalog twice writes nothing the second time", async () => {
    const dir = await syncedCatalog();
    const before = await registryState();
    const outcome = await apply(dir);
    expect(outcome.status).toBe("unchanged");
    expect(await registryState()).toEqual(before);
  });

  it("plans exactly a one-field change, then applies it as version + 1", async () => {
    const dir = await syncedCatalog();
    const versions = await versionsCount();
    const before = await featureRow("listening_hours_weekly");
    const newTtl = (before?.ttl_seconds ?? 0) / 6;
    editFeature(dir, "user_profile_features.yaml", "listening_hours_weekly", (f) => (f.ttl_seconds = newTtl));

    const planned = await planCatalog(dir, databaseUrl);
    if (planned.status !== "planned") throw new Error("catalog should be valid");
    expect(planned.plan.features.created).toEqual([]);
    expect(planned.plan.features.deleted).toEqual([]);
    expect(planned.plan.entities).toEqual([]);
    expect(planned.plan.features.updated).toEqual([
      {
        name: "listening_hours_weekly",
        kind: "updated",
        breaking: false,
        changes: [{ field: "ttl_seconds", from: before?.ttl_seconds, to: newTtl, breaking: false }],
      },
    ]);
    expect(renderPlan(planned.plan, planned.loaded.features)).toContain(
      `  ~ listening_hours_weekly\n      ttl_seconds: ${before?.ttl_seconds} -> ${newTtl}\n`,
    );

    expect((await apply(dir)).status).toBe("applied");
    expect(await featureRow("listening_hours_weekly")).toMatchObject({ ttl_seconds: newTtl, version: (before?.version ?? 0) + 1 });
    expect(await versionsCount()).toBe(versions + 1);
    const diff = await db.query<{ diff: { features: { updated: { name: string }[] } } }>(
      "SELECT diff FROM registry_versions ORDER BY id DESC LIMIT 1",
    );
    expect(diff.rows[0]?.diff.features.updated.map((c) => c.name)).toEqual(["listening_hours_weekly"]);
  });

  it("refuses a tightened max_value on a feature with stored data unless breaking changes are allowed", async () => {
    const dir = await syncedCatalog();
    await storeValue("listening_hours_weekly", "user_1", 80);
    editFeature(dir, "user_profile_features.yaml", "listening_hours_weekly", (f) => (f.max_value = 50));
    const before = await registryState();

    const refused = await apply(dir);
    expect(refused.status).toBe("refused");
    if (refused.status === "refused")
      expect(refused.plan.breakingReasons).toEqual([expect.stringMatching(/^listening_hours_weekly: tightened validation \(max_value\)/)]);
    expect(await registryState()).toEqual(before);

    expect((await apply(dir, { allowBreaking: true })).status).toBe("applied");
    expect((await featureRow("listening_hours_weekly"))?.max_value).toBe(50);
  });

  it("does not treat tightening a feature without stored data as breaking", async () => {
    const dir = await syncedCatalog();
    editFeature(dir, "track_audio_features.yaml", "tempo", (f) => (f.max_value = 220));
    expect((await apply(dir)).status).toBe("applied");
  });

  it("refuses a feature_type change unless breaking changes are allowed", async () => {
    const dir = await syncedCatalog();
    editFeature(dir, "user_profile_features.yaml", "listening_hours_weekly", (f) => {
      f.feature_type = "categorical";
      delete f.min_value;
      delete f.max_value;
      delete f.null_policy;
      delete f.default_value;
    });
    const before = await registryState();
    expect((await apply(dir)).status).toBe("refused");
    expect(await registryState()).toEqual(before);
    expect((await apply(dir, { allowBreaking: true })).status).toBe("applied");
    expect((await featureRow("listening_hours_weekly"))?.feature_type).toBe("categorical");
  });

  it("refuses a removal unless breaking changes are allowed", async () => {
    const dir = await syncedCatalog();
    editGroup(dir, "track_audio_features.yaml", (g) => (g.features = g.features.filter((f) => f.name !== "acousticness")));
    const before = await registryState();
    const refused = await apply(dir);
    expect(refused.status).toBe("refused");
    if (refused.status === "refused") expect(refused.plan.features.deleted.map((c) => c.name)).toEqual(["acousticness"]);
    expect(await registryState()).toEqual(before);
    expect((await apply(dir, { allowBreaking: true })).status).toBe("applied");
    expect(await featureRow("acousticness")).toBeUndefined();
  });

  it("changes nothing in Postgres when a YAML file is broken, even if other files changed", async () => {
    const dir = await syncedCatalog();
    editFeature(dir, "track_audio_features.yaml", "tempo", (f) => (f.ttl_seconds = 60));
    writeFileSync(path.join(dir, "artist_features.yaml"), "group: artist_features\nfeatures:\n  - name: [broken\n");
    const before = await registryState();
    const outcome = await apply(dir, { allowBreaking: true });
    expect(outcome.status).toBe("invalid");
    expect(outcome.loaded.errors.map(formatDefinitionError)).toEqual([
      expect.stringMatching(/^features\/artist_features\.yaml:\d+:\d+: YAML syntax error/),
    ]);
    expect(await registryState()).toEqual(before);
  });

  it("refuses to apply a plan that is stale because another apply ran in between", async () => {
    const dir = await syncedCatalog();
    const loaded = loadDefinitions(dir);
    const stale = await planAgainst(db, loaded);
    editFeature(dir, "track_audio_features.yaml", "tempo", (f) => (f.ttl_seconds = 120));
    expect((await apply(dir)).status).toBe("applied");
    const before = await registryState();
    await expect(
      withPgClient(databaseUrl, (client) =>
        applyRegistry(client, {
          entities: loaded.entities,
          features: loaded.features,
          eventTypes: loaded.eventTypes,
          featureServices: loaded.featureServices,
          plan: stale,
          author: TEST_AUTHOR,
        }),
      ),
    ).rejects.toBeInstanceOf(RegistryChangedError);
    expect(await registryState()).toEqual(before);
  });

  describe("publishing to local KV", () => {
    const wranglerGet = (persistTo: string, key: string): string => {
      const result = spawnSync(
        process.execPath,
        [
          WRANGLER_BIN,
          "kv",
          "key",
          "get",
          "--binding",
          "REGISTRY_KV",
          "-c",
          SERVING_WRANGLER_CONFIG,
          key,
          "--text",
          "--local",
          "--persist-to",
          persistTo,
        ],
        { cwd: PROJECT_ROOT, encoding: "utf8", timeout: WRANGLER_TIMEOUT_MS },
      );
      expect(result.status, result.stderr).toBe(0);
      return result.stdout.replace(/\n$/, "");
    };

    it("publishSnapshot writes the snapshot and its version where wrangler reads them back", async () => {
      const dir = await syncedCatalog();
      const outcome = await applyCatalog({ dir, databaseUrl, publish: false, republish: true, author: TEST_AUTHOR });
      if (outcome.status !== "unchanged" || !outcome.snapshot) throw new Error("expected the applied snapshot");
      const persistTo = mkdtempSync(path.join(tmpdir(), "registry-kv-"));
      tempDirs.push(persistTo);

      await publishSnapshot(outcome.snapshot, { kind: "local", persistTo });
      expect(wranglerGet(persistTo, "registry:version")).toBe(outcome.snapshot.version);
      const published = RegistrySnapshot.parse(JSON.parse(wranglerGet(persistTo, "registry:snapshot")));
      expect(published).toEqual(outcome.snapshot);
      expect(published.features).toHaveLength(yamlFeatureCount(dir));
    });

    it("apply publishes the new version after a change", async () => {
      const dir = await syncedCatalog();
      const persistTo = mkdtempSync(path.join(tmpdir(), "registry-kv-"));
      tempDirs.push(persistTo);
      editFeature(dir, "track_audio_features.yaml", "tempo", (f) => (f.ttl_seconds = 240));
      const outcome = await applyCatalog({ dir, databaseUrl, publish: { kind: "local", persistTo }, author: TEST_AUTHOR });
      expect(outcome).toMatchObject({ status: "applied", published: true });
      if (outcome.status !== "applied") return;
      expect(wranglerGet(persistTo, "registry:version")).toBe(outcome.snapshot.version);
    });
  });

  describe("CLI (tsx scripts/registry.ts)", () => {
    const cli = (...args: string[]) => {
      const result = spawnSync(process.execPath, [TSX_BIN, REGISTRY_CLI, ...args], {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
        timeout: CLI_TIMEOUT_MS,
        env: { ...process.env, DATABASE_URL: databaseUrl, REGISTRY_AUTHOR: TEST_AUTHOR },
      });
      return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    };
    const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at /m);

    it("plan: no changes after apply, then the one changed field, exit code 0", async () => {
      const dir = await syncedCatalog();
      const unchanged = cli("plan", "--dir", dir);
      expect(unchanged.code, unchanged.stderr).toBe(0);
      expect(unchanged.stdout).toMatch(/^No changes\. Registry is up to date \(version r-[0-9a-f]{12}\)\.$/m);

      editFeature(dir, "user_profile_features.yaml", "listening_hours_weekly", (f) => (f.ttl_seconds = 3600));
      const changed = cli("plan", "--dir", dir);
      expect(changed.code, changed.stderr).toBe(0);
      expect(changed.stdout).toMatch(/ {2}~ listening_hours_weekly\n {6}ttl_seconds: \d+ -> 3600\n/);
      expect(changed.stdout).toContain("Plan: 0 to create, 1 to update, 0 to delete.");

      const json = cli("plan", "--dir", dir, "--json");
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({
        empty: false,
        updated: [{ name: "listening_hours_weekly", changes: [{ field: "ttl_seconds", to: 3600 }] }],
      });
    });

    it("validate: exit 1 with file and line for broken YAML, never a stack trace", () => {
      const dir = copyCatalog();
      writeFileSync(path.join(dir, "session_features.yaml"), "group: session_features\nfeatures: [\n");
      const result = cli("validate", "--dir", dir);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^features\/session_features\.yaml:\d+:\d+: YAML syntax error/m);
      noStackTrace(result.stderr);
      const ok = cli("validate");
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/^✓ \d+ features in \d+ groups valid/);
    });

    it("apply: refuses breaking changes with exit 1, applies them with --allow-breaking", async () => {
      const dir = await syncedCatalog();
      editGroup(dir, "track_audio_features.yaml", (g) => (g.features = g.features.filter((f) => f.name !== "valence")));
      const versions = await versionsCount();
      const refused = cli("apply", "--dir", dir, "--no-publish");
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("refusing to apply 1 breaking change without --allow-breaking");
      expect(refused.stderr).toContain("valence: feature removed");
      expect(await versionsCount()).toBe(versions);

      const applied = cli("apply", "--dir", dir, "--no-publish", "--allow-breaking");
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toMatch(/Applied r-[0-9a-f]{12} \(registry version \d+/);
      expect(await versionsCount()).toBe(versions + 1);
      const again = cli("apply", "--dir", dir, "--no-publish");
      expect(again.stdout).toContain("No changes.");
      expect(await versionsCount()).toBe(versions + 1);
    });

    it("list, describe and lineage read the applied registry", async () => {
      await syncedCatalog();
      const list = cli("list", "--json", "--entity-type", "artist");
      expect(list.code, list.stderr).toBe(0);
      expect((JSON.parse(list.stdout) as { name: string }[]).map((f) => f.name).sort()).toEqual([
        "career_stage",
        "collaboration_frequency",
        "genre_diversity",
        "popularity_tier",
      ]);

      const table = cli("list", "--tag", "realtime");
      expect(table.stdout).toMatch(/^NAME\s+GROUP\s+ENTITY\s+TYPE\s+COMPUTATION\s+FRESHNESS\s+OWNER$/m);
      expect(table.stdout).toMatch(/^tracks_played_1h\s+user_behavior_features\s+user\s+numerical\s+aggregation\s+realtime, ttl 1h/m);
      expect(table.stdout).toMatch(/^play_queue_length\s+user_behavior_features\s+user\s+numerical\s+stream\s+realtime, ttl 10m/m);

      const describe = cli("describe", "user_profile_features:favorite_genres");
      expect(describe.code, describe.stderr).toBe(0);
      expect(describe.stdout).toMatch(/^content_hash:\s+[0-9a-f]{64}$/m);
      expect(describe.stdout).toMatch(/^lineage\.downstream:\s+user_track_genre_affinity$/m);

      const lineage = cli("lineage", "user_track_genre_affinity");
      expect(lineage.code, lineage.stderr).toBe(0);
      expect(lineage.stdout).toContain(
        [
          "user_track_genre_affinity (interaction_features, on_demand)",
          "├─ upstream",
          "│  └─ feature favorite_genres (user_profile_features, batch)",
          "│     ├─ table users",
          "│     ├─ table listening_events",
          "│     └─ table tracks",
          "└─ downstream",
          "   └─ (none)",
        ].join("\n"),
      );
      const down = cli("lineage", "favorite_genres");
      expect(down.stdout).toMatch(/└─ downstream\n {3}└─ feature user_track_genre_affinity \(interaction_features, on_demand\)/);
    });

    it("errors are one line with a non-zero exit code", () => {
      const unknown = cli("describe", "skip_rate7d");
      expect(unknown.code).toBe(1);
      expect(unknown.stderr.trim()).toBe('error: unknown feature "skip_rate7d" in the applied registry (did you mean skip_rate_7d?)');
      const usage = cli("frobnicate");
      expect(usage.code).toBe(2);
      expect(usage.stderr.trim().split("\n")).toHaveLength(1);
      const badDb = spawnSync(process.execPath, [TSX_BIN, REGISTRY_CLI, "list"], {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
        timeout: CLI_TIMEOUT_MS,
        env: { ...process.env, DATABASE_URL: urlFor(`${dbName}_missing`) },
      });
      expect(badDb.status).toBe(1);
      expect(badDb.stderr.trim()).toMatch(/^error: database "registry_test_[0-9a-f]+_missing" does not exist$/);
    });
  });
});
