// Local dev gateway: speaks Upstash's Redis REST protocol over HTTP in front of a real Redis (RESP2 over a small TCP pool).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, connect as netConnect, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { errorMessage } from "../src/core/errors";
import { closeOnSignal, runIfMain, UsageError } from "../tools/cli";

// ---------------------------------------------------------------------------------------------
// Limits and timeouts
// ---------------------------------------------------------------------------------------------

const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
const DEFAULT_REDIS_PORT = 6379;
const DEFAULT_HOST = "127.0.0.1";
/** 0 lets the OS pick a free port. */
const DEFAULT_PORT = 0;
/** Upper bound on concurrent TCP connections to Redis; each serves one HTTP request at a time. */
const MAX_POOL_CONNECTIONS = 16;
/** A TCP connect (plus AUTH/SELECT handshake) slower than this means Redis is unavailable. */
const CONNECT_TIMEOUT_MS = 1_000;
/** A connection with commands in flight and no reply for this long is dropped. */
const COMMAND_TIMEOUT_MS = 30_000;
/** How long a request may wait for a free pooled connection before getting a 503. */
const POOL_ACQUIRE_TIMEOUT_MS = 10_000;
/** Largest accepted HTTP request body; bigger bodies get 413. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Idle keep-alive HTTP connections are closed after this long. */
const HTTP_KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Must exceed the keep-alive timeout (Node requirement for reused sockets). */
const HTTP_HEADERS_TIMEOUT_MS = HTTP_KEEP_ALIVE_TIMEOUT_MS + 1_000;
/** A whole HTTP request (headers + body) must arrive within this. */
const HTTP_REQUEST_TIMEOUT_MS = 60_000;
/** Integers with more digits than this may exceed Number.MAX_SAFE_INTEGER and are parsed as bigint. */
const MAX_SAFE_INTEGER_DIGITS = 15;

/** HTTP methods Upstash accepts; anything else is 405. */
const ALLOWED_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT"]);

/**
 * Commands that would change the state of a pooled connection (or hold it forever) and so cannot be
 * sent through a shared pool. Transactions go through /multi-exec instead.
 */
const CONNECTION_STATE_COMMANDS: ReadonlySet<string> = new Set([
  "AUTH",
  "DISCARD",
  "EXEC",
  "HELLO",
  "MONITOR",
  "MULTI",
  "PSUBSCRIBE",
  "PSYNC",
  "PUNSUBSCRIBE",
  "QUIT",
  "REPLCONF",
  "RESET",
  "SELECT",
  "SSUBSCRIBE",
  "SUBSCRIBE",
  "SUNSUBSCRIBE",
  "SYNC",
  "UNSUBSCRIBE",
  "UNWATCH",
  "WATCH",
]);

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

export interface UpstashGatewayOptions {
  /** redis://[user:password@]host[:port][/db]; defaults to redis://127.0.0.1:6379. */
  redisUrl?: string;
  /** Bearer token every request (except GET /health) must present. */
  token: string;
  /** Interface to listen on; defaults to 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 (default) picks a random free port. */
  port?: number;
}

