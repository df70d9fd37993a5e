// Materialization inside workerd: admin API over real source rows → queue → consumer, chunking, resume, lock, cron.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { FeatureDefinition, type FeatureDefinitionInput } from "../../src/core/definitions";
import type { IngestMessage } from "../../src/core/ingest-message";
import { CompiledRegistry } from "../../src/core/registry";
import { withPostgresClient } from "../../src/db/postgres";
import type { MaterializeEvent, RunSummary } from "../../src/materialize/events";
import {
  MATERIALIZE_CHUNK_ROWS,
  type MaterializerDeps,
  materializeFeature,
  runScheduledMaterialization,
} from "../../src/materialize/materializer";
import {
  applyTestRegistry,
  INGEST_ONLY_KEY,
  inKv,
  inRedis,
  latestInPostgres,
  pgConfig,
  plain,
  recordingQueue,
  redisOrSkip,
  snapshotOf,
  sql,
  uid,
  waitFor,
} from "./support";

const HOUR = 3_600_000;

beforeAll(applyTestRegistry);

function admin(path: string, init: RequestInit & { key?: string } = {}): Promise<Response> {
  const { key, ...rest } = init;
  return SELF.fetch(`http://ingest${path}`, {
    ...rest,
    headers: { "content-type": "application/json", authorization: `Bearer ${key ?? inject("testApiKey")}`, ...(rest.headers ?? {}) },
  });
}

async function events(res: Response): Promise<MaterializeEvent[]> {
  return new TextDecoder()
    .decode(await res.arrayBuffer())
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as MaterializeEvent);
}

const recordingDeps = () => {
  const queue = recordingQueue();
  const deps: MaterializerDeps = { postgres: pgConfig(), queue, now: Date.now, log: () => undefined };
  return { queue, deps };
};

const feature = (name: string, sourceQuery: string, extra: Partial<FeatureDefinitionInput> = {}): FeatureDefinition =>
  FeatureDefinition.parse({
    name,
    group: "tst_materialize",
    entity_type: "user",
    feature_type: "numerical",
    computation_type: "batch",
    update_frequency: "1h",
    retention_days: 30,
    ttl_seconds: 86_400,
    description: "materialization test feature",
    owner: "ml-platform@echotune.fm",
    source_query: sourceQuery,
    ...extra,
  });

