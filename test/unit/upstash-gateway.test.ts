// Tests for dev/upstash-gateway.ts: the Upstash REST protocol against a real Redis, via raw HTTP and the real @upstash/redis client.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";
import { type AddressInfo, createServer as createNetServer, connect as netConnect, type Server, type Socket } from "node:net";
import path from "node:path";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  encodeCommands,
  RespError,
  RespParser,
  RespStatus,
  type RespValue,
  startUpstashGateway,
  type UpstashGateway,
} from "../../dev/upstash-gateway";
import { PROJECT_ROOT, TSX_BIN } from "../../tools/paths";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const REDIS_PROBE_TIMEOUT_MS = 1_000;
/** The gateway's connect timeout is ~1 s; a refused connection must be answered well within this. */
const UNAVAILABLE_ANSWER_BUDGET_MS = 1_500;
const CLI_START_TIMEOUT_MS = 15_000;
/** Gateway request body limit (10 MB). */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const LARGE_VALUE_BYTES = 4 * 1024 * 1024;
const LARGE_LIST_LENGTH = 20_000;
const HMGET_FIELDS = 50;
const CONCURRENT_REQUESTS = 200;
/** A port nothing listens on: connecting is refused immediately. */
const CLOSED_REDIS_URL = "redis://127.0.0.1:1";

const GATEWAY_SCRIPT = path.join(PROJECT_ROOT, "dev", "upstash-gateway.ts");

const PREFIX = `test:gw:${randomBytes(6).toString("hex")}:`;
const TOKEN = randomBytes(16).toString("hex");

/** Values that must round-trip byte-exactly (and that no deserializer would turn into numbers/objects). */
const TRICKY_VALUES: Record<string, string> = {
  emoji: "emoji 😀🎉👩‍👩‍👧",
  cjk: "中文字符 日本語 한국어",
  nul: "before\0after",
  crlf: "line one\r\nline two\r\n",
  respLookalike: "+OK\r\n$3\r\nfoo\r\n*-1\r\n",
  mixed: "\0\r\n😀中\u00ff\t",
};

async function probeRedis(redisUrl: string): Promise<boolean> {
  const url = new URL(redisUrl);
  return new Promise<boolean>((resolve) => {
    const socket: Socket = netConnect({ host: url.hostname, port: Number(url.port || 6379) });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), REDIS_PROBE_TIMEOUT_MS);
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("*1\r\n$4\r\nPING\r\n"));
    socket.once("data", (chunk: Buffer) => done(chunk.toString("latin1").startsWith("+PONG")));
  });
}

const redisAvailable = await probeRedis(REDIS_URL);
const isCI = process.env.CI === "true";
if (!redisAvailable) {
  const reason = `no Redis answering PING at ${REDIS_URL}`;
  if (isCI) {
    console.error(`[upstash-gateway.test] ${reason}; CI=true so the Redis-backed tests will FAIL.`);
  } else {
    console.warn(
      `\n!!! [upstash-gateway.test] SKIPPING Redis-backed gateway tests: ${reason}.\n` +
        `!!! Start one with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no\n`,
    );
  }
}
/** With CI=true the suite runs even without Redis, so it fails loudly instead of skipping. */
const runRedisSuite = redisAvailable || isCI;

interface JsonResponse {
  status: number;
  body: unknown;
}

interface CallOptions {
  method?: string;
  body?: string | Buffer;
  token?: string | null;
  headers?: Record<string, string>;
}

