// A real Prometheus (Debian's prometheus) scrapes both Workers through the serving Worker's GET /metrics, with the shipped
// config and alert rules: every dashboard query returns data, every alert expression evaluates, and a staleness alert fires.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { freePort } from "../../bench/lib/ports";
import { type LocalWorkers, startLocalWorkers } from "../../dev/local-workers";
import { resolvePostgres, startRelay } from "../../dev/services";
import { sha256Hex } from "../../src/core/hash";
import { REGISTRY_SNAPSHOT_KEY, REGISTRY_VERSION_KEY } from "../../src/core/keys";
import { migrateDatabase } from "../../tools/migrate";
import { DATA_DIR, PROJECT_ROOT } from "../../tools/paths";
import { createDatabase, dropDatabase, withPgClient } from "../../tools/postgres";
import { dashboardQueries } from "../../tools/quality/dashboard";
import { hasBinary } from "../support/binaries";
import { catalogSnapshot } from "../support/catalog-snapshot";

const hasPrometheus = hasBinary("prometheus", "the real-Prometheus test");

/** Prometheus scrapes and evaluates rules this often in the test (the shipped config says 15 s). */
const TEST_INTERVAL = "1s";
const WAIT_MS = 40_000;
const TEST_TIMEOUT_MS = 120_000;
const KEY = `prom-test-${randomBytes(6).toString("hex")}`;
/** The feature made stale on purpose: a batch feature (6 h update frequency) whose newest value is 2 days old. */
const STALE_FEATURE = "listening_hours_weekly";

interface PromAnswer<T> {
  status: string;
  data: T;
  error?: string;
}

let workers: LocalWorkers | undefined;
let prometheus: ChildProcess | undefined;
let promUrl = "";
let tmp = "";
let closeRelay: (() => Promise<void>) | undefined;
let dropDb: (() => Promise<void>) | undefined;
let servingUrl = "";
let ingestUrl = "";

async function prom<T>(pathAndQuery: string): Promise<PromAnswer<T>> {
  const res = await fetch(`${promUrl}${pathAndQuery}`);
  return (await res.json()) as PromAnswer<T>;
}

async function query(expr: string): Promise<PromAnswer<{ result: unknown[] }>> {
  return prom(`/api/v1/query?query=${encodeURIComponent(expr)}`);
}

