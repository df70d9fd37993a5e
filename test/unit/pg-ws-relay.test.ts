// Tests the local Neon stack: dev/pg-ws-relay.ts (WebSocket→TCP) against real Postgres and dev/embedded-postgres.ts (PGlite).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client as NeonClient, Pool as NeonPool, neonConfig } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startEmbeddedPostgres } from "../../dev/embedded-postgres";
import { PgClientStreamTracker, type PgWsRelay, parseTargetAddress, startPgWsRelay } from "../../dev/pg-ws-relay";
import { MIGRATIONS_DIR } from "../../tools/paths";
import { probe } from "../support/postgres-server";

const REAL_PG_URL = process.env.DATABASE_URL ?? "postgres://root@127.0.0.1:5432/postgres";
/** PGlite's first start runs initdb in WASM (~5 s here); leave plenty of headroom on slow CI machines. */
const EMBEDDED_TEST_TIMEOUT_MS = 60_000;
/** A terminated backend must surface as an error well before this; hitting it means the client hung. */
const HANG_GUARD_MS = 5_000;
const POLL_INTERVAL_MS = 20;
const CONCURRENT_CLIENTS = 20;
const LARGE_RESULT_ROWS = 10_000;
async function probeRealPostgres(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const reason = await probe(REAL_PG_URL);
  return reason === null ? { ok: true } : { ok: false, reason };
}

const realPg = await probeRealPostgres();
const IN_CI = process.env.CI === "true";
if (!realPg.ok && !IN_CI) {
  console.warn(
    `\n${"!".repeat(80)}\n!! SKIPPING real-Postgres relay tests: cannot reach ${REAL_PG_URL} (${realPg.reason}).\n` +
      `!! Start Postgres or set DATABASE_URL. (With CI=true this is a failure.)\n${"!".repeat(80)}\n`,
  );
}

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = HANG_GUARD_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** HTTP status the relay answers a WebSocket upgrade with (101 when it upgrades). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const sock = new WebSocket(url);
    sock.on("unexpected-response", (_req, res) => {
      resolvePromise(res.statusCode ?? 0);
      res.resume();
      sock.terminate();
    });
    sock.on("open", () => {
      resolvePromise(101);
      sock.close();
    });
    // Errors after the status is known (terminate during CONNECTING) are expected; reject only settles once.
    sock.on("error", reject);
  });
}

function wsProxyFor(relay: PgWsRelay): (host: string, port: number | string) => string {
  return (host, port) => `127.0.0.1:${relay.port}/v2?address=${host}:${port}`;
}

/** The shared relay all Neon-driver tests go through, configured exactly as the app configures it locally. */
let relay: PgWsRelay;

beforeAll(async () => {
  relay = await startPgWsRelay({ port: 0 });
  neonConfig.webSocketConstructor = WebSocket;
  neonConfig.wsProxy = wsProxyFor(relay);
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
});

afterAll(async () => {
  await relay.close();
});

