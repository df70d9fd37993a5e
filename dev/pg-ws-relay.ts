// Local stand-in for Neon's wsproxy: relays Postgres wire-protocol bytes between WebSocket clients (the Neon driver) and TCP Postgres.
//
// Behaviour mirrors github.com/neondatabase/wsproxy closely enough for @neondatabase/serverless:
//  - the driver opens `ws://<wsProxy(host, port)>`, e.g. `ws://127.0.0.1:8790/v2?address=127.0.0.1:5432`;
//    any path is accepted (Neon uses /v1 and /v2), only the `address` query parameter matters;
//  - each WebSocket binary message is written verbatim to the TCP socket and each TCP chunk is sent as one
//    binary message (no framing of Postgres messages is needed: the driver re-assembles the byte stream);
//  - the target is checked before the upgrade: malformed address → HTTP 400, host not on the allow-list → 403
//    (wsproxy answers 400 for both, from its ALLOW_ADDR_REGEX); unlike wsproxy we also dial TCP *before*
//    completing the upgrade, so an unreachable target is a clear HTTP 502 instead of a WebSocket that opens
//    and immediately closes;
//  - when either side closes or errors, the other is closed too;
//  - one addition: after the client's Terminate message the TCP side is half-closed, because the Neon driver
//    never closes its WebSocket itself (see PgClientStreamTracker) and PGlite does not hang up on Terminate.
//
// Use with:
//   neonConfig.wsProxy = (host, port) => `127.0.0.1:${RELAY_PORT}/v2?address=${host}:${port}`;
//   neonConfig.useSecureWebSocket = false; neonConfig.pipelineTLS = false; neonConfig.pipelineConnect = false;
//
// Run directly: `tsx dev/pg-ws-relay.ts --port 8790 [--host 127.0.0.1] [--allow host1,host2]`.

import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect, isIP, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { log } from "../src/core/log";
import { closeOnSignal, runIfMain, UsageError } from "../tools/cli";

/** Give up dialling Postgres after this long; keeps a client from hanging on a black-holed target. */
export const TCP_CONNECT_TIMEOUT_MS = 5_000;
/** Pause reading from Postgres while this many bytes are queued towards the WebSocket (backpressure for big results). */
const WS_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** Largest single WebSocket message accepted from a client; Postgres messages are capped at 1 GiB anyway. */
const WS_MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;
/** Time allowed for graceful WebSocket close handshakes during shutdown before sockets are destroyed. */
const SHUTDOWN_GRACE_MS = 1_000;
/** Close codes (RFC 6455 §7.4.1). */
const WS_CLOSE_NORMAL = 1000;
const WS_CLOSE_INTERNAL_ERROR = 1011;
const WS_CLOSE_GOING_AWAY = 1001;
/** Close reasons must fit in a 125-byte control frame together with the 2-byte code. */
const WS_CLOSE_REASON_MAX_BYTES = 123;

export const DEFAULT_ALLOWED_HOSTS: readonly string[] = ["127.0.0.1", "localhost", "::1"];
export const DEFAULT_RELAY_PORT = 8790;

export interface PgWsRelay {
  port: number;
  /** Base URL of the relay, e.g. `ws://127.0.0.1:8790`; the driver appends `/v2?address=host:port` via wsProxy. */
  url: string;
  /** WebSocket↔TCP pairs currently relayed (diagnostics and tests). */
  activeConnections(): number;
  close(): Promise<void>;
}

export interface PgWsRelayOptions {
  /** Interface to listen on (default 127.0.0.1 — this is a dev tool, never expose it). */
  host?: string;
  /** Port to listen on; 0 picks a random free port (default 0). */
  port?: number;
  /** Target hosts clients may reach (default 127.0.0.1/localhost/::1). Compared case-insensitively. */
  allowedHosts?: string[];
  /** Called with human-readable diagnostics (refusals, connect failures). Default: silent. */
  log?: (message: string) => void;
}

interface TargetAddress {
  host: string;
  port: number;
}

