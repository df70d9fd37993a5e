// npm run dev: starts the local cloud (Postgres, relay, Redis gateway), prepares data, runs both Workers.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { errorMessage } from "../src/core/errors";
import { sha256Hex } from "../src/core/hash";
import { log } from "../src/core/log";
import { runIfMain } from "../tools/cli";
import { type EventStream, startDemoEvents } from "../tools/demo/event-simulator";
import { copyDemoHistory } from "../tools/demo/raw-events";
import { DEV_STACK_FILE, type DevStackInfo } from "../tools/dev-stack";
import { migrateDatabase } from "../tools/migrate";
import { DATA_DIR, FEATURES_DIR, PROJECT_ROOT, TSX_BIN, WRANGLER_PERSIST_DIR } from "../tools/paths";
import { redactUrl, withPgClient } from "../tools/postgres";
import { loadDefinitions } from "../tools/registry/load-definitions";
import { runBackfill } from "../tools/stream/backfill";
import { type LocalWorkers, startLocalWorkers } from "./local-workers";
import type { PgWsRelay } from "./pg-ws-relay";
import { isTcpReachable, type PostgresService, type RedisService, resolvePostgres, resolveRedis, startRelay } from "./services";

export const SERVING_PORT = 8787;
export const INGEST_PORT = 8788;
export const RELAY_PORT = 8790;
export const GATEWAY_PORT = 8791;
export const EMBEDDED_PG_PORT = 54329;
/** Miniflare runs no crons by itself; the dev stack fires the ingest cron at this interval. */
export const DEV_CRON_INTERVAL_MS = 60_000;
const INGEST_CRON = "*/15 * * * *";
/** Ctrl-C waits at most this long for the services to close before exiting anyway. */
const SHUTDOWN_TIMEOUT_MS = 5_000;
const LOCK_FILE = path.join(DATA_DIR, "dev.lock");
const DEV_KEY_FILE = path.join(DATA_DIR, "dev-key");

class StartupError extends Error {}

function step(message: string): void {
  process.stdout.write(`  • ${message}\n`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // ESRCH: no such process, so the lock is stale.
    return false;
  }
}

function takeLock(): void {
  mkdirSync(DATA_DIR, { recursive: true });
  if (existsSync(LOCK_FILE)) {
    const pid = Number(readFileSync(LOCK_FILE, "utf8").trim());
    if (pid && pid !== process.pid && pidAlive(pid))
      throw new StartupError(`npm run dev is already running (pid ${pid}). Stop it with Ctrl-C, or: kill ${pid}`);
  }
  writeFileSync(LOCK_FILE, String(process.pid));
}

async function assertPortsFree(ports: Record<string, number>): Promise<void> {
  for (const [what, port] of Object.entries(ports)) {
    if (await isTcpReachable("127.0.0.1", port))
      throw new StartupError(
        `Port ${port} (${what}) is already in use. Stop whatever listens there (e.g. \`lsof -i :${port}\`) and retry.`,
      );
  }
}

function devApiKey(): string {
  if (process.env.FEATURE_STORE_DEV_KEY) return process.env.FEATURE_STORE_DEV_KEY;
  if (existsSync(DEV_KEY_FILE)) return readFileSync(DEV_KEY_FILE, "utf8").trim();
  const key = `fs_dev_${randomBytes(18).toString("base64url")}`;
  writeFileSync(DEV_KEY_FILE, key, { mode: 0o600 });
  return key;
}

/** Runs one of our npm scripts as a child, streaming its output indented. */
function runScript(script: string, args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX_BIN, script, ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const indent = (d: Buffer) => d.toString().replace(/^(?=.)/gm, "      ");
    child.stdout.on("data", (d: Buffer) => process.stdout.write(indent(d)));
    child.stderr.on("data", (d: Buffer) => process.stderr.write(indent(d)));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new StartupError(`${script} ${args.join(" ")} exited with ${code}`))));
  });
}

