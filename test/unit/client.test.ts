// The TypeScript client against a local HTTP server that misbehaves on purpose: retries with
// Retry-After, no retry of a 400, per-attempt timeouts, the caller's AbortSignal, and hedged reads.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeatureStoreClient, FeatureStoreClientError, retryDelayMs } from "../../packages/client/src/index";
import { encodeWriteToken } from "../../src/core/write-token";

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
let handler: Handler = (_req, res) => res.end();
let calls = 0;
let server: Server;
let url = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    calls++;
    handler(req, res, calls);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const vector = { entity_id: "user_1", features: { skip_rate_7d: 0.4 }, timestamp: 1, feature_store_version: "r-1" };
const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
const client = (extra: Partial<ConstructorParameters<typeof FeatureStoreClient>[0]> = {}) =>
  new FeatureStoreClient({ url, apiKey: "k", retry: { baseDelayMs: 1 }, ...extra });
const reset = (h: Handler) => {
  calls = 0;
  handler = h;
};

describe("FeatureStoreClient", () => {
  it("sends the Bearer key and JSON, and returns the typed answer", async () => {
    let seen: { auth?: string; type?: string; body?: string } = {};
    reset((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c;
      });
      req.on("end", () => {
        seen = { auth: req.headers.authorization, type: req.headers["content-type"], body };
        send(res, 200, vector);
      });
    });
    const got = await client().get({ entity_id: "user_1", feature_names: ["skip_rate_7d"] });
    expect(got.features.skip_rate_7d).toBe(0.4);
    expect(seen).toEqual({ auth: "Bearer k", type: "application/json", body: '{"entity_id":"user_1","feature_names":["skip_rate_7d"]}' });
  });

  it("retries 503 and 429, honouring Retry-After, then succeeds", async () => {
    reset((_req, res, n) => {
      if (n === 1) send(res, 503, { error: { code: "unavailable", message: "no tier" } }, { "retry-after": "0" });
      else if (n === 2) send(res, 429, { error: { code: "rate_limited", message: "slow down" } }, { "retry-after": "0" });
      else send(res, 200, vector);
    });
    await expect(client().get({ entity_id: "user_1", feature_names: ["skip_rate_7d"] })).resolves.toMatchObject({ entity_id: "user_1" });
    expect(calls).toBe(3);
  });

  it("does not retry a 400, and rejects with the server's code, message and details", async () => {
    reset((_req, res) => send(res, 400, { error: { code: "bad_request", message: "Invalid feature request", details: { issues: [] } } }));
    const err = await client()
      .get({ entity_id: "", feature_names: [] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FeatureStoreClientError);
    expect(err).toMatchObject({ status: 400, code: "bad_request", message: "Invalid feature request", details: { issues: [] } });
    expect(calls).toBe(1);
  });

  it("gives up after the retries, with the last error", async () => {
    reset((_req, res) => send(res, 503, { error: { code: "unavailable", message: "down" } }));
    await expect(client({ retry: { retries: 2, baseDelayMs: 1 } }).get({ entity_id: "u", feature_names: ["f"] })).rejects.toMatchObject({
      status: 503,
      code: "unavailable",
    });
    expect(calls).toBe(3);
  });

  it("times out an attempt that does not answer, and retries it", async () => {
    reset((_req, res, n) => {
      if (n === 1) return; // never answers
      send(res, 200, vector);
    });
    await expect(client({ timeoutMs: 100 }).get({ entity_id: "u", feature_names: ["f"] })).resolves.toMatchObject({ entity_id: "user_1" });
    expect(calls).toBe(2);
    reset(() => undefined);
    await expect(client({ timeoutMs: 50, retry: { retries: 0 } }).get({ entity_id: "u", feature_names: ["f"] })).rejects.toMatchObject({
      status: 0,
      code: "timeout",
    });
  });

  it("stops at once when the caller aborts", async () => {
    reset(() => undefined);
    const controller = new AbortController();
    const pending = client({ timeoutMs: 5_000 }).get({ entity_id: "u", feature_names: ["f"] }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("caller gave up")), 30);
    await expect(pending).rejects.toThrow("caller gave up");
    expect(calls).toBe(1);
  });

  it("hedges a slow read with a second attempt and takes the first answer", async () => {
    reset((_req, res, n) => {
      if (n === 1) setTimeout(() => send(res, 200, { ...vector, entity_id: "slow" }), 1_000);
      else send(res, 200, { ...vector, entity_id: "hedge" });
    });
    const started = Date.now();
    const got = await client({ hedgeAfterMs: 50 }).get({ entity_id: "u", feature_names: ["f"] });
    expect(got.entity_id).toBe("hedge");
    expect(calls).toBe(2);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("never hedges a push", async () => {
    reset((_req, res) => setTimeout(() => send(res, 202, { accepted: 1, message_ids: ["m"], batches: 1 }), 150));
    await client({ hedgeAfterMs: 10 }).push({
      entity_type: "user",
      entity_id: "u",
      event_timestamp: 1_800_000_000_000,
      features: { f: 1 },
    });
    expect(calls).toBe(1);
  });
});