/** Parses `host:port` or `[v6]:port` from the `address` query parameter; null when malformed. */
export function parseTargetAddress(requestUrl: string | undefined): TargetAddress | null {
  if (requestUrl === undefined) return null;
  let address: string | null;
  try {
    // Base is only needed so URL can parse a path-only request target.
    address = new URL(requestUrl, "http://relay.invalid").searchParams.get("address");
  } catch (err) {
    // A request target URL cannot parse is just a malformed request; the caller answers 400.
    if (err instanceof TypeError) return null;
    throw err;
  }
  if (address === null || address === "") return null;
  const sep = address.lastIndexOf(":");
  if (sep <= 0 || sep === address.length - 1) return null;
  let host = address.slice(0, sep);
  const portText = address.slice(sep + 1);
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65_535) return null;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  // An unbracketed host containing ':' is an ambiguous IPv6 literal; demand brackets like URLs do.
  else if (host.includes(":")) return null;
  if (host.includes(":") && isIP(host) !== 6) return null;
  return { host, port };
}

/** Writes a minimal HTTP error response on a not-yet-upgraded socket and closes it. */
function rejectUpgrade(socket: Duplex, status: number, statusText: string, body: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // Destroy only once the response is flushed; destroying right after end() can discard it.
  socket.once("finish", () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Dials the target, settling on connect, error or timeout (whichever is first). */
function dialTarget(target: TargetAddress): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const tcp = connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      tcp.destroy();
      reject(new Error(`timed out after ${TCP_CONNECT_TIMEOUT_MS} ms connecting to ${target.host}:${target.port}`));
    }, TCP_CONNECT_TIMEOUT_MS);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    tcp.once("error", onError);
    tcp.once("connect", () => {
      clearTimeout(timer);
      tcp.off("error", onError);
      // Postgres round-trips are many tiny messages; Nagle would add ~40 ms stalls.
      tcp.setNoDelay(true);
      tcp.setKeepAlive(true);
      resolve(tcp);
    });
  });
}

/** Protocol codes carried in untyped (startup-phase) messages. */
const PG_SSL_REQUEST_CODE = 80_877_103;
const PG_GSSENC_REQUEST_CODE = 80_877_104;
const PG_CANCEL_REQUEST_CODE = 80_877_102;
/** Startup-phase header: int32 length + int32 code; typed-phase header: 1 type byte + int32 length. */
const PG_STARTUP_HEADER_BYTES = 8;
const PG_TYPED_HEADER_BYTES = 5;
const PG_TERMINATE_TYPE = 0x58; // 'X'
const PG_SSL_REFUSED = 0x4e; // 'N'

type TrackerState = "startup" | "negotiating" | "typed" | "opaque";

/**
 * Follows message boundaries of the client→server byte stream just far enough to spot a Terminate ('X').
 *
 * Why: node-postgres (bundled in the Neon driver) ends a connection with `stream.write(terminate, cb)`, but the
 * driver's WebSocket-backed Socket takes the second argument as the encoding and never calls `cb`, so it never
 * closes the WebSocket itself; it relies on the server hanging up after Terminate. Real Postgres does; PGlite's
 * socket server does not, so `client.end()` would hang forever. After forwarding a Terminate the relay half-closes
 * the TCP side — exactly what node-postgres does over plain TCP — so every backend hangs up.
 * Only headers are inspected; once the stream is encrypted (SSL/GSS accepted) or malformed, tracking stops.
 */
export class PgClientStreamTracker {
  private state: TrackerState = "startup";
  private readonly header = Buffer.alloc(PG_STARTUP_HEADER_BYTES);
  private headerLen = 0;
  private skip = 0;

  /** Feeds client→server bytes; returns true when they complete a Terminate message. */
  feed(chunk: Uint8Array): boolean {
    let off = 0;
    while (off < chunk.length) {
      if (this.state === "opaque") return false;
      if (this.state === "negotiating") {
        // Bytes before the server's SSL/GSS answer mean pipelined TLS: the stream is no longer readable to us.
        this.state = "opaque";
        return false;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        this.skip -= n;
        off += n;
        continue;
      }
      const need = this.state === "startup" ? PG_STARTUP_HEADER_BYTES : PG_TYPED_HEADER_BYTES;
      const n = Math.min(need - this.headerLen, chunk.length - off);
      this.header.set(chunk.subarray(off, off + n), this.headerLen);
      this.headerLen += n;
      off += n;
      if (this.headerLen < need) break;
      this.headerLen = 0;
      if (this.state === "startup") {
        const len = this.header.readInt32BE(0);
        const code = this.header.readInt32BE(4);
        if (len < PG_STARTUP_HEADER_BYTES) {
          this.state = "opaque";
        } else if (code === PG_SSL_REQUEST_CODE || code === PG_GSSENC_REQUEST_CODE) {
          this.state = "negotiating";
        } else if (code === PG_CANCEL_REQUEST_CODE) {
          this.state = "opaque"; // the backend closes the connection after a cancel request
        } else {
          this.skip = len - PG_STARTUP_HEADER_BYTES;
          this.state = "typed";
        }
      } else {
        const type = this.header[0];
        const len = this.header.readInt32BE(1);
        if (len < 4) {
          this.state = "opaque";
        } else if (type === PG_TERMINATE_TYPE && len === 4) {
          this.state = "opaque"; // nothing legitimately follows a Terminate
          return true;
        } else {
          this.skip = len - 4;
        }
      }
    }
    return false;
  }

