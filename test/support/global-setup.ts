// Global setup for the workerd test projects: a fresh Postgres database, the relay, Redis via the gateway.
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { resolvePostgres, resolveRedis, startRelay } from "../../dev/services";
import { sha256Hex } from "../../src/core/hash";
import { migrateDatabase } from "../../tools/migrate";
import { DATA_DIR } from "../../tools/paths";
import { createDatabase, dropDatabase } from "../../tools/postgres";
import { catalogSnapshot } from "./catalog-snapshot";
import { startFaultControl } from "./fault-control";

/** Keys the workerd tests use: one per scope and one with all of them (only hashes reach the Worker). */
export const TEST_KEYS = { all: "test-key-all-scopes", serve: "test-key-serve", ingest: "test-key-ingest" } as const;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await resolvePostgres({ allowLocal: true, dataDir: path.join(DATA_DIR, "pglite-test") });
  let databaseUrl = server.url;
  let dropScratch: (() => Promise<void>) | undefined;
  if (server.source !== "embedded") {
    // A database of our own per run: tests never see leftovers and never touch real data.
    const name = `fs_test_${process.pid}_${randomBytes(3).toString("hex")}`;
    databaseUrl = await createDatabase(server.url, name);
    dropScratch = () => dropDatabase(server.url, name);
  }
  await migrateDatabase(databaseUrl);

  const relay = await startRelay(databaseUrl);
  const redis = await resolveRedis({});
  if (!redis.restUrl) {
    const reason = "no Redis reachable at 127.0.0.1:6379 and REDIS_URL unset: Redis-tier tests will be SKIPPED";
    if (process.env.CI === "true") throw new Error(`CI=true but ${reason}`);
    console.warn(`\n\n!!! ${reason} !!!\n\n`);
  }
  const redisKeyPrefix = `test:${randomBytes(4).toString("hex")}:`;
  const faults = await startFaultControl({ redisUrl: redis.redisUrl, token: randomBytes(8).toString("hex") });

  project.provide("databaseUrl", databaseUrl);
  project.provide("neonWsProxy", `127.0.0.1:${relay.port}`);
  project.provide("redisRestUrl", redis.restUrl ?? "");
  project.provide("redisRestToken", redis.restToken ?? "");
  project.provide("redisKeyPrefix", redisKeyPrefix);
  project.provide("redisAvailable", Boolean(redis.restUrl));
  // The real catalog as a snapshot, so workerd tests serve exactly what features/ defines.
  const snapshot = catalogSnapshot("r-test");
  project.provide("registrySnapshot", JSON.stringify(snapshot));
  project.provide("faultControlUrl", faults.controlUrl);
  project.provide("faultRedisRestUrl", faults.redisRestUrl);
  project.provide("faultRedisToken", faults.redisToken);
  project.provide("faultRelay", faults.relay);
  project.provide("testApiKey", TEST_KEYS.all);
  project.provide(
    "testApiKeys",
    `${await sha256Hex(TEST_KEYS.all)}:serve+ingest+admin,${await sha256Hex(TEST_KEYS.serve)}:serve,${await sha256Hex(TEST_KEYS.ingest)}:ingest`,
  );

  return async () => {
    if (redis.restUrl && redis.restToken) await deleteKeysWithPrefix(redis.restUrl, redis.restToken, redisKeyPrefix);
    await faults.close();
    await redis.close();
    await relay.close();
    if (dropScratch) await dropScratch();
    await server.close();
  };
}

async function deleteKeysWithPrefix(url: string, token: string, prefix: string): Promise<void> {
  const call = async (cmd: (string | number)[]) => {
    const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(cmd) });
    return ((await res.json()) as { result: unknown }).result;
  };
  let cursor = "0";
  do {
    const [next, keys] = (await call(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", 1000])) as [string, string[]];
    if (keys.length) await call(["DEL", ...keys]);
    cursor = next;
  } while (cursor !== "0");
}