describe("POST /admin/materialize", () => {
  const prefix = uid("user_mat");
  const ids = Array.from({ length: 7 }, (_, i) => `${prefix}_${i}`);

  beforeAll(async () => {
    // numeric comes back from Postgres as text: the materializer converts it for a numerical feature.
    await sql("create table if not exists tst_affinity_source (entity_id text primary key, value numeric)");
    await sql("delete from tst_affinity_source");
    await sql(
      `insert into tst_affinity_source (entity_id, value)
       select * from unnest($1::text[], $2::numeric[])`,
      [ids, [0.1, 0.2, 0.3, 0.4, 0.5, 3, null]],
    );
  });

  it("runs the source query, streams progress, writes through the queue and records the run with its counts", async () => {
    const started = Date.now();
    const res = await admin("/admin/materialize", { method: "POST", body: JSON.stringify({ features: ["tst_affinity"], trigger: "cli" }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/x-ndjson");
    const stream = await events(res);
    expect(stream[0]).toEqual({ type: "start", features: ["tst_affinity"] });
    expect(stream.map((e) => e.type)).toEqual(["start", "run_started", "progress", "run_finished", "done"]);
    const done = stream.at(-1) as Extract<MaterializeEvent, { type: "done" }>;
    const run = done.runs[0]!;
    expect(run).toMatchObject({ feature: "tst_affinity", status: "succeeded", trigger: "cli", rows_read: 7, rejects: 1, cursor: ids[6] });
    expect(new Date(run.interval_end).getTime()).toBeGreaterThanOrEqual(started - 1000);
    expect(run.duration_ms).toBeGreaterThanOrEqual(0);

    // The consumer counts what it wrote against the run: the run completes.
    const complete = await waitFor("the run to complete", async () => {
      const r = await admin(`/admin/materialize/runs?ids=${run.id}`);
      const { runs } = (await r.json()) as { runs: RunSummary[] };
      return runs[0]?.complete ? runs[0] : undefined;
    });
    expect(complete).toMatchObject({ rows_read: 7, rows_written: 6, rejects: 1 });

    const at = new Date(run.interval_end).getTime();
    expect(await latestInPostgres("user", ids[0]!)).toEqual({ tst_affinity: { value: 0.1, eventTimestamp: at } });
    expect(await latestInPostgres("user", ids[6]!)).toEqual({ tst_affinity: { value: null, eventTimestamp: at } });
    expect(await latestInPostgres("user", ids[5]!)).toEqual({});
    const ref = { entityType: "user", entityId: ids[4]! };
    expect(plain(await inKv(ref))).toEqual({ tst_affinity: { value: 0.5, eventTimestamp: at } });
    if (redisOrSkip("materialized value in Redis"))
      expect(plain(await inRedis(ref, ["tst_affinity"]))).toEqual({ tst_affinity: { value: 0.5, eventTimestamp: at } });
    const rejects = await sql<{ n: number }>(
      "select coalesce(sum(rejected), 0)::int as n from ingest_rejects where feature_name = 'tst_affinity' and rule = 'max_value' and source = 'materialization'",
    );
    expect(rejects[0]!.n).toBeGreaterThanOrEqual(1);

    // The next run starts where this one ended.
    const next = await events(await admin("/admin/materialize", { method: "POST", body: JSON.stringify({ features: ["tst_affinity"] }) }));
    const nextRun = (next.at(-1) as Extract<MaterializeEvent, { type: "done" }>).runs[0]!;
    expect(nextRun.interval_start).toBe(run.interval_end);
    expect(nextRun.trigger).toBe("api");
  });

  it("lists runs, newest first, filtered by feature", async () => {
    const res = await admin("/admin/materialize/runs?feature=tst_affinity&limit=1");
    expect(res.status).toBe(200);
    const { runs } = (await res.json()) as { runs: RunSummary[] };
    expect(runs).toHaveLength(1);
    expect(runs[0]!.feature).toBe("tst_affinity");
  });

  it("answers 400 without features or all, 404 for unknown names, 400 for a stream feature, 403 without admin", async () => {
    expect((await admin("/admin/materialize", { method: "POST", body: "" })).status).toBe(400);
    const unknown = await admin("/admin/materialize", { method: "POST", body: JSON.stringify({ features: ["nope_not_here"] }) });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "not_found", details: { unknown: ["nope_not_here"] } } });
    expect((await admin("/admin/materialize", { method: "POST", body: JSON.stringify({ features: ["tst_plays_1h"] }) })).status).toBe(400);
    expect((await admin("/admin/materialize", { method: "POST", body: JSON.stringify({ all: true }), key: INGEST_ONLY_KEY })).status).toBe(
      403,
    );
    expect((await admin("/admin/materialize/runs?limit=0")).status).toBe(400);
  });
});

