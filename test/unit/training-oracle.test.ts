// Point-in-time training sets against real Postgres, checked cell by cell against a brute-force oracle over randomized histories.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityType, FeatureDefinition, type FeatureDefinitionInput } from "../../src/core/definitions";
import { FeatureStoreError } from "../../src/core/errors";
import { tiebreakOf } from "../../src/core/keys";
import { mulberry32 } from "../../src/core/random";
import { CompiledRegistry } from "../../src/core/registry";
import { runTransform } from "../../src/core/transforms";
import {
  type DatasetRow,
  EVENT_TIMESTAMP_SUFFIX,
  encodeCsvRecord,
  getTrainingDataset,
  openTrainingDataset,
  parseSpineCsv,
  type SqlRunner,
  spineFromObjects,
  sqlRunner,
} from "../../src/training";
import { migrateDatabase } from "../../tools/migrate";
import { createDatabase, dropDatabase } from "../../tools/postgres";
import { probe, urlFor } from "../support/postgres-server";

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const GRID_MS = 10_000;
const GRID_STEPS = 60;
const SEEDS = [1, 7, 42];
const SPINE_ROWS = 300;
const SMALL_CHUNK = 37;
/** Several as-of join statements per entity type, too. */
const SMALL_JOIN_CHUNK = 23;

const ADMIN_URL = urlFor("postgres");
const unreachable = await probe(ADMIN_URL);
if (unreachable) {
  if (process.env.CI === "true") throw new Error(`CI=true but Postgres is not reachable at ${ADMIN_URL}: ${unreachable}`);
  console.warn(`\n*** SKIPPING training-set oracle tests: Postgres not reachable at ${ADMIN_URL} (${unreachable}) ***\n`);
}

// ---------------------------------------------------------------- registry under test

const base = { update_frequency: "1h", retention_days: 30, description: "test feature", owner: "test@echotune.fm" } as const;
const batch = (
  d: Partial<FeatureDefinitionInput> & Pick<FeatureDefinitionInput, "name" | "group" | "entity_type" | "feature_type" | "ttl_seconds">,
) => FeatureDefinition.parse({ ...base, computation_type: "batch", source_query: "select 1", ...d });

const DEFS: FeatureDefinition[] = [
  batch({ name: "listen_score", group: "g_user", entity_type: "user", feature_type: "numerical", ttl_seconds: 60 }),
  batch({
    name: "tier",
    group: "g_user",
    entity_type: "user",
    feature_type: "categorical",
    ttl_seconds: 120,
    null_policy: "default",
    default_value: "unknown",
  }),
  batch({ name: "favorite_genres", group: "g_user", entity_type: "user", feature_type: "array", item_type: "string", ttl_seconds: 300 }),
  batch({ name: "country", group: "g_user", entity_type: "user", feature_type: "categorical", ttl_seconds: 200, null_policy: "reject" }),
  batch({
    name: "bpm",
    group: "g_track",
    entity_type: "track",
    feature_type: "numerical",
    ttl_seconds: 90,
    null_policy: "default",
    default_value: 0,
  }),
  FeatureDefinition.parse({
    ...base,
    name: "time_of_day",
    group: "g_session",
    entity_type: "session",
    feature_type: "categorical",
    computation_type: "on_demand",
    ttl_seconds: 60,
    transform: { name: "time_of_day", inputs: ["context.timestamp", "context.timezone_offset_minutes"] },
  }),
  FeatureDefinition.parse({
    ...base,
    name: "affinity",
    group: "g_user",
    entity_type: "user",
    feature_type: "numerical",
    computation_type: "on_demand",
    ttl_seconds: 60,
    null_policy: "default",
    default_value: -1,
    transform: { name: "genre_affinity", inputs: ["feature:favorite_genres", "context.track_genre"] },
  }),
];
const ENTITIES = [
  EntityType.parse({ name: "user", join_key: "user_id", description: "listener", id_prefix: "user_" }),
  EntityType.parse({ name: "track", join_key: "track_id", description: "track", id_prefix: "track_" }),
  EntityType.parse({ name: "session", join_key: "session_id", description: "session", id_prefix: "session_" }),
];
const REGISTRY = new CompiledRegistry({
  version: "r-test",
  version_number: 1,
  applied_at: new Date(T0).toISOString(),
  author: "test",
  entities: ENTITIES,
  features: DEFS,
});
const def = (name: string) => DEFS.find((d) => d.name === name)!;
const STORED = DEFS.filter((d) => d.computation_type !== "on_demand");
/** Every output, one of them by its qualified name. */
const REQUESTED = ["listen_score", "tier", "favorite_genres", "country", "g_track:bpm", "time_of_day", "affinity"];
const GENRES = ["pop", "rock", "jazz", "hip_hop", "folk"];
const TIERS = ["free", "premium", "family"];
const COUNTRIES = ["US", "DE", "JP"];