  /** Feeds server→client bytes; only the single-byte SSL/GSS answer matters. */
  serverData(chunk: Uint8Array): void {
    if (this.state !== "negotiating" || chunk.length === 0) return;
    // 'N' = refused, plaintext startup follows; anything else (TLS/GSS or an error) makes the stream opaque.
    this.state = chunk[0] === PG_SSL_REFUSED && chunk.length === 1 ? "startup" : "opaque";
  }
}

function truncateReason(reason: string): string {
  const buf = Buffer.from(reason);
  return buf.byteLength <= WS_CLOSE_REASON_MAX_BYTES ? reason : buf.subarray(0, WS_CLOSE_REASON_MAX_BYTES).toString();
}

function rawDataToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Pipes bytes both ways and ties the lifetimes of the two sockets together. */
function bridge(ws: WebSocket, tcp: Socket, onDone: () => void): void {
  let finished = false;
  const finish = (code: number, reason: string): void => {
    if (finished) return;
    finished = true;
    tcp.destroy();
    if (ws.readyState === WebSocket.OPEN) ws.close(code, truncateReason(reason));
    else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    onDone();
  };

  const tracker = new PgClientStreamTracker();

  tcp.on("data", (chunk: Buffer) => {
    tracker.serverData(chunk);
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(chunk, { binary: true }, (err) => {
      if (err) finish(WS_CLOSE_INTERNAL_ERROR, `websocket send failed: ${err.message}`);
      else if (tcp.isPaused() && ws.bufferedAmount < WS_HIGH_WATER_BYTES) tcp.resume();
    });
    // Large result sets: stop reading from Postgres until the WebSocket drains.
    if (ws.bufferedAmount >= WS_HIGH_WATER_BYTES) tcp.pause();
  });
  tcp.on("end", () => finish(WS_CLOSE_NORMAL, "TCP connection is closed"));
  tcp.on("close", () => finish(WS_CLOSE_NORMAL, "TCP connection is closed"));
  tcp.on("error", (err) => finish(WS_CLOSE_INTERNAL_ERROR, `TCP error: ${err.message}`));
  tcp.on("drain", () => ws.resume());

  ws.on("message", (data) => {
    if (tcp.destroyed || tcp.writableEnded) return;
    const buf = rawDataToBuffer(data);
    // Backpressure towards Postgres: stop reading WebSocket frames until the TCP socket drains.
    if (!tcp.write(buf)) ws.pause();
    // Half-close after Terminate so the backend hangs up (see PgClientStreamTracker); its FIN then closes the WebSocket.
    if (tracker.feed(buf)) tcp.end();
  });
  ws.on("close", () => finish(WS_CLOSE_NORMAL, "WebSocket closed"));
  ws.on("error", (err) => finish(WS_CLOSE_INTERNAL_ERROR, `WebSocket error: ${err.message}`));
}