export interface UpstashGateway {
  /** Base URL to hand to `new Redis({ url })`, e.g. http://127.0.0.1:8079. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startUpstashGateway(opts: UpstashGatewayOptions): Promise<UpstashGateway> {
  if (!opts.token) throw new Error("upstash-gateway: a non-empty token is required");
  const endpoint = parseRedisUrl(opts.redisUrl ?? DEFAULT_REDIS_URL);
  const pool = new RedisPool(endpoint);
  const ctx: GatewayContext = { pool, expectedAuth: `Bearer ${opts.token}`, token: opts.token };

  const server = createServer((req, res) => {
    handleRequest(ctx, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, `{"error":${JSON.stringify(`ERR gateway: ${errorMessage(err)}`)}}`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = HTTP_KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HTTP_HEADERS_TIMEOUT_MS;
  server.requestTimeout = HTTP_REQUEST_TIMEOUT_MS;

  const host = opts.host ?? DEFAULT_HOST;
  await listen(server, opts.port ?? DEFAULT_PORT, host);
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        pool.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// RESP2 values, encoder and incremental parser
// ---------------------------------------------------------------------------------------------

/** A RESP simple string ("+OK"). */
export class RespStatus {
  constructor(readonly value: string) {}
}

/** A RESP error reply ("-ERR ..."). */
export class RespError {
  constructor(readonly message: string) {}
}

/** Bulk strings stay raw bytes (Buffer); integers are numbers unless beyond 2^53 (bigint). */
export type RespValue = Buffer | RespStatus | RespError | number | bigint | null | RespValue[];

export type RedisArg = string | Buffer;
export type RedisCommand = readonly RedisArg[];

const CR = 0x0d;
const CRLF = "\r\n";

/** Encodes commands as RESP arrays of bulk strings into one buffer (one socket write). */
export function encodeCommands(commands: readonly RedisCommand[]): Buffer {
  let size = 0;
  for (const cmd of commands) {
    size += 3 + String(cmd.length).length;
    for (const arg of cmd) {
      const len = typeof arg === "string" ? Buffer.byteLength(arg, "utf8") : arg.length;
      size += 5 + String(len).length + len;
    }
  }
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (const cmd of commands) {
    off += out.write(`*${cmd.length}${CRLF}`, off, "latin1");
    for (const arg of cmd) {
      if (typeof arg === "string") {
        off += out.write(`$${Buffer.byteLength(arg, "utf8")}${CRLF}`, off, "latin1");
        off += out.write(arg, off, "utf8");
      } else {
        off += out.write(`$${arg.length}${CRLF}`, off, "latin1");
        off += arg.copy(out, off);
      }
      off += out.write(CRLF, off, "latin1");
    }
  }
  return out;
}

interface ArrayFrame {
  items: RespValue[];
  remaining: number;
}

/**
 * Incremental RESP2 parser. Feed it socket chunks in order; it calls onReply once per complete
 * top-level reply. Partial state (open arrays, a pending bulk body) survives across chunks, so
 * nothing already parsed is parsed again, and a large bulk string is only concatenated once.
 */
export class RespParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Buffered bytes required before parsing can make progress again. */
  private neededBytes = 1;
  /** Length of a bulk string whose header was consumed but whose body has not arrived; -1 if none. */
  private bulkLength = -1;
  private readonly stack: ArrayFrame[] = [];

  constructor(private readonly onReply: (value: RespValue) => void) {}

  feed(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.neededBytes) return;
    const buf = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const consumed = this.parse(buf);
    if (consumed < buf.length) {
      const rest = buf.subarray(consumed);
      this.pending.push(rest);
      this.pendingBytes = rest.length;
    }
    this.neededBytes = this.bulkLength >= 0 ? this.bulkLength + 2 : this.pendingBytes + 1;
  }

  /** Parses as much of buf as possible; returns the number of bytes consumed. */
  private parse(buf: Buffer): number {
    const len = buf.length;
    let off = 0;
    for (;;) {
      let value: RespValue;
      if (this.bulkLength >= 0) {
        const end = off + this.bulkLength;
        if (end + 2 > len) return off;
        value = buf.subarray(off, end);
        off = end + 2;
        this.bulkLength = -1;
      } else {
        if (off >= len) return off;
        const cr = buf.indexOf(CR, off + 1);
        if (cr < 0 || cr + 1 >= len) return off;
        const type = buf[off];
        const lineStart = off + 1;
        off = cr + 2;
        switch (type) {
          case 0x2b: // '+'
            value = new RespStatus(buf.toString("utf8", lineStart, cr));
            break;
          case 0x2d: // '-'
            value = new RespError(buf.toString("utf8", lineStart, cr));
            break;
          case 0x3a: // ':'
            value = parseInteger(buf, lineStart, cr);
            break;
          case 0x24: {
            // '$'
            const n = parseLength(buf, lineStart, cr);
            if (n < 0) {
              value = null;
              break;
            }
            this.bulkLength = n;
            continue;
          }
          case 0x2a: {
            // '*'
            const n = parseLength(buf, lineStart, cr);
            if (n < 0) {
              value = null;
              break;
            }
            if (n === 0) {
              value = [];
              break;
            }
            this.stack.push({ items: [], remaining: n });
            continue;
          }
          default:
            throw new Error(`RESP protocol error: unexpected type byte 0x${(type ?? 0).toString(16)}`);
        }
      }
      // Hand the completed value to its enclosing array, closing every array it completes.
      for (;;) {
        const top = this.stack[this.stack.length - 1];
        if (top === undefined) {
          this.onReply(value);
          break;
        }
        top.items.push(value);
        if (--top.remaining > 0) break;
        this.stack.pop();
        value = top.items;
      }
    }
  }
}