// ---------------------------------------------------------------- randomized histories

interface Obs {
  id: number;
  entityType: string;
  entityId: string;
  feature: string;
  /** undefined: SQL NULL; null: JSON null. */
  value: unknown;
  ts: number;
  ingestedAt: number;
}

class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

function randomValue(rng: Rng, feature: string): unknown {
  if (rng.chance(0.06)) return rng.chance(0.5) ? null : undefined;
  switch (feature) {
    case "listen_score":
    case "bpm":
      return Math.round(rng.next() * 100_000) / 1000;
    case "tier":
      return rng.pick(TIERS);
    case "country":
      return rng.pick(COUNTRIES);
    case "favorite_genres":
      return GENRES.filter(() => rng.chance(0.5));
    default:
      throw new Error(feature);
  }
}

/**
 * Observations on a 10 s grid (so event-time ties are common), some off-grid by a few ms, arriving
 * late and out of order (ingested_at unrelated to event order, itself tied now and then), with ids
 * assigned in random order so neither insertion order nor id tracks event time.
 */
function generateHistory(rng: Rng, users: string[], tracks: string[], firstId: number): Obs[] {
  const out: Omit<Obs, "id">[] = [];
  for (const d of STORED) {
    const ids = d.entity_type === "user" ? users : tracks;
    for (const entityId of ids) {
      const n = rng.int(0, 22);
      for (let i = 0; i < n; i++) {
        const ts = T0 + rng.int(0, GRID_STEPS) * GRID_MS + (rng.chance(0.2) ? rng.int(1, 999) : 0);
        const ingestedAt = rng.chance(0.25) ? T0 + 3_600_000 : ts + rng.int(0, 900_000);
        out.push({ entityType: d.entity_type, entityId, feature: d.name, value: randomValue(rng, d.name), ts, ingestedAt });
      }
      // A guaranteed exact tie: same event time and same arrival time, told apart by the tiebreak.
      if (n > 0 && rng.chance(0.5)) {
        const copy = out[out.length - 1]!;
        out.push({ ...copy, value: randomValue(rng, d.name) });
      }
    }
  }
  const ids = out.map((_, i) => firstId + i);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return out.map((o, i) => ({ ...o, id: ids[i]! }));
}

async function insertHistory(client: pg.Client, history: Obs[]): Promise<void> {
  // Insert in shuffled order too (physical order is yet another thing that must not matter).
  await client.query(
    `insert into feature_values (id, feature_name, entity_type, entity_id, feature_value, event_timestamp, ingested_at, idempotency_key)
     select id, f, et, eid, v::jsonb, ts, ing, 'k' || id from unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
       as u(id, f, et, eid, v, ts, ing)`,
    [
      history.map((o) => o.id),
      history.map((o) => o.feature),
      history.map((o) => o.entityType),
      history.map((o) => o.entityId),
      history.map((o) => (o.value === undefined ? null : JSON.stringify(o.value))),
      history.map((o) => new Date(o.ts).toISOString()),
      history.map((o) => new Date(o.ingestedAt).toISOString()),
    ],
  );
}

// ---------------------------------------------------------------- the oracle

/** The tiebreak of an observation: insertHistory stores idempotency_key = 'k' || id. */
const tiebreak = (o: Obs) => tiebreakOf(`k${o.id}`);

/**
 * Brute force over the whole history: latest at-or-before, within max age (inclusive); ties go to
 * the greater tiebreak (the idempotency key's first 16 characters, here "k<id>", compared by code
 * unit as every online tier does), then the higher id. Arrival time (ingested_at) plays no part.
 */
function oracleLookup(
  history: readonly Obs[],
  entityType: string,
  entityId: string | undefined,
  feature: FeatureDefinition,
  rowTs: number,
): Obs | undefined {
  if (entityId === undefined) return undefined;
  let best: Obs | undefined;
  for (const o of history) {
    if (o.entityType !== entityType || o.entityId !== entityId || o.feature !== feature.name) continue;
    if (o.ts > rowTs || rowTs - o.ts > feature.ttl_seconds * 1000) continue;
    if (
      !best ||
      o.ts > best.ts ||
      (o.ts === best.ts && (tiebreak(o) > tiebreak(best) || (tiebreak(o) === tiebreak(best) && o.id > best.id)))
    )
      best = o;
  }
  return best;
}