describe("retryDelayMs", () => {
  it("takes Retry-After in seconds or as an HTTP date, capped", () => {
    expect(retryDelayMs(1, "2")).toBe(2_000);
    expect(retryDelayMs(1, new Date(10_000).toUTCString(), {}, Math.random, 7_000)).toBe(3_000);
    expect(retryDelayMs(1, "3600", { maxDelayMs: 5_000 })).toBe(5_000);
  });

  it("is full jitter below base × 2^(attempt-1) without Retry-After", () => {
    expect(retryDelayMs(1, null, { baseDelayMs: 100 }, () => 0.999)).toBe(99);
    expect(retryDelayMs(4, null, { baseDelayMs: 100 }, () => 0.999)).toBe(799);
    expect(retryDelayMs(4, null, { baseDelayMs: 100 }, () => 0)).toBe(0);
    expect(retryDelayMs(20, null, { baseDelayMs: 100, maxDelayMs: 1_000 }, () => 0.5)).toBe(500);
  });
});

describe("read-your-writes in the client", () => {
  const bodies: Record<string, unknown>[] = [];
  const token = encodeWriteToken([{ entityType: "user", entityId: "user_7", features: { skip_rate_7d: 1_700_000_000_000 } }])!;
  const serveAndRecord = () =>
    reset((req, res) => {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        const body = JSON.parse(raw) as Record<string, unknown>;
        bodies.push(body);
        if (req.url === "/ingest/push") send(res, 202, { accepted: 1, message_ids: ["m"], batches: 1, write_token: token });
        else send(res, 200, vector);
      });
    });

  it("sends the token of its own push with reads of that entity only", async () => {
    serveAndRecord();
    bodies.length = 0;
    const c = client({ readYourWrites: true });
    await c.push({ entity_type: "user", entity_id: "user_7", event_timestamp: 1_700_000_000_000, features: { skip_rate_7d: 0.1 } });
    await c.get({ entity_id: "user_7", feature_names: ["skip_rate_7d"] });
    await c.get({ entity_id: "user_8", feature_names: ["skip_rate_7d"] });
    await c.getBatch([{ entity_id: "user_8", entities: { user: "user_7" }, feature_names: ["skip_rate_7d"] }]);
    expect(bodies[1]!.min_write_token).toBe(token);
    expect(bodies[2]).not.toHaveProperty("min_write_token");
    expect((bodies[3]!.requests as Record<string, unknown>[])[0]).toHaveProperty("min_write_token");
  });

  it("sends nothing extra without readYourWrites", async () => {
    serveAndRecord();
    bodies.length = 0;
    const c = client();
    await c.push({ entity_type: "user", entity_id: "user_7", event_timestamp: 1_700_000_000_000, features: { skip_rate_7d: 0.1 } });
    await c.get({ entity_id: "user_7", feature_names: ["skip_rate_7d"] });
    expect(bodies[1]).not.toHaveProperty("min_write_token");
  });
});