async function call(baseUrl: string, path: string, opts: CallOptions = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${baseUrl}${path}`, {
    method: opts.method ?? (opts.body === undefined ? "GET" : "POST"),
    headers,
    body: typeof opts.body === "string" || opts.body === undefined ? opts.body : Uint8Array.from(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? null : (JSON.parse(text) as unknown) };
}

function command(baseUrl: string, cmd: unknown[], headers?: Record<string, string>): Promise<JsonResponse> {
  return call(baseUrl, "/", { body: JSON.stringify(cmd), headers });
}

const BASE64 = { "Upstash-Encoding": "base64" };
const b64 = (s: string | Buffer): string => (typeof s === "string" ? Buffer.from(s, "utf8") : s).toString("base64");

async function deleteKeysWithPrefix(baseUrl: string, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const res = await command(baseUrl, ["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", 1000]);
    const [next, keys] = (res.body as { result: [string, string[]] }).result;
    if (keys.length > 0) await command(baseUrl, ["DEL", ...keys]);
    cursor = next;
  } while (cursor !== "0");
}

describe("RESP2 encoder and incremental parser", () => {
  const wire = Buffer.concat([
    Buffer.from("+OK\r\n-ERR boom\r\n:42\r\n:-7\r\n:9007199254740993\r\n$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n", "latin1"),
    Buffer.from("$12\r\na\0b\r\nc\xff\r\n\r\nZ\r\n", "latin1"),
    Buffer.from("*3\r\n*2\r\n$1\r\nx\r\n:1\r\n*0\r\n*1\r\n$-1\r\n", "latin1"),
    Buffer.from(`$${Buffer.byteLength("😀中", "utf8")}\r\n😀中\r\n`, "utf8"),
  ]);

  function parseAll(chunks: Buffer[]): RespValue[] {
    const out: RespValue[] = [];
    const parser = new RespParser((v) => out.push(v));
    for (const chunk of chunks) parser.feed(chunk);
    return out;
  }

  const expected: RespValue[] = [
    new RespStatus("OK"),
    new RespError("ERR boom"),
    42,
    -7,
    9007199254740993n,
    null,
    null,
    [],
    Buffer.alloc(0),
    Buffer.from("a\0b\r\nc\xff\r\n\r\nZ", "latin1"),
    [[Buffer.from("x"), 1], [], [null]],
    Buffer.from("😀中", "utf8"),
  ];

  it("parses a stream in one chunk", () => {
    expect(parseAll([wire])).toEqual(expected);
  });

  it("parses the same stream fed byte by byte and in random splits", () => {
    expect(parseAll([...wire].map((b) => Buffer.from([b])))).toEqual(expected);
    for (let round = 0; round < 50; round++) {
      const chunks: Buffer[] = [];
      for (let off = 0; off < wire.length; ) {
        const size = 1 + Math.floor(Math.random() * 9);
        chunks.push(wire.subarray(off, off + size));
        off += size;
      }
      expect(parseAll(chunks)).toEqual(expected);
    }
  });

  it("encodes commands with byte lengths (not string lengths)", () => {
    expect(
      encodeCommands([
        ["SET", "k", "😀"],
        ["GET", Buffer.from([0, 0xff])],
      ]).toString("latin1"),
    ).toBe(
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\n" +
        Buffer.from("😀", "utf8").toString("latin1") +
        "\r\n" +
        "*2\r\n$3\r\nGET\r\n$2\r\n\0\xff\r\n",
    );
  });
});

describe.skipIf(!runRedisSuite)("upstash gateway: raw REST protocol", () => {
  let gw: UpstashGateway;
  const k = (name: string): string => `${PREFIX}raw:${name}`;

  beforeAll(async () => {
    expect(redisAvailable, `Redis must answer PING at ${REDIS_URL}`).toBe(true);
    gw = await startUpstashGateway({ token: TOKEN, redisUrl: REDIS_URL });
  });

  afterAll(async () => {
    if (!gw) return;
    await deleteKeysWithPrefix(gw.url, `${PREFIX}raw:`);
    await gw.close();
  });

  it("serves GET /health without auth", async () => {
    expect(await call(gw.url, "/health", { token: null })).toEqual({ status: 200, body: { ok: true } });
  });

  it("rejects missing or wrong tokens with 401 {error:Unauthorized}", async () => {
    expect(await call(gw.url, "/get/x", { token: null })).toEqual({ status: 401, body: { error: "Unauthorized" } });
    expect(await call(gw.url, "/get/x", { token: "wrong" })).toEqual({ status: 401, body: { error: "Unauthorized" } });
    expect(await call(gw.url, "/pipeline", { token: "wrong", body: "[]" })).toEqual({
      status: 401,
      body: { error: "Unauthorized" },
    });
  });

  it("accepts the token as a _token query parameter", async () => {
    const res = await call(gw.url, `/echo/hi?_token=${TOKEN}`, { token: null });
    expect(res).toEqual({ status: 200, body: { result: "hi" } });
  });

  it("answers 405 for unsupported methods", async () => {
    expect((await call(gw.url, "/get/x", { method: "DELETE" })).status).toBe(405);
  });

  it("runs a JSON command array posted to /", async () => {
    expect(await command(gw.url, ["SET", k("s"), "v1"])).toEqual({ status: 200, body: { result: "OK" } });
    expect(await command(gw.url, ["GET", k("s")])).toEqual({ status: 200, body: { result: "v1" } });
    // numbers and booleans are sent as their string form, like Upstash
    expect(await command(gw.url, ["SET", k("n"), 42, "EX", 100])).toEqual({ status: 200, body: { result: "OK" } });
    expect(await command(gw.url, ["INCRBY", k("n"), 8])).toEqual({ status: 200, body: { result: 50 } });
    expect(await command(gw.url, ["GET", k("missing")])).toEqual({ status: 200, body: { result: null } });
  });

  it("answers Redis errors with 400 {error} carrying Redis's message", async () => {
    await command(gw.url, ["SET", k("str"), "x"]);
    expect(await command(gw.url, ["HGET", k("str"), "f"])).toEqual({
      status: 400,
      body: { error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
    });
    const unknown = await command(gw.url, ["NOSUCHCOMMAND"]);
    expect(unknown.status).toBe(400);
    expect((unknown.body as { error: string }).error).toMatch(/^ERR unknown command/);
  });

  it("rejects malformed bodies with 400", async () => {
    expect((await call(gw.url, "/", { body: "not json" })).status).toBe(400);
    expect((await call(gw.url, "/", { body: '{"cmd":"GET"}' })).status).toBe(400);
    expect((await call(gw.url, "/", { body: "[]" })).status).toBe(400);
    expect((await call(gw.url, "/", { body: '["GET",{"a":1}]' })).status).toBe(400);
    expect((await call(gw.url, "/pipeline", { body: '["GET","x"]' })).status).toBe(400);
  });

  it("refuses connection-state commands that would poison the pool", async () => {
    for (const cmd of [["MULTI"], ["EXEC"], ["WATCH", k("s")], ["SELECT", "1"], ["SUBSCRIBE", "c"], ["CLIENT", "REPLY", "OFF"]]) {
      const res = await command(gw.url, cmd);
      expect(res.status, cmd.join(" ")).toBe(400);
    }
    expect(await command(gw.url, ["PING"])).toEqual({ status: 200, body: { result: "PONG" } });
  });

  it("supports path-style commands, POST body as last argument and query-string arguments", async () => {
    expect(await call(gw.url, `/set/${encodeURIComponent(k("p"))}/hello%20world`)).toEqual({
      status: 200,
      body: { result: "OK" },
    });
    expect(await call(gw.url, `/get/${encodeURIComponent(k("p"))}`)).toEqual({ status: 200, body: { result: "hello world" } });
    const json = JSON.stringify({ a: [1, 2], s: "😀" });
    expect(await call(gw.url, `/set/${encodeURIComponent(k("pb"))}?EX=100`, { body: json })).toEqual({
      status: 200,
      body: { result: "OK" },
    });
    expect(await call(gw.url, `/get/${encodeURIComponent(k("pb"))}`)).toEqual({ status: 200, body: { result: json } });
    const ttl = (await call(gw.url, `/ttl/${encodeURIComponent(k("pb"))}`)).body as { result: number };
    expect(ttl.result).toBeGreaterThan(0);
    expect(ttl.result).toBeLessThanOrEqual(100);
  });

  it("percent-decodes path segments to raw bytes (binary safe)", async () => {
    expect((await call(gw.url, `/set/${encodeURIComponent(k("bin"))}/%FF%00%0D%0Az`)).status).toBe(200);
    const res = await call(gw.url, `/get/${encodeURIComponent(k("bin"))}`, { headers: BASE64 });
    expect(res.body).toEqual({ result: Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0x7a]).toString("base64") });
    expect(await call(gw.url, `/strlen/${encodeURIComponent(k("bin"))}`)).toEqual({ status: 200, body: { result: 5 } });
  });

  it("base64-encodes every string with Upstash-Encoding: base64, except a top-level OK", async () => {
    expect(await command(gw.url, ["SET", k("b"), "héllo 😀"], BASE64)).toEqual({ status: 200, body: { result: "OK" } });
    expect((await command(gw.url, ["GET", k("b")], BASE64)).body).toEqual({ result: b64("héllo 😀") });
    // status replies other than OK are encoded (the client would otherwise mangle "PONG")
    expect((await command(gw.url, ["PING"], BASE64)).body).toEqual({ result: b64("PONG") });
    expect((await command(gw.url, ["TYPE", k("b")], BASE64)).body).toEqual({ result: b64("string") });
    // a bulk "OK" is data, so it is encoded too
    await command(gw.url, ["SET", k("ok"), "OK"]);
    expect((await command(gw.url, ["GET", k("ok")], BASE64)).body).toEqual({ result: b64("OK") });
    // integers and nulls stay as they are
    expect((await command(gw.url, ["STRLEN", k("b")], BASE64)).body).toEqual({ result: 11 });
    expect((await command(gw.url, ["GET", k("missing")], BASE64)).body).toEqual({ result: null });
    // nested arrays: strings encoded at every depth, status "OK" inside an array encoded as well
    const nested = await command(gw.url, ["EVAL", "return {1, {'a', {'b', 2}}, {ok='OK'}, 'x', false}", 0], BASE64);
    expect(nested.body).toEqual({ result: [1, [b64("a"), [b64("b"), 2]], b64("OK"), b64("x"), null] });
    // errors are never encoded
    expect((await command(gw.url, ["HGET", k("b"), "f"], BASE64)).body).toEqual({
      error: "WRONGTYPE Operation against a key holding the wrong kind of value",
    });
  });

  it("returns plain JSON strings without the base64 header (nested arrays too)", async () => {
    const nested = await command(gw.url, ["EVAL", "return {1, {'a', {'b', 2}}, {ok='OK'}, 'x'}", 0]);
    expect(nested.body).toEqual({ result: [1, ["a", ["b", 2]], "OK", "x"] });
  });

  it("runs /pipeline with a result or error per command and HTTP 200", async () => {
    const res = await call(gw.url, "/pipeline", {
      body: JSON.stringify([
        ["SET", k("pl"), "1"],
        ["INCR", k("pl")],
        ["HGET", k("pl"), "f"],
        ["MULTI"],
        ["GET", k("pl")],
        ["GET", k("missing")],
      ]),
    });
    expect(res.status).toBe(200);
    const entries = res.body as { result?: unknown; error?: string }[];
    expect(entries).toHaveLength(6);
    expect(entries[0]).toEqual({ result: "OK" });
    expect(entries[1]).toEqual({ result: 2 });
    expect(entries[2]?.error).toMatch(/^WRONGTYPE/);
    expect(entries[3]?.error).toMatch(/MULTI/);
    expect(entries[4]).toEqual({ result: "2" });
    expect(entries[5]).toEqual({ result: null });
    expect((await call(gw.url, "/pipeline", { body: "[]" })).status).toBe(400);
  });

  it("runs /multi-exec as a transaction; queueing errors give 400", async () => {
    const ok = await call(gw.url, "/multi-exec", {
      body: JSON.stringify([
        ["SET", k("tx"), "a"],
        ["APPEND", k("tx"), "b"],
        ["HSET", k("tx"), "f", "v"],
        ["GET", k("tx")],
      ]),
      headers: BASE64,
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual([
      { result: "OK" },
      { result: 2 },
      { error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
      { result: b64("ab") },
    ]);
    const queueError = await call(gw.url, "/multi-exec", {
      body: JSON.stringify([
        ["SET", k("tx2"), "a"],
        ["NOSUCHCOMMAND", "x"],
      ]),
    });
    expect(queueError.status).toBe(400);
    expect((queueError.body as { error: string }).error).toMatch(/unknown command/);
    // nothing from the discarded transaction ran, and the connection is clean afterwards
    expect(await command(gw.url, ["EXISTS", k("tx2")])).toEqual({ status: 200, body: { result: 0 } });
    expect((await call(gw.url, "/multi-exec", { body: JSON.stringify([["MULTI"]]) })).status).toBe(400);
  });

  it("answers 413 for bodies over 10 MB and keeps serving", async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x61);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${gw.url}/set/${encodeURIComponent(k("huge"))}`,
        { method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Length": big.length } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end(big);
    });
    expect(status).toBe(413);
    expect(await command(gw.url, ["EXISTS", k("huge")])).toEqual({ status: 200, body: { result: 0 } });
  });

  it("round-trips a multi-megabyte binary value (many TCP chunks) in both encodings", async () => {
    const value = randomBytes(LARGE_VALUE_BYTES);
    const key = encodeURIComponent(k("large"));
    expect((await call(gw.url, `/set/${key}`, { body: value })).status).toBe(200);
    expect((await call(gw.url, `/get/${key}`, { headers: BASE64 })).body).toEqual({ result: value.toString("base64") });
    const text = "😀中".repeat(LARGE_VALUE_BYTES / 7);
    expect((await command(gw.url, ["SET", k("large-text"), text])).status).toBe(200);
    expect((await command(gw.url, ["GET", k("large-text")])).body).toEqual({ result: text });
  });

  it("parses large arrays split across chunks", async () => {
    const items = Array.from({ length: LARGE_LIST_LENGTH }, (_, i) => `item-${i}-${"x".repeat(i % 50)}`);
    const res = await command(gw.url, ["RPUSH", k("list"), ...items]);
    expect(res.body).toEqual({ result: LARGE_LIST_LENGTH });
    expect((await command(gw.url, ["LRANGE", k("list"), 0, -1])).body).toEqual({ result: items });
    expect((await command(gw.url, ["LRANGE", k("list"), 0, -1], BASE64)).body).toEqual({ result: items.map((s) => b64(s)) });
  });

  it(`serves HMGET of ${HMGET_FIELDS} fields (the benchmark shape), missing fields as null`, async () => {
    const fields = Array.from({ length: HMGET_FIELDS }, (_, i) => `f${i}`);
    const args = fields.flatMap((f, i) => [f, `${Date.now()}|${JSON.stringify({ v: i })}`]);
    await command(gw.url, ["HSET", k("hm"), ...args.slice(0, args.length - 4)]);
    const res = await command(gw.url, ["HMGET", k("hm"), ...fields]);
    const values = (res.body as { result: (string | null)[] }).result;
    expect(values).toHaveLength(HMGET_FIELDS);
    expect(values.slice(0, HMGET_FIELDS - 2).every((v) => typeof v === "string")).toBe(true);
    expect(values.slice(HMGET_FIELDS - 2)).toEqual([null, null]);
  });

  it(`handles ${CONCURRENT_REQUESTS} concurrent requests (more than the pool size) correctly`, async () => {
    const results = await Promise.all(
      Array.from({ length: CONCURRENT_REQUESTS }, (_, i) =>
        i % 2 === 0
          ? command(gw.url, ["INCR", k("conc")])
          : call(gw.url, "/multi-exec", {
              body: JSON.stringify([
                ["INCR", k("conc")],
                ["ECHO", `m${i}`],
              ]),
            }),
      ),
    );
    const counters = results.map((r, i) => {
      expect(r.status).toBe(200);
      if (i % 2 === 0) return (r.body as { result: number }).result;
      const [incr, echo] = r.body as [{ result: number }, { result: string }];
      expect(echo.result).toBe(`m${i}`);
      return incr.result;
    });
    expect(new Set(counters).size).toBe(CONCURRENT_REQUESTS);
    expect(Math.max(...counters)).toBe(CONCURRENT_REQUESTS);
  });

  it("keeps HTTP connections alive between requests", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const once = (): Promise<boolean> =>
      new Promise<boolean>((resolve, reject) => {
        const req = httpRequest(`${gw.url}/ping`, { agent, headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
          res.resume();
          res.on("end", () => resolve(req.reusedSocket));
        });
        req.on("error", reject);
        req.end();
      });
    try {
      expect(await once()).toBe(false);
      expect(await once()).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});

