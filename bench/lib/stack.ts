// Starts (and stops) everything a bench run needs: its own Postgres database, the relay and Upstash
// gateway (child process), one Miniflare with five Workers, and the bench registry in REGISTRY_KV.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, rmSync, statfsSync, type WriteStream } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Miniflare } from "miniflare";
import { type LocalWorkers, startLocalWorkers } from "../../dev/local-workers";
import { isTcpReachable, LOCAL_POSTGRES_URL, LOCAL_REDIS_URL } from "../../dev/services";
import { errorMessage } from "../../src/core/errors";
import { sha256Hex } from "../../src/core/hash";
import { REGISTRY_SNAPSHOT_KEY, REGISTRY_VERSION_KEY } from "../../src/core/keys";
import { log } from "../../src/core/log";
import type { RegistrySnapshot } from "../../src/core/registry";
import { migrateDatabase } from "../../tools/migrate";
import { DATA_DIR, PROJECT_ROOT, TSX_BIN } from "../../tools/paths";
import { databaseUrlFor, dropDatabase, PgConnectError, redactUrl, withPgClient } from "../../tools/postgres";
import { GcTrace, withGcTraceFlags } from "./gc-trace";
import { freePort } from "./ports";
import { RespClient } from "./resp";
import { reusePortWorkerd } from "./reuse-port";

/** A problem the user can fix (missing Postgres, wrong Node ...): printed as a message, not a stack. */
export class BenchSetupError extends Error {}

/** How long the services child may take to start the relay and gateway. */
const SERVICES_START_TIMEOUT_MS = 20_000;
/** Keys deleted per SCAN/UNLINK round when removing the run's Redis prefix. */
const REDIS_DELETE_BATCH = 5_000;
/** Each cleanup step gets this long; then the next one runs anyway. */
const CLEANUP_STEP_TIMEOUT_MS = 10_000;
/** tmpfs is used for Miniflare's KV/DO state when it has at least this much room. */
const TMPFS_MIN_FREE_BYTES = 4 * 1024 ** 3;

export interface BenchStack {
  serverUrl: string;
  databaseUrl: string;
  databaseName: string;
  postgresVersion: string;
  redisUrl: string | null;
  redisVersion: string | null;
  redisPrefix: string;
  apiKey: string;
  /** The Upstash REST endpoint the Workers use (the gateway), or null when Redis is off. */
  upstash: { url: string; token: string } | null;
  urls: { serving: string; ingest: string; bare: string; loader: string; memoryKv: string };
  mf: Miniflare;
  /**
   * workerd processes answering on `urls.serving` (StackOptions.servingProcesses): the stack's own
   * and the replicas', whose loader URLs are `replicaLoaders` (each process has its own KV and DOs).
   */
  servingProcesses: number;
  replicaLoaders: string[];
  stateDir: string;
  stateOnTmpfs: boolean;
  logPath: string;
  /** Worker log lines by level (warnings and errors hint at tier failures). */
  logCounts: Record<string, number>;
  /** workerd's --trace-gc lines (they also go to the log file, but are not counted in logCounts). */
  gcTrace: GcTrace;
  close(): Promise<void>;
}

export interface StackOptions {
  registry: RegistrySnapshot;
  logPath: string;
  step: (message: string) => void;
  /** Receives the stack's close function before anything starts, so an interrupt can clean up a half-started stack. */
  registerClose?: (close: () => Promise<void>) => void;
  /**
   * workerd processes serving on one port (default 1): more start replicas of the serving Worker
   * (with the ingest Worker it binds to, and a loader for their own KV) on the same port through SO_REUSEPORT (reuse-port.ts), the
   * kernel spreading connections over them, so a comparison can give ours the cores a
   * multi-process peer uses. Each has its own L0, KV and Durable Objects; Postgres and Redis are shared.
   */
  servingProcesses?: number;
}

function pickStateDir(): { dir: string; tmpfs: boolean } {
  const name = `echotune-bench-${process.pid}-${randomBytes(3).toString("hex")}`;
  try {
    if (existsSync("/dev/shm")) {
      const fs = statfsSync("/dev/shm");
      if (fs.bavail * fs.bsize >= TMPFS_MIN_FREE_BYTES) return { dir: path.join("/dev/shm", name), tmpfs: true };
    }
  } catch {
    // statfs unsupported: fall back to the temp directory below.
  }
  return { dir: path.join(os.tmpdir(), name), tmpfs: false };
}