async function demoCatalogIsEmpty(databaseUrl: string): Promise<boolean> {
  return withPgClient(databaseUrl, async (client) => {
    const res = await client.query<{ n: string }>("select count(*)::text as n from users");
    return res.rows[0]?.n === "0";
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log("EchoTune Feature Store — local stack\n");
  takeLock();
  try {
    await assertPortsFree({
      "feature-serving": SERVING_PORT,
      "feature-ingest": INGEST_PORT,
      "Postgres relay": RELAY_PORT,
      "Upstash gateway": GATEWAY_PORT,
    });
  } catch (err) {
    rmSync(LOCK_FILE, { force: true });
    throw err;
  }

  const resources: { close(): Promise<void> }[] = [];
  let workers: LocalWorkers | undefined;
  let cronTimer: ReturnType<typeof setInterval> | undefined;
  let eventStream: EventStream | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping…");
    // Files first: whatever happens to the closes below, the next start must not see a stale stack.
    rmSync(DEV_STACK_FILE, { force: true });
    rmSync(LOCK_FILE, { force: true });
    if (cronTimer) clearInterval(cronTimer);
    await eventStream?.stop();
    const closeAll = async () => {
      if (workers)
        await workers.close().catch((e: unknown) => log("warn", "dev_close_failed", { what: "workers", error: errorMessage(e) }));
      for (const r of resources.reverse())
        await r.close().catch((e: unknown) => log("warn", "dev_close_failed", { what: "service", error: errorMessage(e) }));
    };
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_TIMEOUT_MS).unref());
    await Promise.race([closeAll(), timeout]);
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  try {
    if (!process.env.DATABASE_URL) await assertPortsFree({ "embedded Postgres": EMBEDDED_PG_PORT });
    const postgres: PostgresService = await resolvePostgres({
      allowLocal: false,
      dataDir: path.join(DATA_DIR, "pglite"),
      embeddedPort: EMBEDDED_PG_PORT,
    });
    resources.push(postgres);
    step(
      `Postgres: ${redactUrl(postgres.url)} (${postgres.source === "embedded" ? "embedded PGlite, data in .data/pglite" : "DATABASE_URL"})`,
    );

    const relay: PgWsRelay = await startRelay(postgres.url, RELAY_PORT);
    resources.push(relay);
    step(`Neon WebSocket relay: ws://127.0.0.1:${RELAY_PORT}`);

    const redis: RedisService = await resolveRedis({ gatewayPort: GATEWAY_PORT });
    resources.push(redis);
    if (redis.restUrl) step(`Redis: ${redis.redisUrl} via Upstash REST gateway ${redis.restUrl}`);
    else step("Redis: none reachable at 127.0.0.1:6379 and REDIS_URL unset; the L2 tier is OFF");

    await migrateDatabase(postgres.url);
    step("migrations applied");

    const env = { DATABASE_URL: postgres.url };
    await runScript("scripts/registry.ts", ["apply", "--allow-breaking", "--republish"], env);
    step("registry applied from features/ and published to local KV");

    if (await demoCatalogIsEmpty(postgres.url)) {
      await runScript("scripts/demo-seed.ts", [], env);
      step("demo catalog seeded");
    } else step("demo catalog already seeded (npm run demo:seed -- --help to reseed)");

    const key = devApiKey();
    const bindings: Record<string, string> = {
      DATABASE_URL: postgres.url,
      NEON_WS_PROXY: `127.0.0.1:${RELAY_PORT}`,
      // FEATURE_STORE_EXTRA_API_KEYS ("<sha256hex>:scope+scope,…") adds keys, e.g. the serve-only key of npm run ui:test.
      API_KEYS: [`${await sha256Hex(key)}:serve+ingest+admin`, process.env.FEATURE_STORE_EXTRA_API_KEYS].filter(Boolean).join(","),
      REDIS_KEY_PREFIX: "dev:",
      ...(redis.restUrl && redis.restToken ? { UPSTASH_REDIS_REST_URL: redis.restUrl, UPSTASH_REDIS_REST_TOKEN: redis.restToken } : {}),
    };
    workers = await startLocalWorkers(
      [
        { configPath: "wrangler.toml", port: SERVING_PORT, bindings },
        { configPath: "wrangler.ingest.toml", port: INGEST_PORT, bindings },
      ],
      // Same layout as wrangler's --persist-to, so `wrangler kv ... --local` (registry apply) sees the same data.
      { stateDir: path.join(WRANGLER_PERSIST_DIR, "v3"), buildDir: path.join(DATA_DIR, "build") },
    );
    const servingUrl = `http://127.0.0.1:${SERVING_PORT}`;
    const ingestUrl = `http://127.0.0.1:${INGEST_PORT}`;
    const info: DevStackInfo = {
      pid: process.pid,
      databaseUrl: postgres.url,
      postgresSource: postgres.source,
      redisUrl: redis.redisUrl ?? null,
      redisRestUrl: redis.restUrl ?? null,
      redisRestToken: redis.restToken ?? null,
      redisKeyPrefix: "dev:",
      servingUrl,
      ingestUrl,
      devApiKey: key,
      startedAt: new Date().toISOString(),
    };
    writeFileSync(DEV_STACK_FILE, JSON.stringify(info, null, 2));

    if (existsSync(path.join(PROJECT_ROOT, "scripts", "materialize.ts"))) {
      // A loaded machine (CI, several stacks' worth of work) may need longer than materialize's default wait.
      const wait = process.env.DEV_MATERIALIZE_TIMEOUT_S ? ["--timeout", process.env.DEV_MATERIALIZE_TIMEOUT_S] : [];
      await runScript("scripts/materialize.ts", ["--all", "--trigger", "dev", ...wait], env);
      step("batch features materialized");
    }

    // Raw events for the aggregation features (README "Streaming aggregations"): a burst of the last 50
    // minutes, then a small stream, so skips_1h and tracks_in_session are non-empty and move.
    const demoEvents = await startDemoEvents({ url: ingestUrl, key, from: "npm run dev" }, postgres.url, {
      onError: (e) => log("warn", "dev_event_stream_failed", { error: errorMessage(e) }),
    });
    eventStream = demoEvents.stream;
    step(`demo events posted (${demoEvents.seeded.accepted} over the last 50 min) and streaming (npm run demo:stream for more)`);
    // The demo history as raw events, replayed into the tiles: the 7-day rates cover their whole window.
    const copied = await copyDemoHistory(postgres.url);
    const windowed = loadDefinitions(FEATURES_DIR).features.filter(
      (f) => f.computation_type === "aggregation" && f.aggregation?.window !== "lifetime",
    );
    for (const f of windowed) await runBackfill({ url: ingestUrl, key, from: "npm run dev" }, { feature: f.name, restart: true });
    step(`demo history: ${copied} raw events copied, ${windowed.length} aggregation features backfilled`);

    const lw = workers;
    cronTimer = setInterval(() => {
      lw.scheduled("feature-ingest", INGEST_CRON).catch((e: unknown) =>
        log("warn", "dev_cron_failed", { cron: INGEST_CRON, error: errorMessage(e) }),
      );
    }, DEV_CRON_INTERVAL_MS);

    console.log(`
Ready in ${((Date.now() - started) / 1000).toFixed(1)} s
  feature-serving  ${servingUrl}   (GET /health, POST /features/get, /registry/features)
  feature-ingest   ${ingestUrl}   (GET /health, POST /ingest/push)
  console          ${servingUrl}/ui   (sign in with the dev API key)
  dev API key      ${key}
  try: curl -s ${servingUrl}/health
       curl -s -H 'authorization: Bearer ${key}' -H 'content-type: application/json' \\
         -d '{"entity_id":"user_1","feature_names":["skips_1h","tracks_played_1h","skip_rate_7d","subscription_type"],"include_metadata":true}' ${servingUrl}/features/get
Ctrl-C stops everything.`);
  } catch (err) {
    console.error(`\nnpm run dev failed: ${errorMessage(err)}`);
    if (!(err instanceof StartupError) && err instanceof Error && err.stack) console.error(err.stack.split("\n").slice(1, 4).join("\n"));
    await stop(1);
  }
}

runIfMain("npm run dev failed", import.meta.url, main);