interface ClientVariant {
  name: string;
  config: { responseEncoding?: false; automaticDeserialization?: false; enableAutoPipelining?: false };
  /** automaticDeserialization: false, so results come back as Redis gave them. */
  raw: boolean;
}

const CLIENT_VARIANTS: ClientVariant[] = [
  { name: "defaults (base64 responses, auto-pipelining)", config: {}, raw: false },
  {
    name: "responseEncoding:false, automaticDeserialization:false",
    config: { responseEncoding: false, automaticDeserialization: false },
    raw: true,
  },
  { name: "base64, auto-pipelining off (single-command path)", config: { enableAutoPipelining: false }, raw: false },
  {
    name: "plain JSON, raw, auto-pipelining off",
    config: { responseEncoding: false, automaticDeserialization: false, enableAutoPipelining: false },
    raw: true,
  },
];

describe.skipIf(!runRedisSuite).each(CLIENT_VARIANTS)("@upstash/redis client through the gateway: $name", ({ name, config, raw }) => {
  let gw: UpstashGateway;
  let redis: Redis;
  const scope = `${PREFIX}client:${CLIENT_VARIANTS.findIndex((v) => v.name === name)}:`;
  const k = (key: string): string => `${scope}${key}`;

  beforeAll(async () => {
    expect(redisAvailable, `Redis must answer PING at ${REDIS_URL}`).toBe(true);
    gw = await startUpstashGateway({ token: TOKEN, redisUrl: REDIS_URL });
    redis = new Redis({ url: gw.url, token: TOKEN, enableTelemetry: false, retry: false, ...config });
  });

  afterAll(async () => {
    if (!gw) return;
    await deleteKeysWithPrefix(gw.url, scope);
    await gw.close();
  });

  it("strings: set/get/incr/expire/ttl and missing keys", async () => {
    expect(await redis.set(k("s"), "hello")).toBe("OK");
    expect(await redis.get(k("s"))).toBe("hello");
    expect(await redis.set(k("ex"), "v", { ex: 100 })).toBe("OK");
    expect(await redis.incr(k("counter"))).toBe(1);
    expect(await redis.incrby(k("counter"), 41)).toBe(42);
    expect(await redis.expire(k("counter"), 100)).toBe(1);
    const ttl = await redis.ttl(k("counter"));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(100);
    expect(await redis.get(k("missing"))).toBeNull();
    expect(await redis.ping()).toBe("PONG");
  });

  it("hashes: hset/hmget/hgetall, including missing keys and fields", async () => {
    expect(await redis.hset(k("h"), { a: "alpha", b: "beta" })).toBe(2);
    const hm = await redis.hmget(k("h"), "a", "b", "nope");
    const all = await redis.hgetall(k("h"));
    const missingHash = await redis.hgetall(k("missing-hash"));
    const missingFields = await redis.hmget(k("missing-hash"), "x", "y");
    if (raw) {
      // automaticDeserialization:false hands back the Redis reply unchanged
      expect(hm).toEqual(["alpha", "beta", null]);
      expect(all).toEqual(["a", "alpha", "b", "beta"]);
      expect(missingHash).toEqual([]);
      expect(missingFields).toEqual([null, null]);
    } else {
      expect(hm).toEqual({ a: "alpha", b: "beta", nope: null });
      expect(all).toEqual({ a: "alpha", b: "beta" });
      expect(missingHash).toBeNull();
      expect(missingFields).toBeNull();
    }
  });

  it("pipelines: results in order, errors surfaced per command", async () => {
    const results = await redis.pipeline().set(k("p"), "1").incr(k("p")).get(k("p")).hget(k("p2"), "f").exec();
    expect(results).toEqual(["OK", 2, raw ? "2" : 2, null]);
    const withErrors = await redis.pipeline().get(k("p")).hget(k("p"), "f").exec({ keepErrors: true });
    expect(withErrors[1]?.error).toMatch(/^WRONGTYPE/);
    await expect(redis.pipeline().get(k("p")).hget(k("p"), "f").exec()).rejects.toThrow(
      /Command 2 \[ hget \] failed: WRONGTYPE Operation against a key holding the wrong kind of value/,
    );
  });

  it("an empty pipeline is rejected by the client itself", async () => {
    await expect(redis.pipeline().exec()).rejects.toThrow(/Pipeline is empty/);
  });

  it("transactions: multi().exec()", async () => {
    const results = await redis.multi().set(k("t"), "x").append(k("t"), "y").get(k("t")).exec();
    expect(results).toEqual(["OK", 2, "xy"]);
  });

  it("scripts: eval, scriptLoad, evalsha", async () => {
    const script = "redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), 7, ARGV[2]}";
    expect(await redis.eval(script, [k("lua")], ["from-lua", "😀"])).toEqual(["from-lua", 7, "😀"]);
    const sha = await redis.scriptLoad(script);
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await redis.evalsha(sha, [k("lua")], ["again", "中"])).toEqual(["again", 7, "中"]);
    expect(await redis.evalsha(sha, [k("lua")], ["OK", "x"])).toEqual(["OK", 7, "x"]);
    await expect(redis.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
  });

  it("errors: wrong type throws with Redis's message", async () => {
    await redis.set(k("wrongtype"), "x");
    await expect(redis.hget(k("wrongtype"), "f")).rejects.toThrow(/WRONGTYPE Operation against a key holding the wrong kind of value/);
  });

  it("errors: a wrong token is rejected as Unauthorized", async () => {
    const bad = new Redis({ url: gw.url, token: "not-the-token", enableTelemetry: false, retry: false, ...config });
    await expect(bad.get(k("s"))).rejects.toThrow(/Unauthorized/);
  });

  it("binary-safe and unicode values round-trip as strings, keys, fields and values", async () => {
    for (const [label, value] of Object.entries(TRICKY_VALUES)) {
      expect(await redis.set(k(`v:${label}`), value), label).toBe("OK");
      expect(await redis.get(k(`v:${label}`)), label).toBe(value);
      expect(await redis.strlen(k(`v:${label}`)), label).toBe(Buffer.byteLength(value, "utf8"));
    }
    const unicodeKey = k(`${TRICKY_VALUES.cjk}:${TRICKY_VALUES.emoji}`);
    await redis.set(unicodeKey, TRICKY_VALUES.crlf);
    expect(await redis.get(unicodeKey)).toBe(TRICKY_VALUES.crlf);
    await redis.hset(k("uh"), TRICKY_VALUES);
    const all = await redis.hgetall(k("uh"));
    if (raw) {
      const pairs = all as unknown as string[];
      const asObject: Record<string, string> = {};
      for (let i = 0; i < pairs.length; i += 2) asObject[pairs[i] ?? ""] = pairs[i + 1] ?? "";
      expect(asObject).toEqual(TRICKY_VALUES);
    } else {
      expect(all).toEqual(TRICKY_VALUES);
    }
    const pipelined = await redis.pipeline().get(k("v:nul")).get(k("v:mixed")).exec();
    expect(pipelined).toEqual([TRICKY_VALUES.nul, TRICKY_VALUES.mixed]);
  });
});

