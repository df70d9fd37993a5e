// Load-generator HTTP client: node:http with keep-alive sockets, latency taken with process.hrtime.
// The same client measures the bare Hono baseline and every serving scenario.
import http from "node:http";

export interface HttpResult {
  status: number;
  body: Buffer;
  /** Milliseconds from `startedAt` (default: just before the request is written) to the last body byte. */
  ms: number;
}

/** A request that takes longer than this is aborted and counted as an error. */
export const REQUEST_TIMEOUT_MS = 30_000;

export function nowNs(): bigint {
  return process.hrtime.bigint();
}

export function msSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e6;
}

export class HttpClient {
  readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    baseUrl: string,
    private readonly headers: Record<string, string> = {},
    maxSockets = 64,
  ) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: "lifo" });
  }

  post(path: string, body: unknown, startedAt?: bigint): Promise<HttpResult> {
    return this.request("POST", path, Buffer.from(typeof body === "string" ? body : JSON.stringify(body)), startedAt);
  }

  get(path: string): Promise<HttpResult> {
    return this.request("GET", path, undefined);
  }

  request(method: string, path: string, payload: Buffer | undefined, startedAt?: bigint): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const t0 = startedAt ?? nowNs();
      const req = http.request(
        {
          agent: this.agent,
          host: this.host,
          port: this.port,
          method,
          path,
          headers: {
            ...this.headers,
            ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
          },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), ms: msSince(t0) }),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