async function waitFor<T>(what: string | (() => string), check: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + WAIT_MS;
  for (;;) {
    const got = await check().catch(() => undefined);
    if (got !== undefined) return got;
    if (Date.now() > until) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const authed = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };

/** Serving traffic (several tiers) and ingest traffic with one invalid value, so each counter moves. */
async function traffic(): Promise<void> {
  for (let i = 1; i <= 5; i++) {
    const res = await fetch(`${servingUrl}/features/get`, {
      method: "POST",
      headers: authed,
      body: JSON.stringify({ entity_id: `user_${i}`, feature_names: [STALE_FEATURE, "subscription_type"] }),
    });
    expect(res.status).toBe(200);
  }
  const push = await fetch(`${ingestUrl}/ingest/push`, {
    method: "POST",
    headers: authed,
    body: JSON.stringify([{ entity_type: "user", entity_id: "user_1", event_timestamp: Date.now(), features: { play_queue_length: 10 } }]),
  });
  expect(push.status).toBe(202);
  // A direct Queue producer (no HTTP validation): above max_value 168, the consumer rejects it and dead-letters the message.
  const queue = await workers!.mf.getQueueProducer("INGEST_QUEUE", "feature-ingest");
  await queue.send({
    entity_type: "user",
    entity_id: "user_2",
    event_timestamp: Date.now(),
    features: { listening_hours_weekly: 700 },
    update_id: `bad-${randomBytes(4).toString("hex")}`,
    source: "push",
  });
}

describe.skipIf(!hasPrometheus)("real Prometheus against both Workers", () => {
  beforeAll(async () => {
    const server = await resolvePostgres({ allowLocal: true, dataDir: path.join(DATA_DIR, "pglite-test") });
    if (server.source === "embedded") throw new Error("the Prometheus test needs a real Postgres (DATABASE_URL or 127.0.0.1:5432)");
    const dbName = `fs_prom_${process.pid}_${randomBytes(3).toString("hex")}`;
    const databaseUrl = await createDatabase(server.url, dbName);
    dropDb = () => dropDatabase(server.url, dbName);
    await migrateDatabase(databaseUrl);
    const relay = await startRelay(databaseUrl);
    closeRelay = () => relay.close();

    const snapshot = catalogSnapshot("r-prometheus-test");
    const [servingPort, ingestPort, promPort] = [await freePort(), await freePort(), await freePort()];
    const bindings = {
      DATABASE_URL: databaseUrl,
      NEON_WS_PROXY: `127.0.0.1:${relay.port}`,
      API_KEYS: `${await sha256Hex(KEY)}:serve+ingest+admin`,
    };
    tmp = mkdtempSync(path.join(os.tmpdir(), "echotune-prom-"));
    workers = await startLocalWorkers(
      [
        { configPath: "wrangler.toml", port: servingPort, bindings },
        { configPath: "wrangler.ingest.toml", port: ingestPort, bindings },
      ],
      { buildDir: path.join(tmp, "build"), onLog: () => undefined },
    );
    servingUrl = workers.urls["feature-serving"]!;
    ingestUrl = workers.urls["feature-ingest"]!;
    const kv = await workers.mf.getKVNamespace("REGISTRY_KV", "feature-serving");
    await kv.put(REGISTRY_SNAPSHOT_KEY, JSON.stringify(snapshot));
    await kv.put(REGISTRY_VERSION_KEY, snapshot.version);

    // listening_hours_weekly made stale on purpose: its newest value is two days old (limit: 2 × 6 h).
    await withPgClient(databaseUrl, async (c) => {
      await c.query(
        `insert into feature_latest (entity_type, entity_id, feature_name, feature_value, event_timestamp)
         select 'user', 'user_' || i, $1, to_jsonb(0.3), now() - interval '2 days' from generate_series(1, 20) i`,
        [STALE_FEATURE],
      );
    });

    // subscription_type drifts: a day ago mostly free, in the last hours mostly premium (the quality job's verdict: drift).
    await withPgClient(databaseUrl, async (c) => {
      await c.query(
        `insert into feature_values (feature_name, entity_type, entity_id, feature_value, event_timestamp, idempotency_key)
         select 'subscription_type', 'user', 'user_' || i,
                to_jsonb(case when (i % 10) < (case when i <= 300 then 8 else 3 end) then 'free' else 'premium' end),
                case when i <= 300 then now() - interval '26 hours' else now() - interval '2 hours' end + make_interval(secs => i),
                'prom-test-' || i
           from generate_series(1, 600) i`,
      );
    });

    // The shipped config and rules, pointed at this test's serving Worker.
    const config = parse(readFileSync(path.join(PROJECT_ROOT, "monitoring", "prometheus.yml"), "utf8")) as {
      global: Record<string, string>;
      scrape_configs: { static_configs: { targets: string[] }[] }[];
    };
    config.global.scrape_interval = TEST_INTERVAL;
    config.global.evaluation_interval = TEST_INTERVAL;
    config.scrape_configs[0]!.static_configs[0]!.targets = [`127.0.0.1:${servingPort}`];
    mkdirSync(path.join(tmp, "prometheus"), { recursive: true });
    writeFileSync(
      path.join(tmp, "prometheus", "alerts.yml"),
      readFileSync(path.join(PROJECT_ROOT, "monitoring", "prometheus", "alerts.yml")),
    );
    writeFileSync(path.join(tmp, "prometheus.yml"), stringify(config));
    promUrl = `http://127.0.0.1:${promPort}`;
    prometheus = spawn(
      "prometheus",
      [
        `--config.file=${path.join(tmp, "prometheus.yml")}`,
        `--storage.tsdb.path=${path.join(tmp, "data")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: "ignore" },
    );
    await waitFor("the first successful scrape", async () => {
      const t = await prom<{ activeTargets: { health: string }[] }>("/api/v1/targets");
      return t.data.activeTargets[0]?.health === "up" ? true : undefined;
    });
    // Counters move after Prometheus has seen them once, so increase() and rate() have two points.
    await traffic();
    await new Promise((r) => setTimeout(r, 3_000));
    await traffic();
    // The ingest Worker's cron: materialization and the quality job, which reports to the serving Worker's hub.
    await workers.scheduled("feature-ingest", "*/15 * * * *");
    await traffic();
  }, 300_000);

  afterAll(async () => {
    prometheus?.kill("SIGTERM");
    await workers?.close();
    await closeRelay?.();
    await dropDb?.();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("scrapes totals of both Workers from one target, labelled worker and colo", async () => {
    const byWorker = await waitFor("series of both Workers", async () => {
      const r = await query("count by (worker) (feature_serving_requests_total or feature_ingest_requests_total)");
      const workersSeen = (r.data.result as { metric: { worker: string } }[]).map((s) => s.metric.worker).sort();
      return workersSeen.length === 2 ? workersSeen : undefined;
    });
    expect(byWorker).toEqual(["feature-ingest", "feature-serving"]);
    const colo = await query('count by (colo) (feature_serving_requests_total{worker="feature-serving"})');
    expect((colo.data.result as { metric: { colo: string } }[]).map((s) => s.metric.colo).length).toBeGreaterThan(0);
  });

  it(
    "answers every dashboard query with data",
    async () => {
      const empty = async () => {
        const out: string[] = [];
        for (const expr of dashboardQueries()) {
          const a = await query(expr);
          expect(a.status, `${expr}: ${a.error}`).toBe("success");
          if (a.data.result.length === 0) out.push(expr);
        }
        return out;
      };
      let missing = await empty();
      const until = Date.now() + WAIT_MS;
      while (missing.length > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 1_000));
        missing = await empty();
      }
      expect(missing).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "evaluates every alert expression, and fires FeatureStale for the stale feature and DeadLettersGrowing",
    async () => {
      const rules = await prom<{ groups: { rules: { name: string; query: string; health: string }[] }[] }>("/api/v1/rules");
      const all = rules.data.groups.flatMap((g) => g.rules);
      expect(all.length).toBe(9);
      for (const rule of all) {
        const r = await query(rule.query);
        expect(r.status, `${rule.name}: ${r.error}`).toBe("success");
      }
      let lastAlerts: string[] = [];
      const firing = await waitFor(
        () => `FeatureStale and DeadLettersGrowing firing (seen: ${lastAlerts.join(", ")})`,
        async () => {
          const a = await prom<{ alerts: { labels: Record<string, string>; state: string }[] }>("/api/v1/alerts");
          lastAlerts = a.data.alerts.map((x) => `${x.labels.alertname}:${x.state}`);
          const stale = a.data.alerts.find((x) => x.labels.alertname === "FeatureStale" && x.labels.feature_name === STALE_FEATURE);
          const dead = a.data.alerts.find((x) => x.labels.alertname === "DeadLettersGrowing");
          return stale?.state === "firing" && dead?.state === "firing" ? { stale, dead } : undefined;
        },
      );
      expect(firing.stale.labels.severity).toBe("warning");
      expect(firing.dead.labels.source).toBe("validation");
      // Every rule Prometheus loaded is healthy (no evaluation errors).
      const after = await prom<{ groups: { rules: { name: string; health: string }[] }[] }>("/api/v1/rules");
      expect(after.data.groups.flatMap((g) => g.rules).filter((r) => r.health !== "ok" && r.health !== "unknown")).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