interface OracleRow {
  ts: number;
  ids: { user?: string; track?: string };
  /** What the transforms must see as context. */
  context: Record<string, unknown>;
}

function withPolicy(d: FeatureDefinition, value: unknown): unknown {
  if (value !== null && value !== undefined) return value;
  return d.null_policy === "default" ? d.default_value : null;
}

function oracleRow(
  history: readonly Obs[],
  row: OracleRow,
  refs: readonly string[],
): Record<string, { value: unknown; ts: number | null }> {
  const out: Record<string, { value: unknown; ts: number | null }> = {};
  for (const ref of refs) {
    const d = REGISTRY.resolve(ref)!;
    if (d.computation_type === "on_demand") {
      const features: Record<string, unknown> = {};
      for (const input of d.transform!.inputs.filter((i) => i.startsWith("feature:"))) {
        const inputDef = def(input.slice("feature:".length));
        const hit = oracleLookup(history, inputDef.entity_type, row.ids[inputDef.entity_type as "user" | "track"], inputDef, row.ts);
        if (hit) features[inputDef.name] = hit.value ?? null;
      }
      out[ref] = { value: withPolicy(d, runTransform(d.transform!.name, { context: row.context, features, now: row.ts })), ts: null };
    } else {
      const hit = oracleLookup(history, d.entity_type, row.ids[d.entity_type as "user" | "track"], d, row.ts);
      out[ref] = { value: withPolicy(d, hit ? (hit.value ?? null) : null), ts: hit ? hit.ts : null };
    }
  }
  return out;
}

/** Row times aimed at the edges: exactly at an observation, 1 ms before, exactly max age later, 1 ms past it; and random. */
function rowTime(rng: Rng, history: readonly Obs[], entityIds: readonly (string | undefined)[]): number {
  const mine = history.filter((o) => entityIds.includes(o.entityId));
  if (mine.length === 0 || rng.chance(0.3)) return T0 - 30_000 + rng.int(0, GRID_STEPS * GRID_MS + 400_000);
  const o = rng.pick(mine);
  const ttl = def(o.feature).ttl_seconds * 1000;
  return o.ts + rng.pick([0, -1, ttl, ttl + 1, 1, rng.int(0, ttl)]);
}

function expectMatches(
  actual: DatasetRow[],
  expected: Record<string, { value: unknown; ts: number | null }>[],
  refs: readonly string[],
  label: string,
): void {
  expect(actual).toHaveLength(expected.length);
  const mismatches: string[] = [];
  actual.forEach((row, i) => {
    for (const ref of refs) {
      const want = expected[i]![ref]!.value ?? null;
      const got = row[ref] ?? null;
      if (JSON.stringify(got) !== JSON.stringify(want))
        mismatches.push(`${label} row ${i + 1} ${ref}: got ${JSON.stringify(got)}, oracle ${JSON.stringify(want)}`);
    }
  });
  expect(mismatches.slice(0, 10)).toEqual([]);
}

// ---------------------------------------------------------------- the suite

const dbName = `training_test_${randomBytes(4).toString("hex")}`;
let client: pg.Client;
let runner: SqlRunner;