function parseInteger(buf: Buffer, start: number, end: number): number | bigint {
  if (end - start > MAX_SAFE_INTEGER_DIGITS) {
    const text = buf.toString("latin1", start, end);
    if (!/^-?\d+$/.test(text)) throw new Error(`RESP protocol error: bad integer ${JSON.stringify(text)}`);
    const big = BigInt(text);
    const asNumber = Number(big);
    return Number.isSafeInteger(asNumber) ? asNumber : big;
  }
  let i = start;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  if (i >= end) throw new Error("RESP protocol error: empty integer");
  let n = 0;
  for (; i < end; i++) {
    const digit = (buf[i] ?? 0) - 0x30;
    if (digit < 0 || digit > 9) throw new Error("RESP protocol error: bad integer");
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

function parseLength(buf: Buffer, start: number, end: number): number {
  const n = parseInteger(buf, start, end);
  if (typeof n !== "number") throw new Error("RESP protocol error: length out of range");
  return n;
}

// ---------------------------------------------------------------------------------------------
// Redis connections and pool
// ---------------------------------------------------------------------------------------------

/** Redis could not be reached or the connection broke: the HTTP answer is 503. */
class RedisUnavailableError extends Error {
  override name = "RedisUnavailableError";
}

interface RedisEndpoint {
  host: string;
  port: number;
  username: string | null;
  password: string | null;
  db: number | null;
}

function parseRedisUrl(redisUrl: string): RedisEndpoint {
  const url = new URL(redisUrl);
  if (url.protocol !== "redis:") {
    throw new Error(`upstash-gateway: only redis:// URLs are supported (got ${url.protocol})`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1") || DEFAULT_HOST;
  const port = url.port ? Number(url.port) : DEFAULT_REDIS_PORT;
  const dbText = url.pathname.replace(/^\//, "");
  const db = dbText === "" ? null : Number(dbText);
  if (db !== null && !Number.isInteger(db)) throw new Error(`upstash-gateway: bad database in ${redisUrl}`);
  return {
    host,
    port,
    username: url.username ? decodeURIComponent(url.username) : null,
    password: url.password ? decodeURIComponent(url.password) : null,
    db,
  };
}

interface InFlight {
  expected: number;
  replies: RespValue[];
  resolve: (replies: RespValue[]) => void;
  reject: (err: Error) => void;
}

/** One persistent TCP connection; runs one batch of pipelined commands at a time. */
class RedisConnection {
  /** Called once when the connection dies (set by the pool after the handshake). */
  onClosed: (conn: RedisConnection) => void = () => {};
  private inFlight: InFlight | null = null;
  private closedReason: string | null = null;
  private readonly parser: RespParser;

  constructor(private readonly socket: Socket) {
    this.parser = new RespParser((value) => this.onReply(value));
    socket.on("data", (chunk: Buffer) => {
      try {
        this.parser.feed(chunk);
      } catch (err) {
        this.destroy(errorMessage(err));
      }
    });
    socket.on("error", (err: Error) => this.destroy(err.message));
    socket.on("close", () => this.destroy("connection closed"));
    socket.on("timeout", () => this.destroy(`no reply within ${COMMAND_TIMEOUT_MS} ms`));
  }

  get usable(): boolean {
    return this.closedReason === null;
  }

  /** Writes the encoded commands in one go and resolves with exactly `expected` replies. */
  exec(payload: Buffer, expected: number): Promise<RespValue[]> {
    if (this.closedReason !== null) return Promise.reject(new RedisUnavailableError(this.closedReason));
    if (this.inFlight !== null) return Promise.reject(new Error("internal: connection already busy"));
    return new Promise<RespValue[]>((resolve, reject) => {
      this.inFlight = { expected, replies: [], resolve, reject };
      this.socket.setTimeout(COMMAND_TIMEOUT_MS);
      this.socket.write(payload);
    });
  }

  destroy(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    this.socket.destroy();
    const inFlight = this.inFlight;
    this.inFlight = null;
    inFlight?.reject(new RedisUnavailableError(reason));
    this.onClosed(this);
  }

  private onReply(value: RespValue): void {
    const inFlight = this.inFlight;
    if (inFlight === null) {
      this.destroy("protocol error: unsolicited reply");
      return;
    }
    inFlight.replies.push(value);
    if (inFlight.replies.length === inFlight.expected) {
      this.inFlight = null;
      this.socket.setTimeout(0);
      inFlight.resolve(inFlight.replies);
    }
  }
}

/** Connects (with CONNECT_TIMEOUT_MS) and runs AUTH/SELECT if the URL asks for them. */
function openRedisConnection(endpoint: RedisEndpoint): Promise<RedisConnection> {
  return new Promise<RedisConnection>((resolve, reject) => {
    const socket = netConnect({ host: endpoint.host, port: endpoint.port });
    let settled = false;
    const fail = (reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(new RedisUnavailableError(reason));
    };
    const timer = setTimeout(() => fail(`connect timeout after ${CONNECT_TIMEOUT_MS} ms`), CONNECT_TIMEOUT_MS);
    const onError = (err: Error): void => fail(err.message);
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.off("error", onError);
      socket.setNoDelay(true);
      socket.setKeepAlive(true);
      const conn = new RedisConnection(socket);
      const handshake: RedisCommand[] = [];
      if (endpoint.password !== null) {
        handshake.push(endpoint.username !== null ? ["AUTH", endpoint.username, endpoint.password] : ["AUTH", endpoint.password]);
      }
      if (endpoint.db !== null) handshake.push(["SELECT", String(endpoint.db)]);
      if (handshake.length === 0) {
        settled = true;
        clearTimeout(timer);
        resolve(conn);
        return;
      }
      conn.exec(encodeCommands(handshake), handshake.length).then(
        (replies) => {
          const err = replies.find((r): r is RespError => r instanceof RespError);
          if (err) {
            conn.destroy("handshake failed");
            fail(`handshake failed: ${err.message}`);
            return;
          }
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(conn);
        },
        (err: unknown) => fail(errorMessage(err)),
      );
    });
  });
}

interface PoolWaiter {
  resolve: (conn: RedisConnection) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Up to MAX_POOL_CONNECTIONS persistent connections, created lazily. A connection is lent to one
 * request at a time, so a request's pipelined commands (and MULTI ... EXEC) are never interleaved
 * with another request's. Dead connections are dropped and replaced on the next request, which is
 * how the gateway recovers after a Redis restart.
 */
class RedisPool {
  private readonly idle: RedisConnection[] = [];
  private readonly waiters: PoolWaiter[] = [];
  /** Connections open or being opened. */
  private open = 0;
  private closed = false;

  constructor(private readonly endpoint: RedisEndpoint) {}

  /** Runs one batch of commands on one connection; resolves with one reply per command. */
  async run(commands: readonly RedisCommand[]): Promise<RespValue[]> {
    const payload = encodeCommands(commands);
    const conn = await this.acquire();
    try {
      return await conn.exec(payload, commands.length);
    } finally {
      this.release(conn);
    }
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new RedisUnavailableError("gateway is shutting down"));
    }
    for (const conn of this.idle.splice(0)) conn.destroy("gateway is shutting down");
  }

  private acquire(): Promise<RedisConnection> {
    if (this.closed) return Promise.reject(new RedisUnavailableError("gateway is shutting down"));
    const idle = this.idle.pop();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.open < MAX_POOL_CONNECTIONS) return this.createConnection();
    return new Promise<RedisConnection>((resolve, reject) => {
      const waiter: PoolWaiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new RedisUnavailableError(`no free connection within ${POOL_ACQUIRE_TIMEOUT_MS} ms`));
        }, POOL_ACQUIRE_TIMEOUT_MS),
      };
      this.waiters.push(waiter);
    });
  }

  private async createConnection(): Promise<RedisConnection> {
    this.open++;
    let conn: RedisConnection;
    try {
      conn = await openRedisConnection(this.endpoint);
    } catch (err) {
      this.open--;
      this.serveWaiters();
      throw err;
    }
    if (!conn.usable) {
      this.open--;
      this.serveWaiters();
      throw new RedisUnavailableError("connection closed");
    }
    conn.onClosed = (c) => this.onConnectionClosed(c);
    return conn;
  }

  private release(conn: RedisConnection): void {
    if (!conn.usable) return; // already accounted for in onConnectionClosed
    if (this.closed) {
      conn.destroy("gateway is shutting down");
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      clearTimeout(waiter.timer);
      waiter.resolve(conn);
      return;
    }
    this.idle.push(conn);
  }

  private onConnectionClosed(conn: RedisConnection): void {
    this.open--;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    this.serveWaiters();
  }

  private serveWaiters(): void {
    while (!this.closed && this.waiters.length > 0 && this.open < MAX_POOL_CONNECTIONS) {
      const waiter = this.waiters.shift();
      if (waiter === undefined) break;
      clearTimeout(waiter.timer);
      this.createConnection().then(waiter.resolve, waiter.reject);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP: Upstash REST protocol
// ---------------------------------------------------------------------------------------------

interface GatewayContext {
  pool: RedisPool;
  expectedAuth: string;
  token: string;
}

/** Answered as `status` with `{"error": message}`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const UNAUTHORIZED_BODY = `{"error":"Unauthorized"}`;

async function handleRequest(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const rawUrl = req.url ?? "/";
  const q = rawUrl.indexOf("?");
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = q < 0 ? null : new URLSearchParams(rawUrl.slice(q + 1));
  const method = req.method ?? "GET";

  try {
    if (path === "/health" && (method === "GET" || method === "HEAD")) {
      await handleHealth(ctx, res);
      return;
    }
    if (!ALLOWED_METHODS.has(method)) throw new HttpError(405, "Method Not Allowed");
    if (req.headers.authorization !== ctx.expectedAuth && query?.get("_token") !== ctx.token) {
      sendJson(res, 401, UNAUTHORIZED_BODY);
      return;
    }
    const base64 = isBase64Encoding(req.headers["upstash-encoding"]);
    const body = await readBody(req);

    if (path === "/pipeline") {
      const commands = parseCommandList(body);
      sendJson(res, 200, await runPipeline(ctx.pool, commands, base64));
    } else if (path === "/multi-exec") {
      const commands = parseCommandList(body);
      sendJson(res, 200, await runTransaction(ctx.pool, commands, base64));
    } else if (path === "/") {
      sendJson(res, 200, await runSingle(ctx.pool, parseCommand(parseJson(body)), base64));
    } else {
      sendJson(res, 200, await runSingle(ctx.pool, pathCommand(path, body, query), base64));
    }
  } catch (err) {
    if (err instanceof HttpError) {
      if (err.status === 413) res.setHeader("Connection", "close");
      sendJson(res, err.status, `{"error":${JSON.stringify(err.message)}}`);
    } else if (err instanceof RedisUnavailableError) {
      sendJson(res, 503, `{"error":${JSON.stringify(`Redis unavailable: ${err.message}`)}}`);
    } else {
      throw err;
    }
  }
}

async function handleHealth(ctx: GatewayContext, res: ServerResponse): Promise<void> {
  try {
    const [reply] = await ctx.pool.run([["PING"]]);
    if (reply instanceof RespStatus && reply.value === "PONG") {
      sendJson(res, 200, `{"ok":true}`);
      return;
    }
    const detail = reply instanceof RespError ? reply.message : "unexpected PING reply";
    sendJson(res, 503, `{"ok":false,"error":${JSON.stringify(`Redis unavailable: ${detail}`)}}`);
  } catch (err) {
    sendJson(res, 503, `{"ok":false,"error":${JSON.stringify(`Redis unavailable: ${errorMessage(err)}`)}}`);
  }
}

function isBase64Encoding(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && value.toLowerCase() === "base64";
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  const bytes = Buffer.from(body, "utf8");
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": bytes.length });
  res.end(bytes);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return Promise.reject(new HttpError(413, `ERR request body larger than ${MAX_BODY_BYTES} bytes`));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        chunks.length = 0;
        reject(new HttpError(413, `ERR request body larger than ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (failed) return;
      resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size));
    });
    req.on("error", (err: Error) => {
      if (failed) return;
      failed = true;
      reject(err);
    });
  });
}

// --- request parsing -------------------------------------------------------------------------

function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new HttpError(400, "ERR empty request body; expected a JSON command array");
  try {
    return JSON.parse(body.toString("utf8")) as unknown;
  } catch {
    throw new HttpError(400, "ERR failed to parse request body as JSON");
  }
}

/** A JSON command like ["SET","k","v",100]: strings, numbers and booleans become arguments. */
function parseCommand(value: unknown): RedisArg[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(400, "ERR command must be a non-empty JSON array");
  }
  const command: RedisArg[] = [];
  for (const item of value as unknown[]) {
    switch (typeof item) {
      case "string":
        command.push(item);
        break;
      case "number":
      case "boolean":
        command.push(String(item));
        break;
      default:
        throw new HttpError(400, "ERR command arguments must be strings, numbers or booleans");
    }
  }
  return command;
}

function parseCommandList(body: Buffer): RedisArg[][] {
  const value = parseJson(body);
  if (!Array.isArray(value)) throw new HttpError(400, "ERR body must be a JSON array of command arrays");
  if (value.length === 0) throw new HttpError(400, "ERR empty command list");
  return (value as unknown[]).map(parseCommand);
}

/** /set/foo/bar?EX=100 -> SET foo bar [POST body] EX 100. Segments are percent-decoded to bytes. */
function pathCommand(path: string, body: Buffer, query: URLSearchParams | null): RedisArg[] {
  const command: RedisArg[] = path.slice(1).split("/").map(percentDecode);
  const name = command[0];
  if (name === undefined || name.length === 0) throw new HttpError(400, "ERR missing command name");
  if (body.length > 0) command.push(body);
  if (query !== null) {
    for (const [key, value] of query) {
      if (key === "_token") continue;
      command.push(key);
      if (value !== "") command.push(value);
    }
  }
  return command;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

/** Percent-decodes to raw bytes (binary safe, never throws on invalid UTF-8 like decodeURIComponent). */
function percentDecode(segment: string): RedisArg {
  if (!segment.includes("%")) return segment;
  const raw = Buffer.from(segment, "utf8");
  const out = Buffer.allocUnsafe(raw.length);
  let o = 0;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i] ?? 0;
    if (byte === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw[i + 1] ?? 0);
      const lo = hexValue(raw[i + 2] ?? 0);
      if (hi >= 0 && lo >= 0) {
        out[o++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    out[o++] = byte;
  }
  return out.subarray(0, o);
}

function commandName(command: readonly RedisArg[]): string {
  const first = command[0];
  if (first === undefined) return "";
  return (typeof first === "string" ? first : first.toString("latin1")).toUpperCase();
}

/** Null when the command may run over the pool, else the error to answer with. */
function disallowedReason(command: readonly RedisArg[]): string | null {
  const name = commandName(command);
  const sub = command[1];
  const isClientReply =
    name === "CLIENT" && sub !== undefined && (typeof sub === "string" ? sub : sub.toString("latin1")).toUpperCase() === "REPLY";
  if (!CONNECTION_STATE_COMMANDS.has(name) && !isClientReply) return null;
  return name === "MULTI" || name === "EXEC"
    ? `ERR ${name} is not supported over REST; use the /multi-exec endpoint`
    : `ERR ${name}${isClientReply ? " REPLY" : ""} is not supported over REST`;
}

// --- execution -------------------------------------------------------------------------------

async function runSingle(pool: RedisPool, command: RedisArg[], base64: boolean): Promise<string> {
  const disallowed = disallowedReason(command);
  if (disallowed !== null) throw new HttpError(400, disallowed);
  const [reply] = await pool.run([command]);
  if (reply instanceof RespError) throw new HttpError(400, reply.message);
  return `{"result":${serializeResult(reply ?? null, base64)}}`;
}

async function runPipeline(pool: RedisPool, commands: RedisArg[][], base64: boolean): Promise<string> {
  const slots: (RespValue | undefined)[] = commands.map((cmd) => {
    const disallowed = disallowedReason(cmd);
    return disallowed === null ? undefined : new RespError(disallowed);
  });
  const toRun = commands.filter((_, i) => slots[i] === undefined);
  const replies = toRun.length > 0 ? await pool.run(toRun) : [];
  let next = 0;
  const parts = slots.map((slot) => {
    const reply = slot ?? replies[next++] ?? null;
    return reply instanceof RespError ? `{"error":${JSON.stringify(reply.message)}}` : `{"result":${serializeResult(reply, base64)}}`;
  });
  return `[${parts.join(",")}]`;
}

async function runTransaction(pool: RedisPool, commands: RedisArg[][], base64: boolean): Promise<string> {
  for (const cmd of commands) {
    const disallowed = disallowedReason(cmd);
    if (disallowed !== null) throw new HttpError(400, disallowed);
  }
  const replies = await pool.run([["MULTI"], ...commands, ["EXEC"]]);
  // Replies: MULTI's OK, one QUEUED (or queueing error) per command, then EXEC's result.
  for (let i = 0; i < replies.length - 1; i++) {
    const reply = replies[i];
    if (reply instanceof RespError) throw new HttpError(400, reply.message);
  }
  const execReply = replies[replies.length - 1];
  if (execReply instanceof RespError) throw new HttpError(400, execReply.message);
  if (!Array.isArray(execReply)) throw new HttpError(400, "ERR transaction aborted");
  const parts = execReply.map((reply) =>
    reply instanceof RespError ? `{"error":${JSON.stringify(reply.message)}}` : `{"result":${serializeResult(reply, base64)}}`,
  );
  return `[${parts.join(",")}]`;
}

// --- response encoding -----------------------------------------------------------------------

/**
 * JSON for one command result. With `Upstash-Encoding: base64` every string (bulk or status, at any
 * depth) is base64 of its raw bytes, except a top-level "+OK" status which Upstash sends as plain
 * "OK" (the client special-cases exactly that). Integers and nulls are never encoded.
 */
function serializeResult(value: RespValue, base64: boolean): string {
  if (base64 && value instanceof RespStatus && value.value === "OK") return `"OK"`;
  return serializeValue(value, base64);
}

function serializeValue(value: RespValue, base64: boolean): string {
  if (value === null) return "null";
  if (typeof value === "number") return String(value);
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      out += serializeValue(value[i] ?? null, base64);
    }
    return `${out}]`;
  }
  if (Buffer.isBuffer(value)) {
    return base64 ? `"${value.toString("base64")}"` : JSON.stringify(value.toString("utf8"));
  }
  const text = value instanceof RespStatus ? value.value : value.message;
  return base64 ? `"${Buffer.from(text, "utf8").toString("base64")}"` : JSON.stringify(text);
}

// ---------------------------------------------------------------------------------------------
// CLI: tsx dev/upstash-gateway.ts --port 8079 --token X --redis redis://127.0.0.1:6379
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      host: { type: "string" },
      token: { type: "string" },
      redis: { type: "string" },
    },
    strict: true,
  });
  const token = values.token ?? process.env.UPSTASH_REDIS_REST_TOKEN;
  if (!token)
    throw new UsageError(
      "usage: tsx dev/upstash-gateway.ts --token TOKEN [--port 8079] [--host 127.0.0.1] [--redis redis://127.0.0.1:6379]",
    );
  const port = values.port !== undefined ? Number(values.port) : DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0) throw new UsageError(`bad --port ${values.port ?? ""}`);
  const redisUrl = values.redis ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  const gateway = await startUpstashGateway({ token, port, redisUrl, host: values.host ?? DEFAULT_HOST });
  // stdout carries only the URL so scripts can read it; details go to stderr.
  console.log(gateway.url);
  console.error(`upstash-gateway: ${gateway.url} -> ${redisUrl}`);
  closeOnSignal("upstash-gateway", gateway);
}

runIfMain("upstash-gateway", import.meta.url, main);
