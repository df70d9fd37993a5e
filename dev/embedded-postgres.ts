// Embedded Postgres for local dev when DATABASE_URL is unset: PGlite (WASM Postgres) served over the wire protocol.
//
// Clients: `pg` (node-postgres) connects directly to `url`; @neondatabase/serverless connects through
// dev/pg-ws-relay.ts (wsProxy `127.0.0.1:<relay>/v2?address=127.0.0.1:<port>`).
//
// Limitations — read before relying on it:
//  - ONE PGlite session underneath, shared by every TCP connection: pglite-socket queues individual protocol
//    messages from all connections onto that single backend. There is no isolation between "connections":
//    session state (SET / GUCs, temp tables, named prepared statements, advisory locks) is shared, and
//    concurrent connections' statements interleave. pglite-socket only holds other connections back while one
//    connection is inside an explicit transaction (BEGIN … COMMIT), so a transaction that stays open blocks
//    everyone else (code that awaits connection B while A holds BEGIN deadlocks). An extended-protocol batch
//    (Parse/Bind/Execute/Sync) is NOT protected: it stays intact in practice only because a batch arriving in
//    one TCP chunk is processed without yielding to the event loop; very large parameters split across chunks
//    could let another connection's messages slip in. A connection dropped mid-transaction is rolled back.
//    Use a small pool and never use this to test isolation, locking or concurrency behaviour — point
//    DATABASE_URL at a real Postgres for that.
//  - Authentication is not implemented: any user/password/database in the startup message is accepted
//    (trust) and the session is always user `postgres`, database `postgres`.
//  - No TLS (an SSLRequest is answered 'N'), no CancelRequest (ignored), no LISTEN/NOTIFY across connections.
//  - Connections beyond `maxConnections` are dropped by the listener (clients see "Connection terminated").
//  - The data directory must not be opened by two processes at once; a `<dataDir>.lock` file guards this.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { createServer, isIP } from "node:net";
import { resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { errorMessage } from "../src/core/errors";
import { log } from "../src/core/log";
import { closeOnSignal, runIfMain, UsageError } from "../tools/cli";
import { DATA_DIR } from "../tools/paths";

export const DEFAULT_PGLITE_DATA_DIR = resolve(DATA_DIR, "pglite");
/** pglite-socket defaults to a single connection; a dev server (workers + scripts + psql) needs a few more. */
export const DEFAULT_MAX_CONNECTIONS = 32;
/** Used by the CLI only; the API defaults to a random free port so tests never collide. */
export const DEFAULT_EMBEDDED_PG_PORT = 5433;
/** PGlite ignores the startup user/database and always runs as this role in this database. */
const PGLITE_USER = "postgres";
const PGLITE_DATABASE = "postgres";

export interface EmbeddedPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Data directory (created if missing). Default `<projectRoot>/.data/pglite`. */
  dataDir?: string;
  /** TCP port; 0 (default) picks a random free port. */
  port?: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Concurrent TCP connections accepted (default DEFAULT_MAX_CONNECTIONS). */
  maxConnections?: number;
}

function portInUseError(port: number, host: string): Error {
  return new Error(`embedded-postgres: port ${port} on ${host} is already in use; pass another port (or 0 for a random one)`);
}

/** Fails fast on a taken port, before paying PGlite's multi-second startup. */
function assertPortFree(port: number, host: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => {
      reject(err.code === "EADDRINUSE" ? portInUseError(port, host) : err);
    });
    probe.listen(port, host, () => probe.close(() => resolvePromise()));
  });
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else; only ESRCH means it is gone.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes an exclusive lock file next to the data directory. PGlite has no cross-process locking, and two
 * PGlite instances writing the same files corrupt the cluster.
 */
function acquireDataDirLock(dataDir: string): () => void {
  const lockPath = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(lockPath);
        } catch (err) {
          log("warn", "embedded_postgres_unlock_failed", { lock: lockPath, error: errorMessage(err) });
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number.parseInt(readFileSync(lockPath, "utf8").trim(), 10);
      if (Number.isInteger(owner) && owner > 0 && isProcessAlive(owner)) {
        const who = owner === process.pid ? "this process" : `process ${owner}`;
        throw new Error(`embedded-postgres: data dir ${dataDir} is already in use by ${who} (lock file ${lockPath})`);
      }
      // Stale lock from a crashed run: take it over.
      unlinkSync(lockPath);
    }
  }
  throw new Error(`embedded-postgres: could not acquire ${lockPath}`);
}

function urlHostFor(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return isIP(host) === 6 ? `[${host}]` : host;
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const dataDir = resolve(opts.dataDir ?? DEFAULT_PGLITE_DATA_DIR);
  const host = opts.host ?? "127.0.0.1";
  const requestedPort = opts.port ?? 0;
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;

  if (requestedPort !== 0) await assertPortFree(requestedPort, host);
  if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true });
  const releaseLock = acquireDataDirLock(dataDir);

  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    // An empty directory triggers initdb; an existing cluster (including one left by a crash) is reopened.
    db = await PGlite.create({ dataDir });
    server = new PGLiteSocketServer({ db, port: requestedPort, host, maxConnections });
    try {
      await server.start();
    } catch (err) {
      // The probe above can race with another process grabbing the port during PGlite startup.
      if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw portInUseError(requestedPort, host);
      throw err;
    }
  } catch (err) {
    await server
      ?.stop()
      .catch((e: unknown) => log("warn", "embedded_postgres_stop_failed", { after: "failed start", error: errorMessage(e) }));
    await db
      ?.close()
      .catch((e: unknown) => log("warn", "embedded_postgres_close_failed", { after: "failed start", error: errorMessage(e) }));
    releaseLock();
    throw err;
  }

  const conn = server.getServerConn();
  const port = Number(conn.slice(conn.lastIndexOf(":") + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`embedded-postgres: unexpected listen address ${conn}`);

  const liveDb = db;
  const liveServer = server;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        // Stop accepting and detach clients first so no query races the final flush to disk.
        await liveServer.stop();
        await liveDb.close();
      } finally {
        releaseLock();
      }
    })();
    return closing;
  };

  return {
    url: `postgres://${PGLITE_USER}@${urlHostFor(host)}:${port}/${PGLITE_DATABASE}`,
    port,
    close,
  };
}

function parseCliArgs(argv: readonly string[]): EmbeddedPostgresOptions {
  const opts: EmbeddedPostgresOptions = { port: DEFAULT_EMBEDDED_PG_PORT };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new UsageError(`${flag ?? ""} needs a value`);
    if (flag === "--port") opts.port = Number(value);
    else if (flag === "--host") opts.host = value;
    else if (flag === "--data-dir") opts.dataDir = value;
    else if (flag === "--max-connections") opts.maxConnections = Number(value);
    else throw new UsageError(`unknown argument ${flag ?? ""} (usage: --port N --host H --data-dir DIR --max-connections N)`);
  }
  if (!Number.isInteger(opts.port) || (opts.port ?? 0) < 0) throw new UsageError(`invalid --port ${String(opts.port)}`);
  return opts;
}

async function main(): Promise<void> {
  const pg = await startEmbeddedPostgres(parseCliArgs(process.argv.slice(2)));
  console.log(`[embedded-postgres] ready: DATABASE_URL=${pg.url}`);
  closeOnSignal("embedded-postgres", pg);
}

runIfMain("embedded-postgres", import.meta.url, main);