describe("pg-ws-relay: address parsing and protocol tracking", () => {
  it("parses host:port and bracketed IPv6, rejects junk", () => {
    expect(parseTargetAddress("/v2?address=127.0.0.1:5432")).toEqual({ host: "127.0.0.1", port: 5432 });
    expect(parseTargetAddress("/v1?address=localhost:6543")).toEqual({ host: "localhost", port: 6543 });
    expect(parseTargetAddress("/v2?address=[::1]:5432")).toEqual({ host: "::1", port: 5432 });
    for (const bad of [
      "/v2",
      "/v2?address=",
      "/v2?address=host",
      "/v2?address=host:",
      "/v2?address=:5432",
      "/v2?address=h:0",
      "/v2?address=h:70000",
      "/v2?address=h:54x",
      "/v2?address=::1:5432",
    ]) {
      expect(parseTargetAddress(bad), bad).toBeNull();
    }
  });

  it("spots a Terminate only at a message boundary", () => {
    const startup = Buffer.alloc(8);
    startup.writeInt32BE(8, 0);
    startup.writeInt32BE(196_608, 4); // protocol 3.0, no parameters
    const terminate = Buffer.from([0x58, 0, 0, 0, 4]);
    // A query whose text happens to contain Terminate's bytes must not trigger.
    const sql = Buffer.concat([Buffer.from("select "), terminate, Buffer.from([0])]);
    const query = Buffer.alloc(5 + sql.length);
    query.write("Q");
    query.writeInt32BE(4 + sql.length, 1);
    sql.copy(query, 5);

    const t = new PgClientStreamTracker();
    expect(t.feed(startup)).toBe(false);
    // Split the query at awkward places to exercise partial headers and bodies.
    expect(t.feed(query.subarray(0, 3))).toBe(false);
    expect(t.feed(query.subarray(3, 9))).toBe(false);
    expect(t.feed(query.subarray(9))).toBe(false);
    expect(t.feed(Buffer.concat([query, terminate.subarray(0, 2)]))).toBe(false);
    expect(t.feed(terminate.subarray(2))).toBe(true);

    const ssl = Buffer.alloc(8);
    ssl.writeInt32BE(8, 0);
    ssl.writeInt32BE(80_877_103, 4);
    const refused = new PgClientStreamTracker();
    expect(refused.feed(ssl)).toBe(false);
    refused.serverData(Buffer.from("N"));
    expect(refused.feed(Buffer.concat([startup, terminate]))).toBe(true);
    const encrypted = new PgClientStreamTracker();
    encrypted.feed(ssl);
    encrypted.serverData(Buffer.from("S"));
    expect(encrypted.feed(Buffer.concat([startup, terminate]))).toBe(false);
  });
});

describe("pg-ws-relay: refusals", () => {
  it("refuses target hosts outside the allow-list with 403, junk with 400, unreachable with 502", async () => {
    expect(await upgradeStatus(`${relay.url}/v2?address=10.255.255.1:5432`)).toBe(403);
    expect(await upgradeStatus(`${relay.url}/v2?address=db.example.com:5432`)).toBe(403);
    expect(await upgradeStatus(`${relay.url}/v2`)).toBe(400);
    // Port 1 on loopback: allowed host, nothing listening.
    expect(await upgradeStatus(`${relay.url}/v2?address=127.0.0.1:1`)).toBe(502);
    expect(relay.activeConnections()).toBe(0);
  });

  it("surfaces a refusal to the Neon driver as a connect error", async () => {
    const client = new NeonClient({ connectionString: "postgres://root@10.255.255.1:5432/postgres" });
    client.on("error", () => undefined); // the rejection below is what we assert on
    await expect(withTimeout(client.connect(), HANG_GUARD_MS, "refused connect")).rejects.toThrow(/403/);
  });

  it("honours a custom allow-list", async () => {
    const strict = await startPgWsRelay({ allowedHosts: ["db.internal"] });
    try {
      expect(await upgradeStatus(`${strict.url}/v2?address=127.0.0.1:5432`)).toBe(403);
    } finally {
      await strict.close();
    }
  });

  it("names the port when it is already taken", async () => {
    await expect(startPgWsRelay({ port: relay.port })).rejects.toThrow(new RegExp(`port ${relay.port}\\b.*in use`));
  });
});

describe("real Postgres (required in CI)", () => {
  // Always runs (CI must show no skips); outside CI an unreachable Postgres only skips the tests below, loudly.
  it("is reachable when CI=true", () => {
    if (IN_CI && !realPg.ok) throw new Error(`CI=true but real Postgres at ${REAL_PG_URL} is unreachable: ${realPg.reason}`);
    expect(realPg.ok || !IN_CI).toBe(true);
  });
});