async function resolveServer(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  if (await isTcpReachable("127.0.0.1", 5432)) return LOCAL_POSTGRES_URL;
  throw new BenchSetupError(
    "The bench needs a real Postgres: set DATABASE_URL (a server where it may CREATE DATABASE) or run one on 127.0.0.1:5432. " +
      "The embedded PGlite of `npm run dev` is one session and would measure its queue, not the feature store.",
  );
}

async function resolveRedisUrl(): Promise<string | null> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    const url = new URL(fromEnv);
    if (!(await isTcpReachable(url.hostname || "127.0.0.1", Number(url.port || 6379))))
      throw new BenchSetupError(
        `REDIS_URL ${redactUrl(fromEnv)} does not answer. Start that Redis, or unset REDIS_URL to use 127.0.0.1:6379 (or none).`,
      );
    return fromEnv;
  }
  return (await isTcpReachable("127.0.0.1", 6379)) ? LOCAL_REDIS_URL : null;
}

function startServicesChild(
  input: Record<string, unknown>,
): Promise<{ child: ChildProcess; relayPort: number; gatewayUrl: string | null }> {
  const child = spawn(process.execPath, [TSX_BIN, path.join(PROJECT_ROOT, "bench", "lib", "services-child.ts"), JSON.stringify(input)], {
    cwd: PROJECT_ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(
      () => reject(new BenchSetupError(`relay/gateway did not start within ${SERVICES_START_TIMEOUT_MS} ms: ${err}`)),
      SERVICES_START_TIMEOUT_MS,
    );
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      const info = JSON.parse(out.slice(0, nl)) as { relayPort: number; gatewayUrl: string | null };
      resolve({ child, ...info });
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new BenchSetupError(`relay/gateway process exited with ${code}: ${err.trim()}`));
    });
  });
}