describe("materializeFeature", () => {
  it("reads in keyset chunks with a cursor, and resumes a crashed run after its cursor with the same event time", async () => {
    const table = `tst_src_${uid("t").toLowerCase()}`;
    const total = MATERIALIZE_CHUNK_ROWS + 500;
    await sql(
      `create table ${table} as select 'e_' || lpad(g::text, 5, '0') as entity_id, (g % 7)::float8 as value from generate_series(0, ${total - 1}) as g`,
    );
    const def = feature(uid("tst_resume").toLowerCase(), `select entity_id, value from ${table};`);
    const intervalEnd = new Date(Date.now() - HOUR);
    // A run that crashed after its first chunk, and an older one that never finished either.
    await sql(`insert into materialization_runs (feature_name, status, trigger, interval_end) values ($1, 'running', 'cron', $2)`, [
      def.name,
      intervalEnd,
    ]);
    const crashed = await sql<{ id: number }>(
      `insert into materialization_runs (feature_name, status, trigger, interval_end, rows_read, cursor)
       values ($1, 'running', 'cron', $2, $3, $4) returning id`,
      [def.name, intervalEnd, MATERIALIZE_CHUNK_ROWS, `e_${String(MATERIALIZE_CHUNK_ROWS - 1).padStart(5, "0")}`],
    );
    const { queue, deps } = recordingDeps();
    const seen: MaterializeEvent[] = [];
    const run = await materializeFeature(def, { trigger: "cli", onEvent: (e) => seen.push(e) }, deps);
    expect(run).toMatchObject({
      id: crashed[0]!.id,
      status: "succeeded",
      rows_read: total,
      rejects: 0,
      cursor: `e_${String(total - 1).padStart(5, "0")}`,
    });
    expect(seen.find((e) => e.type === "run_started")).toMatchObject({ resumed: true });
    const sent = queue.sent as IngestMessage[];
    expect(sent).toHaveLength(500);
    expect(sent[0]).toMatchObject({
      entity_id: `e_0${MATERIALIZE_CHUNK_ROWS}`,
      source: "materialization",
      run_id: crashed[0]!.id,
      event_timestamp: intervalEnd.getTime(),
    });
    expect(queue.batches.every((n) => n <= 100)).toBe(true);
    const others = await sql<{ status: string; error: string }>(
      "select status, error from materialization_runs where feature_name = $1 and id <> $2",
      [def.name, crashed[0]!.id],
    );
    expect(others).toEqual([{ status: "failed", error: `abandoned: superseded by run ${crashed[0]!.id}` }]);

    // A fresh run reads everything in chunks of MATERIALIZE_CHUNK_ROWS.
    const fresh = recordingDeps();
    const progress: number[] = [];
    const second = await materializeFeature(
      def,
      { trigger: "cli", onEvent: (e) => e.type === "progress" && progress.push(e.rows_read) },
      fresh.deps,
    );
    expect(second?.rows_read).toBe(total);
    expect(progress).toEqual([MATERIALIZE_CHUNK_ROWS, total]);
    expect(fresh.queue.sent).toHaveLength(total);
  });

  it("skips a feature another runner holds the lock of", async () => {
    const def = feature(uid("tst_locked").toLowerCase(), "select 'x'::text as entity_id, 1.0::float8 as value");
    const seen: MaterializeEvent[] = [];
    const result = await withPostgresClient(pgConfig(), async (client) => {
      await client.query("select pg_advisory_lock(hashtext($1))", [`materialize:${def.name}`]);
      return materializeFeature(def, { trigger: "cli", onEvent: (e) => seen.push(e) }, recordingDeps().deps);
    });
    expect(result).toBeUndefined();
    expect(seen).toEqual([{ type: "skipped", feature: def.name, reason: "another run of this feature is in progress" }]);
  });

  it("records a failed run with the query's error", async () => {
    const def = feature(uid("tst_broken").toLowerCase(), "select id as entity_id, 1 as value from no_such_table_here");
    const run = await materializeFeature(def, { trigger: "cli" }, recordingDeps().deps);
    expect(run).toMatchObject({ status: "failed" });
    expect(run?.error).toMatch(/no_such_table_here/);
  });
});

describe("cron: runScheduledMaterialization", () => {
  it("materializes only the batch features whose update_frequency has elapsed since their last success", async () => {
    const tag = uid("c").toLowerCase();
    const q = "select 'user_cron'::text as entity_id, 0.5::float8 as value";
    const defs: FeatureDefinitionInput[] = [
      { ...feature(`cron_hourly_${tag}`, q), update_frequency: "1h" },
      { ...feature(`cron_daily_${tag}`, q), update_frequency: "1d" },
      { ...feature(`cron_never_${tag}`, q), update_frequency: "6h" },
      { ...feature(`cron_stream_${tag}`, q), computation_type: "stream", source_query: undefined },
    ];
    const registry = new CompiledRegistry(snapshotOf(defs, `r-cron-${tag}`));
    const now = Date.now();
    for (const name of [`cron_hourly_${tag}`, `cron_daily_${tag}`]) {
      await sql(
        `insert into materialization_runs (feature_name, status, trigger, interval_end, finished_at) values ($1, 'succeeded', 'cron', $2, $2)`,
        [name, new Date(now - 2 * HOUR)],
      );
    }
    const { queue, deps } = recordingDeps();
    const result = await runScheduledMaterialization(registry, now, deps);
    const due = Object.fromEntries(result.decisions.map((d) => [d.feature.replace(`_${tag}`, ""), d.due]));
    expect(due).toEqual({ cron_hourly: true, cron_daily: false, cron_never: true });
    expect(result.runs.map((r) => r.feature).sort()).toEqual([`cron_hourly_${tag}`, `cron_never_${tag}`]);
    for (const r of result.runs)
      expect(r).toMatchObject({ trigger: "cron", status: "succeeded", interval_end: new Date(now).toISOString() });
    expect((queue.sent as IngestMessage[]).map((m) => Object.keys(m.features)[0]).sort()).toEqual([
      `cron_hourly_${tag}`,
      `cron_never_${tag}`,
    ]);

    // Right after, nothing is due any more.
    const again = await runScheduledMaterialization(registry, now + 60_000, recordingDeps().deps);
    expect(again.runs).toEqual([]);
  });
});