describe.runIf(realPg.ok)("pg-ws-relay → real Postgres via @neondatabase/serverless", () => {
  let pool: NeonPool;
  let direct: pg.Client;

  beforeAll(async () => {
    pool = new NeonPool({ connectionString: REAL_PG_URL, max: CONCURRENT_CLIENTS });
    // An idle pooled client that loses its backend emits 'error' on the pool; without a listener that crashes the run.
    pool.on("error", (err: Error) => console.warn(`pool idle-client error: ${err.message}`));
    direct = new pg.Client(REAL_PG_URL);
    await direct.connect();
  });

  afterAll(async () => {
    await pool.end();
    await direct.end();
  });

  it("select 1", async () => {
    const { rows } = await pool.query<{ one: number }>("select 1 as one");
    expect(rows).toEqual([{ one: 1 }]);
  });

  it("parameterized query", async () => {
    const { rows } = await pool.query<{ sum: number; label: string }>("select $1::int + $2::int as sum, $3::text as label", [
      40,
      2,
      "answer",
    ]);
    expect(rows).toEqual([{ sum: 42, label: "answer" }]);
  });

  it("transaction: BEGIN / INSERT / ROLLBACK on a temp table", async () => {
    const client = await pool.connect();
    try {
      await client.query("create temp table relay_tx (id int primary key, note text)");
      await client.query("begin");
      await client.query("insert into relay_tx values ($1, $2)", [1, "inside"]);
      const inside = await client.query<{ n: number }>("select count(*)::int as n from relay_tx");
      expect(inside.rows[0]?.n).toBe(1);
      await client.query("rollback");
      const after = await client.query<{ n: number }>("select count(*)::int as n from relay_tx");
      expect(after.rows[0]?.n).toBe(0);
    } finally {
      client.release();
    }
  });

  it("query error rejects with the Postgres message and the connection stays usable", async () => {
    const client = await pool.connect();
    try {
      await expect(client.query("selec 1")).rejects.toThrow('syntax error at or near "selec"');
      await expect(client.query("select 1/0")).rejects.toMatchObject({ code: "22012" });
      const { rows } = await client.query<{ ok: boolean }>("select true as ok");
      expect(rows).toEqual([{ ok: true }]);
    } finally {
      client.release();
    }
    const fresh = new NeonClient({ connectionString: REAL_PG_URL });
    await fresh.connect();
    expect((await fresh.query<{ n: number }>("select 7 as n")).rows).toEqual([{ n: 7 }]);
    await fresh.end();
  });

  it(`${CONCURRENT_CLIENTS} concurrent clients, each on its own backend`, async () => {
    const clients = await Promise.all(Array.from({ length: CONCURRENT_CLIENTS }, () => pool.connect()));
    try {
      // pg_sleep makes the queries overlap on the server, so the relay really carries 20 live streams at once.
      const pids = await Promise.all(
        clients.map(async (c, i) => {
          const { rows } = await c.query<{ pid: number; i: number }>("select pg_backend_pid() as pid, $1::int as i from pg_sleep(0.05)", [
            i,
          ]);
          expect(rows[0]?.i).toBe(i);
          return rows[0]?.pid;
        }),
      );
      expect(new Set(pids).size).toBe(CONCURRENT_CLIENTS);
      expect(relay.activeConnections()).toBeGreaterThanOrEqual(CONCURRENT_CLIENTS);
    } finally {
      for (const c of clients) c.release();
    }
  });

  it(`large result (${LARGE_RESULT_ROWS} rows)`, async () => {
    const { rows } = await pool.query<{ n: number; pad: string }>(
      "select n, repeat('x', 100) || n::text as pad from generate_series(1, $1::int) as n",
      [LARGE_RESULT_ROWS],
    );
    expect(rows).toHaveLength(LARGE_RESULT_ROWS);
    expect(rows[0]).toEqual({ n: 1, pad: `${"x".repeat(100)}1` });
    expect(rows[LARGE_RESULT_ROWS - 1]?.n).toBe(LARGE_RESULT_ROWS);
  });

  it("unicode text and jsonb round-trip", async () => {
    const text = "Ωμέγα · 音楽 · 🎵🎧 · 𝄞 · naïve café · עברית";
    const doc = { track: "Für Elise 🎹", tags: ["lo-fi", "ジャズ"], score: 0.875, nested: { ok: true, none: null } };
    const { rows } = await pool.query<{ t: string; j: typeof doc; len: number }>(
      "select $1::text as t, $2::jsonb as j, char_length($1::text) as len",
      [text, JSON.stringify(doc)],
    );
    expect(rows[0]?.t).toBe(text);
    expect(rows[0]?.j).toEqual(doc);
    expect(rows[0]?.len).toBe([...text].length);
  });

  it("terminated backend: in-flight and idle clients get errors, relay keeps serving", async () => {
    const backendPid = async (c: NeonClient): Promise<number> =>
      (await c.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid ?? -1;
    const terminate = (pid: number): Promise<pg.QueryResult> => direct.query("select pg_terminate_backend($1)", [pid]);
    const baseline = relay.activeConnections();

    // In-flight: a long query whose backend is killed must reject, not hang.
    const busy = new NeonClient({ connectionString: REAL_PG_URL });
    busy.on("error", () => undefined); // the rejected query is what we assert on
    await busy.connect();
    const busyPid = await backendPid(busy);
    // Settle-capture right away: the rejection can arrive while we are still awaiting the terminate
    // call below, and an unobserved rejection at that moment would be reported as unhandled.
    const sleeping = busy.query("select pg_sleep(30)").then(
      () => new Error("pg_sleep finished although its backend was terminated"),
      (err: unknown) => err,
    );
    await waitFor("pg_sleep to start", async () => {
      const { rows } = await direct.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where pid = $1 and query like '%pg_sleep(30)%'",
        [busyPid],
      );
      return rows[0]?.n === 1;
    });
    await terminate(busyPid);
    const outcome = await withTimeout(sleeping, HANG_GUARD_MS, "query on terminated backend");
    expect(String((outcome as Error).message)).toMatch(/terminating connection due to administrator command|Connection terminated/);

    // Idle: the next query must fail fast too.
    const idle = new NeonClient({ connectionString: REAL_PG_URL });
    const idleErrors: Error[] = [];
    idle.on("error", (err: Error) => idleErrors.push(err));
    await idle.connect();
    await terminate(await backendPid(idle));
    await waitFor("idle client to notice", () => idleErrors.length > 0);
    await expect(withTimeout(idle.query("select 1"), HANG_GUARD_MS, "query on dead idle client")).rejects.toThrow();

    // Both relayed pairs are torn down and the relay still serves new clients.
    await waitFor("relay to drop the dead pairs", () => relay.activeConnections() <= baseline);
    const { rows } = await pool.query<{ ok: number }>("select 1 as ok");
    expect(rows).toEqual([{ ok: 1 }]);
  });

  it("client.end() completes and frees the relayed pair", async () => {
    const baseline = relay.activeConnections();
    const client = new NeonClient({ connectionString: REAL_PG_URL });
    await client.connect();
    expect(relay.activeConnections()).toBe(baseline + 1);
    await withTimeout(client.end(), HANG_GUARD_MS, "client.end()");
    await waitFor("relay to drop the pair", () => relay.activeConnections() === baseline);
  });

  it("close() terminates live relayed connections", async () => {
    const own = await startPgWsRelay();
    const client = new NeonClient({ connectionString: REAL_PG_URL });
    client.neonConfig.wsProxy = wsProxyFor(own);
    client.on("error", () => undefined); // the 'end' event is what we assert on
    await client.connect();
    expect(own.activeConnections()).toBe(1);
    const ended = new Promise<void>((r) => client.once("end", () => r()));
    await withTimeout(own.close(), HANG_GUARD_MS, "relay.close()");
    await withTimeout(ended, HANG_GUARD_MS, "client 'end' after relay close");
    expect(own.activeConnections()).toBe(0);
    await expect(client.query("select 1")).rejects.toThrow();
  });
});