export async function startStack(opts: StackOptions): Promise<BenchStack> {
  const cleanups: { what: string; fn: () => Promise<void> }[] = [];
  const closeAll = async () => {
    // Reverse order of start; a step that fails or hangs (workerd already gone after Ctrl-C) must not
    // keep the later ones (database, Redis prefix, state directory) from running.
    for (const { what, fn } of cleanups.splice(0).reverse()) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CLEANUP_STEP_TIMEOUT_MS} ms`)), CLEANUP_STEP_TIMEOUT_MS);
      });
      try {
        await Promise.race([fn(), timeout]);
        if (process.env.BENCH_DEBUG) console.log(`  cleanup: ${what} done`);
      } catch (e) {
        log("warn", "bench_cleanup_failed", { what, error: errorMessage(e) });
      } finally {
        clearTimeout(timer);
      }
    }
  };
  opts.registerClose?.(closeAll);
  try {
    const serverUrl = await resolveServer();
    const databaseName = `bench_${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}_${randomBytes(3).toString("hex")}`;
    let postgresVersion: string;
    try {
      postgresVersion = await withPgClient(serverUrl, async (admin) => {
        const version = (await admin.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]?.v ?? "?";
        try {
          await admin.query(`CREATE DATABASE ${databaseName}`);
        } catch (err) {
          throw new BenchSetupError(`Cannot create the bench database on ${redactUrl(serverUrl)}: ${errorMessage(err)}`);
        }
        return version;
      });
    } catch (err) {
      if (err instanceof PgConnectError) throw new BenchSetupError(`Cannot connect to Postgres at ${redactUrl(serverUrl)}: ${err.message}`);
      throw err;
    }
    cleanups.push({
      what: `drop database ${databaseName}`,
      fn: async () => {
        await dropDatabase(serverUrl, databaseName);
      },
    });
    const databaseUrl = databaseUrlFor(serverUrl, databaseName);
    await migrateDatabase(databaseUrl);
    opts.step(`Postgres ${postgresVersion}: database ${databaseName} on ${redactUrl(serverUrl)} (migrated; dropped at the end)`);

    const redisUrl = await resolveRedisUrl();
    const redisPrefix = `bench:${randomBytes(4).toString("hex")}:`;
    let redisVersion: string | null = null;
    if (redisUrl) {
      const r = await RespClient.connect(redisUrl);
      const info = String(await r.command("INFO", "server"));
      redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? "?";
      r.close();
      cleanups.push({ what: `delete Redis keys ${redisPrefix}*`, fn: () => deleteRedisPrefix(redisUrl, redisPrefix) });
      opts.step(`Redis ${redisVersion} at ${redactUrl(redisUrl)} (key prefix ${redisPrefix}, removed at the end)`);
    } else opts.step("Redis: none at 127.0.0.1:6379 and REDIS_URL unset: the L2 tier is off, redis-* scenarios are skipped");

    const token = randomBytes(16).toString("hex");
    const services = await startServicesChild({
      databaseUrl,
      redisUrl,
      redisToken: token,
      relayPort: await freePort(),
      gatewayPort: await freePort(),
    });
    cleanups.push({ what: "stop relay and gateway", fn: async () => void services.child.kill("SIGTERM") });

    const apiKey = `fs_bench_${randomBytes(12).toString("base64url")}`;
    const bindings: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      NEON_WS_PROXY: `127.0.0.1:${services.relayPort}`,
      API_KEYS: `${await sha256Hex(apiKey)}:serve+ingest+admin`,
      REDIS_KEY_PREFIX: redisPrefix,
      ...(services.gatewayUrl ? { UPSTASH_REDIS_REST_URL: services.gatewayUrl, UPSTASH_REDIS_REST_TOKEN: token } : {}),
    };
    const state = pickStateDir();
    mkdirSync(state.dir, { recursive: true });
    cleanups.push({ what: `remove ${state.dir}`, fn: async () => rmSync(state.dir, { recursive: true, force: true }) });
    mkdirSync(path.dirname(opts.logPath), { recursive: true });
    const log: WriteStream = createWriteStream(opts.logPath);
    cleanups.push({ what: "close the worker log", fn: () => new Promise<void>((resolve) => log.end(resolve)) });
    const logCounts: Record<string, number> = {};
    const gcTrace = new GcTrace();
    /** One workerd's console: GC trace lines to the trace, the rest counted by level; all to the log file. */
    const workerLog = (prefix: string) => (level: string, message: string) => {
      if (!gcTrace.add(message)) logCounts[level] = (logCounts[level] ?? 0) + 1;
      log.write(`${new Date().toISOString()} ${level} ${prefix}${message}\n`);
    };
    // Miniflare hands MINIFLARE_WORKERD_V8_FLAGS to workerd: --trace-gc only prints, it changes no GC behaviour.
    process.env.MINIFLARE_WORKERD_V8_FLAGS = withGcTraceFlags(process.env.MINIFLARE_WORKERD_V8_FLAGS);

    opts.step("bundling 5 Workers with wrangler deploy --dry-run (serving, ingest, bare Hono, loader, serving over in-memory KV)");
    const servingProcesses = Math.max(1, opts.servingProcesses ?? 1);
    // Every process on the shared port must set SO_REUSEPORT, the stack's own included.
    if (servingProcesses > 1) process.env.MINIFLARE_WORKERD_PATH = reusePortWorkerd(path.join(DATA_DIR, "bench-build"));
    const ports = {
      serving: await freePort(),
      ingest: await freePort(),
      bare: await freePort(),
      loader: await freePort(),
      memoryKv: await freePort(),
    };
    let workers: LocalWorkers;
    try {
      workers = await startLocalWorkers(
        [
          // BENCH_SERVING_VARS='{"KV_WRITE_BACK":"off"}': extra vars for the serving Worker, for diagnosis.
          { configPath: "wrangler.toml", port: ports.serving, bindings: { ...bindings, ...servingVars() } },
          { configPath: "wrangler.ingest.toml", port: ports.ingest, bindings },
          { configPath: "bench/wrangler.bare.toml", port: ports.bare, bindings: {} },
          { configPath: "bench/wrangler.loader.toml", port: ports.loader, bindings: {} },
          { configPath: "bench/wrangler.memkv.toml", port: ports.memoryKv, bindings: { API_KEYS: bindings.API_KEYS! } },
        ],
        {
          buildDir: path.join(DATA_DIR, "bench-build"),
          stateDir: state.dir,
          inspectorPort: process.env.BENCH_INSPECTOR_PORT ? Number(process.env.BENCH_INSPECTOR_PORT) : undefined,
          onLog: workerLog(""),
        },
      );
    } catch (err) {
      throw new BenchSetupError(`Could not start the Workers: ${errorMessage(err)}`);
    }
    cleanups.push({ what: "stop workerd", fn: () => workers.close() });
    opts.step(
      `workerd (Miniflare) up: serving ${workers.urls["feature-serving"]}, ingest ${workers.urls["feature-ingest"]}, bare ${workers.urls["bench-bare-hono"]}; state on ${state.tmpfs ? "tmpfs" : "disk"}`,
    );

    await publishRegistry(workers.mf, opts.registry);

    const replicaLoaders: string[] = [];
    for (let r = 1; r < servingProcesses; r++) {
      const loaderPort = await freePort();
      const replicaState = path.join(state.dir, `replica-${r}`);
      mkdirSync(replicaState, { recursive: true });
      let replica: LocalWorkers;
      try {
        replica = await startLocalWorkers(
          [
            { configPath: "wrangler.toml", port: ports.serving, bindings: { ...bindings, ...servingVars() } },
            // The serving Worker's INGEST service binding needs its Worker; nothing is pushed to a replica.
            { configPath: "wrangler.ingest.toml", port: await freePort(), bindings },
            { configPath: "bench/wrangler.loader.toml", port: loaderPort, bindings: {} },
          ],
          {
            buildDir: path.join(DATA_DIR, `bench-build-replica-${r}`),
            stateDir: replicaState,
            onLog: workerLog(`[replica ${r}] `),
          },
        );
      } catch (err) {
        throw new BenchSetupError(`Could not start serving replica ${r}: ${errorMessage(err)}`);
      }
      cleanups.push({ what: `stop serving replica ${r}`, fn: () => replica.close() });
      await publishRegistry(replica.mf, opts.registry);
      replicaLoaders.push(replica.urls["bench-loader"]!);
    }
    if (servingProcesses > 1) opts.step(`${servingProcesses} workerd processes serve ${workers.urls["feature-serving"]} (SO_REUSEPORT)`);

    return {
      serverUrl,
      databaseUrl,
      databaseName,
      postgresVersion,
      redisUrl,
      redisVersion,
      redisPrefix,
      apiKey,
      upstash: services.gatewayUrl ? { url: services.gatewayUrl, token } : null,
      urls: {
        serving: workers.urls["feature-serving"]!,
        ingest: workers.urls["feature-ingest"]!,
        bare: workers.urls["bench-bare-hono"]!,
        loader: workers.urls["bench-loader"]!,
        memoryKv: workers.urls["bench-memory-kv"]!,
      },
      mf: workers.mf,
      servingProcesses,
      replicaLoaders,
      stateDir: state.dir,
      stateOnTmpfs: state.tmpfs,
      logPath: opts.logPath,
      logCounts,
      gcTrace,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** SCAN + UNLINK of every key under the run's prefix. */
/** The bench registry, where the serving Worker of one Miniflare reads it. */
async function publishRegistry(mf: Miniflare, registry: RegistrySnapshot): Promise<void> {
  const registryKv = await mf.getKVNamespace("REGISTRY_KV", "feature-serving");
  await registryKv.put(REGISTRY_SNAPSHOT_KEY, JSON.stringify(registry));
  await registryKv.put(REGISTRY_VERSION_KEY, registry.version);
}

export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const r = await RespClient.connect(redisUrl);
  try {
    let cursor = "0";
    do {
      const reply = (await r.command("SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", String(REDIS_DELETE_BATCH))) as [Buffer, Buffer[]];
      cursor = reply[0].toString();
      const keys = reply[1].map((k) => k.toString());
      if (keys.length) await r.command("UNLINK", ...keys);
    } while (cursor !== "0");
  } finally {
    r.close();
  }
}

/** Extra serving-Worker vars from BENCH_SERVING_VARS (a JSON object of strings); a diagnosis knob, reported in the results. */
export function servingVars(): Record<string, string> {
  const raw = process.env.BENCH_SERVING_VARS;
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new BenchSetupError(`BENCH_SERVING_VARS is not JSON: ${raw}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === "string"))
    throw new BenchSetupError(`BENCH_SERVING_VARS must be a JSON object of strings, e.g. {"KV_WRITE_BACK":"off"}`);
  return parsed as Record<string, string>;
}