export async function startPgWsRelay(opts: PgWsRelayOptions = {}): Promise<PgWsRelay> {
  const listenHost = opts.host ?? "127.0.0.1";
  const allowed = new Set((opts.allowedHosts ?? DEFAULT_ALLOWED_HOSTS).map((h) => h.toLowerCase()));
  const report = opts.log ?? ((): void => undefined);

  // Every live upgraded pair, so close() can tear them down (http.Server.close() ignores upgraded sockets).
  const active = new Set<{ ws: WebSocket; tcp: Socket }>();
  // Sockets in the middle of the pre-upgrade TCP dial; also destroyed by close().
  const pending = new Set<Duplex>();

  const wss = new WebSocketServer({
    noServer: true,
    // Compression costs CPU per frame for no gain on a loopback link of mostly tiny messages.
    perMessageDeflate: false,
    maxPayload: WS_MAX_PAYLOAD_BYTES,
  });

  const server: Server = createServer((_req, res) => {
    res.writeHead(426, { "Content-Type": "text/plain; charset=utf-8", Upgrade: "websocket" });
    res.end("pg-ws-relay: WebSocket upgrade required (GET /v2?address=host:port)\n");
  });

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = parseTargetAddress(req.url);
    if (target === null) {
      report(`refused ${req.url ?? ""}: missing or malformed address=host:port`);
      rejectUpgrade(socket, 400, "Bad Request", "missing or malformed address=host:port query parameter\n");
      return;
    }
    if (!allowed.has(target.host.toLowerCase())) {
      report(`refused target ${target.host}:${target.port}: host not on allow-list`);
      rejectUpgrade(socket, 403, "Forbidden", `proxying to ${target.host}:${target.port} is not allowed\n`);
      return;
    }

    pending.add(socket);
    // If the client gives up while we are dialling, there is nobody to upgrade.
    const onEarlyError = (err: Error): void => report(`client socket error before upgrade: ${err.message}`);
    socket.on("error", onEarlyError);

    dialTarget(target).then(
      (tcp) => {
        pending.delete(socket);
        socket.off("error", onEarlyError);
        if (socket.destroyed) {
          tcp.destroy();
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          const pair = { ws, tcp };
          active.add(pair);
          bridge(ws, tcp, () => active.delete(pair));
        });
      },
      (err: unknown) => {
        pending.delete(socket);
        socket.off("error", onEarlyError);
        const message = err instanceof Error ? err.message : String(err);
        report(`cannot reach ${target.host}:${target.port}: ${message}`);
        rejectUpgrade(socket, 502, "Bad Gateway", `cannot connect to ${target.host}:${target.port}: ${message}\n`);
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(err.code === "EADDRINUSE" ? new Error(`pg-ws-relay: port ${opts.port ?? 0} on ${listenHost} is already in use`) : err);
    };
    server.once("error", onError);
    server.listen(opts.port ?? 0, listenHost, () => {
      server.off("error", onError);
      resolve();
    });
  });

  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("pg-ws-relay: expected a TCP listen address");
  const port = address.port;
  const urlHost = isIP(listenHost) === 6 ? `[${listenHost}]` : listenHost;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of pending) socket.destroy();
      pending.clear();
      for (const { ws, tcp } of active) {
        tcp.destroy();
        ws.close(WS_CLOSE_GOING_AWAY, "relay shutting down");
      }
      // Give close handshakes a moment, then hard-kill whatever is left so close() always settles.
      const grace = setTimeout(() => {
        for (const { ws } of active) ws.terminate();
        server.closeAllConnections();
      }, SHUTDOWN_GRACE_MS);
      grace.unref();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeIdleConnections();
      await serverClosed;
      clearTimeout(grace);
    })();
    return closing;
  };

  return { port, url: `ws://${urlHost}:${port}`, activeConnections: () => active.size, close };
}

function parseCliArgs(argv: readonly string[]): PgWsRelayOptions {
  const opts: PgWsRelayOptions = { port: DEFAULT_RELAY_PORT };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if ((arg === "--port" || arg === "--host" || arg === "--allow") && value === undefined) {
      throw new UsageError(`${arg} needs a value`);
    }
    if (arg === "--port") {
      opts.port = Number(value);
      if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535) throw new UsageError(`invalid --port ${value}`);
      i++;
    } else if (arg === "--host") {
      opts.host = value;
      i++;
    } else if (arg === "--allow") {
      opts.allowedHosts = (value ?? "")
        .split(",")
        .map((h) => h.trim())
        .filter((h) => h !== "");
      i++;
    } else {
      throw new UsageError(`unknown argument ${arg ?? ""} (usage: --port N --host H --allow h1,h2)`);
    }
  }
  return opts;
}

async function main(): Promise<void> {
  const opts = parseCliArgs(process.argv.slice(2));
  const relay = await startPgWsRelay({ ...opts, log: (message) => log("warn", "pg_ws_relay", { message }) });
  const hosts = (opts.allowedHosts ?? DEFAULT_ALLOWED_HOSTS).join(", ");
  console.log(`[pg-ws-relay] listening on ${relay.url} (targets allowed: ${hosts})`);
  console.log(`[pg-ws-relay] neonConfig.wsProxy = (h, p) => \`127.0.0.1:${relay.port}/v2?address=\${h}:\${p}\``);
  closeOnSignal("pg-ws-relay", relay);
}

runIfMain("pg-ws-relay", import.meta.url, main);