describe("embedded Postgres (PGlite) via pg and via the relay", { timeout: EMBEDDED_TEST_TIMEOUT_MS }, () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), "echotune-pglite-")), "pgdata");
  });

  afterAll(async () => {
    await rm(resolve(dataDir, ".."), { recursive: true, force: true });
  });

  it("serves pg and the Neon driver, runs migrations, and persists across restarts", async () => {
    const first = await startEmbeddedPostgres({ dataDir, port: 0 });
    try {
      expect(first.url).toBe(`postgres://postgres@127.0.0.1:${first.port}/postgres`);

      // Guards: same data dir twice, and a taken port, fail with clear messages.
      await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(/already in use/);
      await expect(startEmbeddedPostgres({ dataDir: `${dataDir}-other`, port: first.port })).rejects.toThrow(
        new RegExp(`port ${first.port}\\b.*already in use`),
      );

      const direct = new pg.Client(first.url);
      await direct.connect();
      try {
        // Migration-style multi-statement simple query, as drizzle-kit output is applied.
        const multi = (await direct.query(
          `create table relay_probe_tracks (id text primary key, title text not null, meta jsonb not null default '{}');
           --> statement-breakpoint
           create index relay_probe_title_idx on relay_probe_tracks (title);
           insert into relay_probe_tracks (id, title) values ('t0', 'seed');
           select count(*)::int as n from relay_probe_tracks;`,
        )) as unknown as pg.QueryResult[];
        expect(multi.map((r) => r.command)).toEqual(["CREATE", "CREATE", "INSERT", "SELECT"]);
        await direct.query("insert into relay_probe_tracks (id, title, meta) values ($1, $2, $3)", ["t1", "Über 🎶", { bpm: 120 }]);
        const { rows } = await direct.query<{ title: string; meta: { bpm: number } }>(
          "select title, meta from relay_probe_tracks where id = $1",
          ["t1"],
        );
        expect(rows).toEqual([{ title: "Über 🎶", meta: { bpm: 120 } }]);

        // The project's real drizzle migrations apply cleanly (drizzle's node-postgres migrator).
        await migrate(drizzle(direct), { migrationsFolder: MIGRATIONS_DIR });
        const applied = await direct.query<{ n: number }>("select count(*)::int as n from drizzle.__drizzle_migrations");
        expect(applied.rows[0]?.n).toBeGreaterThan(0);
      } finally {
        await direct.end();
      }

      // Neon driver through the relay: PGlite accepts any user/database, answers trust auth.
      const neon = new NeonClient({ connectionString: first.url });
      await neon.connect();
      await neon.query("insert into relay_probe_tracks (id, title) values ($1, $2)", ["t2", "via relay"]);
      const viaRelay = await neon.query<{ id: string; title: string }>("select id, title from relay_probe_tracks order by id");
      expect(viaRelay.rows.map((r) => r.id)).toEqual(["t0", "t1", "t2"]);
      await expect(neon.query("selec 1")).rejects.toThrow('syntax error at or near "selec"');
      expect((await neon.query<{ n: number }>("select $1::int as n", [5])).rows).toEqual([{ n: 5 }]);
      // PGlite's socket server does not hang up on Terminate; the relay's half-close makes end() complete.
      await withTimeout(neon.end(), HANG_GUARD_MS, "Neon client.end() against PGlite");

      const neonPool = new NeonPool({ connectionString: first.url, max: 2 });
      const counts = await Promise.all(
        [1, 2, 3, 4].map(() => neonPool.query<{ n: number }>("select count(*)::int as n from relay_probe_tracks")),
      );
      expect(counts.map((r) => r.rows[0]?.n)).toEqual([3, 3, 3, 3]);
      await withTimeout(neonPool.end(), HANG_GUARD_MS, "Neon pool.end() against PGlite");
    } finally {
      await first.close();
    }

    const second = await startEmbeddedPostgres({ dataDir, port: 0 });
    try {
      const again = new pg.Client(second.url);
      await again.connect();
      const { rows } = await again.query<{ id: string; title: string }>("select id, title from relay_probe_tracks order by id");
      expect(rows).toEqual([
        { id: "t0", title: "seed" },
        { id: "t1", title: "Über 🎶" },
        { id: "t2", title: "via relay" },
      ]);
      await again.end();
    } finally {
      await second.close();
    }
  });
});
