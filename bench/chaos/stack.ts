// The chaos run's own stack: a fresh database on the shared Postgres behind our proxy, our own redis-server behind another, relay, gateway and both Workers on free ports.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type LocalWorkers, startLocalWorkers } from "../../dev/local-workers";
import { isTcpReachable, LOCAL_POSTGRES_URL, startRelay } from "../../dev/services";
import { startUpstashGateway } from "../../dev/upstash-gateway";
import { errorMessage } from "../../src/core/errors";
import { sha256Hex } from "../../src/core/hash";
import { REGISTRY_SNAPSHOT_KEY, REGISTRY_VERSION_KEY } from "../../src/core/keys";
import { log } from "../../src/core/log";
import type { RegistrySnapshot } from "../../src/core/registry";
import { migrateDatabase } from "../../tools/migrate";
import { DATA_DIR } from "../../tools/paths";
import { createDatabase, databaseUrlFor, dropDatabase } from "../../tools/postgres";
import { freePort } from "../lib/ports";
import { type RedisProcess, startRedisProcess } from "./redis-process";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy";

export interface ChaosStack {
  apiKey: string;
  servingUrl: string;
  ingestUrl: string;
  /** Direct (not proxied) URL of the run's database, for the accounting queries. */
  databaseUrl: string;
  redis: RedisProcess;
  redisPrefix: string;
  postgresProxy: TcpProxy;
  redisProxy: TcpProxy;
  workers: LocalWorkers;
  /** Worker log lines by level. */
  logCounts: Record<string, number>;
  close(): Promise<void>;
}

export async function startChaosStack(registry: RegistrySnapshot, step: (m: string) => void): Promise<ChaosStack> {
  const serverUrl = process.env.DATABASE_URL ?? LOCAL_POSTGRES_URL;
  const server = new URL(serverUrl);
  if (!(await isTcpReachable(server.hostname, Number(server.port || 5432))))
    throw new Error(`npm run chaos needs a real Postgres (DATABASE_URL, or 127.0.0.1:5432): ${server.host} does not answer`);
  const cleanups: { what: string; fn: () => Promise<unknown> }[] = [];
  const close = async () => {
    for (const { what, fn } of cleanups.splice(0).reverse())
      await fn().catch((e: unknown) => log("warn", "chaos_cleanup_failed", { what, error: errorMessage(e) }));
  };
  try {
    const name = `chaos_${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}_${randomBytes(3).toString("hex")}`;
    const databaseUrl = await createDatabase(serverUrl, name);
    cleanups.push({ what: `drop ${name}`, fn: () => dropDatabase(serverUrl, name) });
    await migrateDatabase(databaseUrl);
    const postgresProxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    cleanups.push({ what: "postgres proxy", fn: () => postgresProxy.close() });
    // The Workers reach the database only through our proxy, so it can be stopped and slowed.
    const proxied = new URL(databaseUrlFor(serverUrl, name));
    proxied.hostname = "127.0.0.1";
    proxied.port = String(postgresProxy.port);
    step(`Postgres: database ${name} on ${server.host}, reached by the Workers through proxy :${postgresProxy.port}`);

    const dir = mkdtempSync(path.join(os.tmpdir(), "echotune-chaos-redis-"));
    cleanups.push({ what: "redis dir", fn: async () => rmSync(dir, { recursive: true, force: true }) });
    const redis = await startRedisProcess(await freePort(), dir);
    cleanups.push({ what: "redis-server", fn: () => redis.stop() });
    const redisProxy = await startTcpProxy({ host: "127.0.0.1", port: redis.port });
    cleanups.push({ what: "redis proxy", fn: () => redisProxy.close() });
    step(`Redis: our own redis-server on :${redis.port} (AOF in ${dir}), reached through proxy :${redisProxy.port}`);

    const relay = await startRelay(proxied.toString());
    cleanups.push({ what: "relay", fn: () => relay.close() });
    const token = randomBytes(16).toString("hex");
    const gateway = await startUpstashGateway({ redisUrl: `redis://127.0.0.1:${redisProxy.port}`, token, port: 0 });
    cleanups.push({ what: "gateway", fn: () => gateway.close() });

    const apiKey = `fs_chaos_${randomBytes(12).toString("base64url")}`;
    const redisPrefix = "chaos:";
    const bindings = {
      DATABASE_URL: proxied.toString(),
      NEON_WS_PROXY: `127.0.0.1:${relay.port}`,
      API_KEYS: `${await sha256Hex(apiKey)}:serve+ingest+admin`,
      REDIS_KEY_PREFIX: redisPrefix,
      UPSTASH_REDIS_REST_URL: gateway.url,
      UPSTASH_REDIS_REST_TOKEN: token,
    };
    const logCounts: Record<string, number> = {};
    const ports = { serving: await freePort(), ingest: await freePort() };
    step("bundling both Workers (wrangler deploy --dry-run) and starting workerd on free ports");
    const workers = await startLocalWorkers(
      [
        { configPath: "wrangler.toml", port: ports.serving, bindings },
        { configPath: "wrangler.ingest.toml", port: ports.ingest, bindings },
      ],
      {
        buildDir: path.join(DATA_DIR, "chaos-build"),
        onLog: (level) => {
          logCounts[level] = (logCounts[level] ?? 0) + 1;
        },
      },
    );
    cleanups.push({ what: "workerd", fn: () => workers.close() });
    const registryKv = await workers.mf.getKVNamespace("REGISTRY_KV", "feature-serving");
    await registryKv.put(REGISTRY_SNAPSHOT_KEY, JSON.stringify(registry));
    await registryKv.put(REGISTRY_VERSION_KEY, registry.version);
    step(`workerd up: serving ${workers.urls["feature-serving"]}, ingest ${workers.urls["feature-ingest"]}`);
    return {
      apiKey,
      servingUrl: workers.urls["feature-serving"]!,
      ingestUrl: workers.urls["feature-ingest"]!,
      databaseUrl,
      redis,
      redisPrefix,
      postgresProxy,
      redisProxy,
      workers,
      logCounts,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
