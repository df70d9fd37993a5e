// The Redis tier's two timeouts, against the real gateway and Redis behind a proxy that adds latency:
// a read slower than REDIS_READ_TIMEOUT_MS is abandoned, a write of the same latency completes.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashGateway, type UpstashGateway } from "../../dev/upstash-gateway";
import {
  REDIS_READ_TIMEOUT_MS,
  REDIS_WRITE_TIMEOUT_MAX_MS,
  REDIS_WRITE_TIMEOUT_MS,
  RedisFeatureStore,
  redisWriteTimeoutMs,
} from "../../src/stores/redis-store";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const TOKEN = "timeouts-test-token";
/** Between the two timeouts: too slow for a read, fine for a write. */
const ADDED_LATENCY_MS = REDIS_READ_TIMEOUT_MS + 250;

let gateway: UpstashGateway | undefined;
let proxy: Server | undefined;
let slowUrl = "";
let redisUp = true;

beforeAll(async () => {
  try {
    gateway = await startUpstashGateway({ redisUrl: REDIS_URL, token: TOKEN, port: 0 });
    await new RedisFeatureStore({ url: `http://127.0.0.1:${gateway.port}`, token: TOKEN, keyPrefix: "" }).ping();
  } catch (err) {
    if (process.env.CI === "true") throw err;
    console.warn(`redis-store timeouts: skipped, no Redis at ${REDIS_URL}`);
    redisUp = false;
    return;
  }
  const target = `http://127.0.0.1:${gateway.port}`;
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      setTimeout(async () => {
        try {
          const upstream = await fetch(`${target}${req.url}`, {
            method: req.method,
            headers: { authorization: req.headers.authorization ?? "", "content-type": "application/json" },
            body: req.method === "GET" ? undefined : Buffer.concat(chunks),
          });
          res.writeHead(upstream.status, { "content-type": "application/json" }).end(Buffer.from(await upstream.arrayBuffer()));
        } catch {
          // The client aborted (the read timeout): nothing to answer.
          res.destroy();
        }
      }, ADDED_LATENCY_MS);
    });
  });
  await new Promise<void>((resolve) => proxy!.listen(0, "127.0.0.1", resolve));
  slowUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  await gateway?.close();
});

describe("RedisFeatureStore timeouts", () => {
  it("has a write timeout of its own, longer than the read abort", () => {
    expect(REDIS_WRITE_TIMEOUT_MS).toBeGreaterThan(ADDED_LATENCY_MS);
  });

  it("fits the write timeout to the pipeline: longer for a batch of 100 × 50 fields, capped", () => {
    expect(redisWriteTimeoutMs(1)).toBeGreaterThanOrEqual(REDIS_WRITE_TIMEOUT_MS);
    expect(redisWriteTimeoutMs(5_000)).toBeGreaterThan(redisWriteTimeoutMs(50));
    expect(redisWriteTimeoutMs(5_000)).toBeGreaterThanOrEqual(2 * REDIS_WRITE_TIMEOUT_MS);
    expect(redisWriteTimeoutMs(1_000_000)).toBe(REDIS_WRITE_TIMEOUT_MAX_MS);
  });

  it("abandons a slow read but completes a write of the same latency", async () => {
    if (!redisUp) return;
    const prefix = `fs_test_timeouts_${Date.now()}:`;
    const slow = new RedisFeatureStore({ url: slowUrl, token: TOKEN, keyPrefix: prefix });
    const direct = new RedisFeatureStore({ url: `http://127.0.0.1:${gateway!.port}`, token: TOKEN, keyPrefix: prefix });
    const ref = { entityType: "user", entityId: "u1" };
    const value = { value: 0.5, eventTimestamp: 1_000 };

    const started = Date.now();
    await expect(slow.read([ref], [["f"]])).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(ADDED_LATENCY_MS);

    expect(await slow.writeIfNewer([{ ref, values: { f: value } }])).toEqual([["f"]]);
    expect(await direct.read([ref], [["f"]])).toEqual([{ f: value }]);
    await fetch(gateway!.url, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(["DEL", direct.key(ref)]),
    });
  });
});