describe.skipIf(unreachable !== null)("point-in-time training sets (Postgres)", () => {
  beforeAll(async () => {
    await createDatabase(ADMIN_URL, dbName);
    await migrateDatabase(urlFor(dbName));
    client = new pg.Client({ connectionString: urlFor(dbName) });
    await client.connect();
    runner = sqlRunner(client);
  });

  afterAll(async () => {
    await client?.end();
    await dropDatabase(ADMIN_URL, dbName);
  });

  const USERS = ["user_1", "user_2", "user_3", "user_4", "user_5", "user_6"];
  const TRACKS = ["track_1", "track_2", "track_3", "track_4"];
  /** In spines but never written: their rows must come back, with nulls or defaults. */
  const NO_DATA = { user: "user_404", track: "track_404" };

  describe.each(SEEDS)("randomized history, seed %i", (seed) => {
    const rng = new Rng(seed);
    const history = generateHistory(rng, USERS, TRACKS, 1);

    beforeAll(async () => {
      await client.query("truncate feature_values");
      await insertHistory(client, history);
      await client.query("analyze feature_values");
    });

    it("join-key spine from CSV (user_id + track_id, empty cells, ISO and epoch times) matches the oracle in every cell", async () => {
      const header = ["user_id", "track_id", "event_timestamp", "track_genre", "timezone_offset_minutes", "label"];
      const records: unknown[][] = [];
      const oracleRows: OracleRow[] = [];
      for (let i = 0; i < SPINE_ROWS; i++) {
        const user = rng.chance(0.1) ? undefined : rng.chance(0.08) ? NO_DATA.user : rng.pick(USERS);
        const track = rng.chance(0.2) ? undefined : rng.chance(0.08) ? NO_DATA.track : rng.pick(TRACKS);
        const ts = rowTime(rng, history, [user, track]);
        const genre = rng.chance(0.8) ? rng.pick(GENRES) : undefined;
        const offset = rng.chance(0.5) ? rng.pick([-300, 0, 120, 330]) : undefined;
        const label = rng.pick(["1", "0", 'say "hi", twice', "multi\nline"]);
        records.push([
          user ?? "",
          track ?? "",
          rng.chance(0.5) ? new Date(ts).toISOString() : String(ts),
          genre ?? "",
          offset ?? "",
          label,
        ]);
        const context: Record<string, unknown> = { label };
        if (genre !== undefined) context.track_genre = genre;
        if (offset !== undefined) context.timezone_offset_minutes = offset;
        oracleRows.push({ ts, ids: { ...(user ? { user } : {}), ...(track ? { track } : {}) }, context });
      }
      const csv = encodeCsvRecord(header) + records.map((r) => encodeCsvRecord(r)).join("");
      const spine = parseSpineCsv(csv);
      const { rows, columns, summary } = await getTrainingDataset(
        runner,
        REGISTRY,
        { spine, features: REQUESTED },
        { chunkRows: SMALL_CHUNK, joinChunkRows: SMALL_JOIN_CHUNK },
      );

      expect(columns).toEqual([...header, ...REQUESTED]);
      const expected = oracleRows.map((r) => oracleRow(history, r, REQUESTED));
      expectMatches(rows, expected, REQUESTED, `seed ${seed}`);
      // Labels and ids pass through untouched, in spine order.
      rows.forEach((row, i) => {
        expect(row.label).toBe(records[i]![5]);
        expect(row.user_id).toBe(records[i]![0]);
      });
      expect(summary.rows).toBe(SPINE_ROWS);
      const nullCountryCells = expected.filter((e) => e.country!.value === null).length;
      expect(summary.features.country).toMatchObject({ nulls: nullCountryCells, missingRequired: nullCountryCells });
      // tier has null_policy default: every row without a fresh non-null tier is defaulted.
      const tierMissing = oracleRows.filter(
        (r) => (oracleLookup(history, "user", r.ids.user, def("tier"), r.ts)?.value ?? null) === null,
      ).length;
      expect(summary.features.tier).toMatchObject({ defaulted: tierMissing, nulls: 0 });
    });

    it("entity_id spine with mixed entity types (inferred from the prefix) matches the oracle", async () => {
      const objects: Record<string, unknown>[] = [];
      const oracleRows: OracleRow[] = [];
      for (let i = 0; i < SPINE_ROWS; i++) {
        const kind = rng.pick(["user", "track"] as const);
        const id = rng.chance(0.1) ? NO_DATA[kind] : rng.pick(kind === "user" ? USERS : TRACKS);
        const ts = rowTime(rng, history, [id]);
        const cells: Record<string, unknown> = {
          entity_id: id,
          event_timestamp: rng.chance(0.5) ? ts : new Date(ts).toISOString(),
          clicked: rng.chance(0.5),
        };
        if (rng.chance(0.3)) cells.timestamp = new Date(ts - rng.int(0, 7_200_000)).toISOString();
        objects.push(cells);
        oracleRows.push({ ts, ids: { [kind]: id }, context: cells });
      }
      const { rows } = await getTrainingDataset(
        runner,
        REGISTRY,
        { spine: spineFromObjects(objects), features: REQUESTED },
        { chunkRows: 1000 },
      );
      expectMatches(
        rows,
        oracleRows.map((r) => oracleRow(history, r, REQUESTED)),
        REQUESTED,
        `seed ${seed} entity_id`,
      );
    });

    it("range mode returns one row per distinct observation time in [start, end), each point-in-time correct", async () => {
      const start = T0 + 100_000;
      const end = T0 + 400_000;
      const entities = ["user_1", "user_2", "track_1", NO_DATA.user];
      const refs = ["listen_score", "tier", "bpm", "time_of_day"];
      const storedNames = ["listen_score", "tier", "bpm"];
      const keys = new Map<string, OracleRow & { type: string; id: string }>();
      for (const o of history) {
        if (!entities.includes(o.entityId) || !storedNames.includes(o.feature) || o.ts < start || o.ts >= end) continue;
        keys.set(`${o.entityType}|${o.entityId}|${o.ts}`, {
          type: o.entityType,
          id: o.entityId,
          ts: o.ts,
          ids: { [o.entityType]: o.entityId },
          context: {},
        });
      }
      const expectedRows = [...keys.values()].sort((a, b) =>
        a.type + a.id < b.type + b.id ? -1 : a.type + a.id > b.type + b.id ? 1 : a.ts - b.ts,
      );
      const { rows, columns } = await getTrainingDataset(
        runner,
        REGISTRY,
        { entityIds: entities, features: refs, start, end },
        { chunkRows: SMALL_CHUNK, joinChunkRows: SMALL_JOIN_CHUNK },
      );
      expect(columns).toEqual(["entity_type", "entity_id", "event_timestamp", ...refs]);
      const sorted = [...rows].sort((a, b) => {
        const ka = `${String(a.entity_type)}${String(a.entity_id)}`;
        const kb = `${String(b.entity_type)}${String(b.entity_id)}`;
        return ka < kb ? -1 : ka > kb ? 1 : Date.parse(String(a.event_timestamp)) - Date.parse(String(b.event_timestamp));
      });
      expect(sorted.map((r) => [r.entity_type, r.entity_id, r.event_timestamp])).toEqual(
        expectedRows.map((r) => [r.type, r.id, new Date(r.ts).toISOString()]),
      );
      expectMatches(
        sorted,
        expectedRows.map((r) => oracleRow(history, r, refs)),
        refs,
        `seed ${seed} range`,
      );
    });
  });

  it("never returns a value observed after the row's time, even with sentinels 1 ms later that win every tie-break", async () => {
    const rng = new Rng(99);
    const history = generateHistory(rng, ["user_1", "user_2", "user_3"], ["track_1", "track_2"], 1);
    const rows: { user: string; track: string; ts: number }[] = [];
    for (let i = 0; i < 200; i++) {
      const user = rng.pick(["user_1", "user_2", "user_3"]);
      const track = rng.pick(["track_1", "track_2"]);
      rows.push({ user, track, ts: rowTime(rng, history, [user, track]) });
    }
    // Row i's sentinel: one per stored feature at ts + 1 ms, arriving last and with the highest ids.
    const sentinelOf = (feature: string, i: number): unknown =>
      feature === "favorite_genres" ? [`leak_${i}`] : feature === "listen_score" || feature === "bpm" ? -1_000_000 - i : `leak_${i}`;
    let nextId = 1_000_000;
    const withSentinels = [...history];
    rows.forEach((r, i) => {
      for (const d of STORED) {
        withSentinels.push({
          id: nextId++,
          entityType: d.entity_type,
          entityId: d.entity_type === "user" ? r.user : r.track,
          feature: d.name,
          value: sentinelOf(d.name, i),
          ts: r.ts + 1,
          ingestedAt: T0 + 86_400_000,
        });
      }
    });
    await client.query("truncate feature_values");
    await insertHistory(client, withSentinels);
    await client.query("analyze feature_values");

    const spine = spineFromObjects(rows.map((r) => ({ user_id: r.user, track_id: r.track, event_timestamp: r.ts })));
    const stored = ["listen_score", "tier", "favorite_genres", "country", "bpm"];
    const { rows: out } = await getTrainingDataset(
      runner,
      REGISTRY,
      { spine, features: [...stored, "affinity"] },
      { includeEventTimestamps: true, chunkRows: SMALL_CHUNK, joinChunkRows: SMALL_JOIN_CHUNK },
    );
    out.forEach((row, i) => {
      for (const f of stored) {
        const observed = row[`${f}${EVENT_TIMESTAMP_SUFFIX}`];
        if (observed !== null) expect(Date.parse(String(observed))).toBeLessThanOrEqual(rows[i]!.ts);
        expect(JSON.stringify(row[f])).not.toBe(JSON.stringify(sentinelOf(f, i)));
      }
    });
    // Earlier rows' sentinels are legitimately visible to later rows of the same entity; the oracle agrees.
    const expected = rows.map((r) =>
      oracleRow(withSentinels, { ts: r.ts, ids: { user: r.user, track: r.track }, context: {} }, [...stored, "affinity"]),
    );
    expectMatches(out, expected, [...stored, "affinity"], "leakage");
    out.forEach((row, i) => {
      for (const f of stored) {
        const want = expected[i]![f]!.ts;
        expect(row[`${f}${EVENT_TIMESTAMP_SUFFIX}`]).toBe(want === null ? null : new Date(want).toISOString());
      }
    });
  });

  it("streams in chunks, drops its temporary table, and explains an index-driven plan", async () => {
    const spine = spineFromObjects(
      Array.from({ length: 50 }, (_, i) => ({ user_id: `user_${(i % 6) + 1}`, event_timestamp: T0 + i * 7_000 })),
    );
    const progress: string[] = [];
    const dataset = await openTrainingDataset(
      runner,
      REGISTRY,
      { spine, features: ["listen_score", "tier"] },
      { chunkRows: 20, onProgress: (p) => progress.push(`${p.stage} ${p.done}/${p.total}`) },
    );
    const plan = await dataset.explain(false);
    expect(plan).toMatch(/as-of join, user rows 1\.\.50 of 50 \(2 lookups\)/);
    expect(plan).toMatch(/feature_values_lookup_idx/);
    const batches: number[] = [];
    for await (const b of dataset.batches()) batches.push(b.length);
    expect(batches).toEqual([20, 20, 10]);
    expect(progress).toEqual(["join 50/50", "write 20/50", "write 40/50", "write 50/50"]);
    const temp = await client.query(
      "select count(*)::int as n from pg_class where relname like 'fs_training_spine_%' and relpersistence = 't'",
    );
    expect(temp.rows[0].n).toBe(0);
    // The build's repeatable-read transaction is over: the connection is back to its default.
    expect((await client.query("show transaction_isolation")).rows[0].transaction_isolation).toBe("read committed");
  });

  it("reads one snapshot: a value written while the set is being built does not appear", async () => {
    await client.query("truncate feature_values");
    const rowTs = T0 + 500_000;
    const spine = spineFromObjects(Array.from({ length: 30 }, () => ({ user_id: "user_1", event_timestamp: rowTs })));
    const dataset = await openTrainingDataset(runner, REGISTRY, { spine, features: ["listen_score"] }, { chunkRows: 10 });
    const other = new pg.Client({ connectionString: urlFor(dbName) });
    await other.connect();
    try {
      await insertHistory(other, [
        { id: 1, entityType: "user", entityId: "user_1", feature: "listen_score", value: 777, ts: rowTs, ingestedAt: rowTs },
      ]);
    } finally {
      await other.end();
    }
    const values: unknown[] = [];
    for await (const batch of dataset.batches()) values.push(...batch.map((r) => r.listen_score));
    expect(values).toEqual(Array.from({ length: 30 }, () => null));
    // A new build sees it.
    const { rows } = await getTrainingDataset(runner, REGISTRY, { spine, features: ["listen_score"] });
    expect(rows[0]!.listen_score).toBe(777);
  });

  it("rejects bad requests before touching Postgres: unknown features (404 listing each), missing id columns, untyped ids", async () => {
    const spine = spineFromObjects([{ user_id: "user_1", event_timestamp: T0 }]);
    const err = await getTrainingDataset(runner, REGISTRY, { spine, features: ["listen_score", "nope", "g_user:missing"] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FeatureStoreError);
    expect((err as FeatureStoreError).status).toBe(404);
    expect((err as FeatureStoreError).message).toBe("Unknown features: nope, g_user:missing");

    const noTrack = await getTrainingDataset(runner, REGISTRY, { spine, features: ["bpm"] }).catch((e: unknown) => e);
    expect((noTrack as FeatureStoreError).status).toBe(400);
    expect((noTrack as FeatureStoreError).message).toMatch(/bpm needs track ids \(a "track_id" or "entity_id" column\)/);

    const untyped = spineFromObjects([{ entity_id: "abc", event_timestamp: T0 }]);
    const bad = await getTrainingDataset(runner, REGISTRY, { spine: untyped, features: ["listen_score", "bpm"] }).catch((e: unknown) => e);
    expect((bad as FeatureStoreError).message).toMatch(/row 1: cannot tell the entity type of entity_id "abc"/);

    // With a single entity type among the stored features, an unprefixed id is of that type (as in serving).
    const { rows } = await getTrainingDataset(runner, REGISTRY, { spine: untyped, features: ["listen_score"] });
    expect(rows).toEqual([{ entity_id: "abc", event_timestamp: T0, listen_score: null }]);
  });
});