describe("upstash gateway: Redis unavailable", () => {
  it(`answers 503 quickly when Redis refuses connections (${CLOSED_REDIS_URL})`, async () => {
    const gw = await startUpstashGateway({ token: TOKEN, redisUrl: CLOSED_REDIS_URL });
    try {
      const started = Date.now();
      const res = await command(gw.url, ["GET", "x"]);
      expect(Date.now() - started).toBeLessThan(UNAVAILABLE_ANSWER_BUDGET_MS);
      expect(res.status).toBe(503);
      expect((res.body as { error: string }).error).toMatch(/^Redis unavailable: /);
      const pipeline = await call(gw.url, "/pipeline", { body: JSON.stringify([["GET", "x"]]) });
      expect(pipeline.status).toBe(503);
      const health = await call(gw.url, "/health", { token: null });
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ ok: false });
      // auth is still checked first
      expect((await call(gw.url, "/get/x", { token: "bad" })).status).toBe(401);
      const client = new Redis({ url: gw.url, token: TOKEN, enableTelemetry: false, retry: false });
      await expect(client.get("x")).rejects.toThrow(/Redis unavailable/);
    } finally {
      await gw.close();
    }
  });

  /** A TCP forwarder to the real Redis that can be stopped and restarted on the same port. */
  class RedisProxy {
    private server: Server | null = null;
    private readonly sockets = new Set<Socket>();
    port = 0;

    constructor(private readonly target: URL) {}

    async start(): Promise<void> {
      const server = createNetServer((client) => {
        const upstream = netConnect({ host: this.target.hostname, port: Number(this.target.port || 6379) });
        for (const s of [client, upstream]) {
          this.sockets.add(s);
          s.on("close", () => this.sockets.delete(s));
          s.on("error", () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.port, "127.0.0.1", () => resolve());
      });
      this.port = (server.address() as AddressInfo).port;
      this.server = server;
    }

    async stop(): Promise<void> {
      const server = this.server;
      this.server = null;
      for (const s of this.sockets) s.destroy();
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it.skipIf(!runRedisSuite)("recovers when Redis comes back (reconnects on the next request)", async () => {
    expect(redisAvailable, `Redis must answer PING at ${REDIS_URL}`).toBe(true);
    const proxy = new RedisProxy(new URL(REDIS_URL));
    await proxy.start();
    const gw = await startUpstashGateway({ token: TOKEN, redisUrl: `redis://127.0.0.1:${proxy.port}` });
    const key = `${PREFIX}recover`;
    try {
      expect(await command(gw.url, ["SET", key, "before"])).toEqual({ status: 200, body: { result: "OK" } });
      await proxy.stop();
      const down = await command(gw.url, ["GET", key]);
      expect(down.status).toBe(503);
      await proxy.start();
      expect(await command(gw.url, ["GET", key])).toEqual({ status: 200, body: { result: "before" } });
      expect(await call(gw.url, "/health", { token: null })).toEqual({ status: 200, body: { ok: true } });
      expect(await command(gw.url, ["DEL", key])).toEqual({ status: 200, body: { result: 1 } });
    } finally {
      await gw.close();
      await proxy.stop();
    }
  });
});

describe.skipIf(!runRedisSuite)("upstash gateway: CLI", () => {
  it(
    "starts with --port/--token/--redis and prints its URL",
    async () => {
      const child = spawn(process.execPath, [TSX_BIN, GATEWAY_SCRIPT, "--port", "0", "--token", TOKEN, "--redis", REDIS_URL], {
        cwd: PROJECT_ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let out = "";
          let err = "";
          const timer = setTimeout(() => reject(new Error(`CLI did not print a URL; stderr: ${err}`)), CLI_START_TIMEOUT_MS);
          child.stdout.on("data", (chunk: Buffer) => {
            out += chunk.toString("utf8");
            const line = out.split("\n")[0];
            if (out.includes("\n") && line !== undefined) {
              clearTimeout(timer);
              resolve(line.trim());
            }
          });
          child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
          child.once("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`CLI exited with ${code}; stderr: ${err}`));
          });
        });
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(await call(url, "/health", { token: null })).toEqual({ status: 200, body: { ok: true } });
        expect(await command(url, ["ECHO", "cli"])).toEqual({ status: 200, body: { result: "cli" } });
      } finally {
        const exited = new Promise<void>((resolve) => {
          if (child.exitCode !== null) resolve();
          else child.once("exit", () => resolve());
        });
        child.kill("SIGTERM");
        await exited;
      }
    },
    CLI_START_TIMEOUT_MS + 5_000,
  );
});
