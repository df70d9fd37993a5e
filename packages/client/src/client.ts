// FeatureStoreClient: typed calls of the serving and ingest Workers with timeouts, retries and optional hedging.

import type { EventEnvelope } from "../../../src/core/event-types";
import type {
  FeastOnlineRequest,
  FeastOnlineResponse,
  FeatureErrorResult,
  FeatureRequest,
  FeatureResponse,
} from "../../../src/core/feature-request";
import type { FeatureUpdate, PushResult } from "../../../src/core/ingest-message";
import { errorFrom, FeatureStoreClientError } from "./errors";
import { DEFAULT_RETRIES, RETRYABLE_STATUSES, type RetryOptions, retryDelayMs, sleep } from "./retry";
import { WriteSession } from "./write-session";

/** A recommendation builds a training set of up to 10,000 rows per candidate: seconds, not milliseconds. */
export const RECOMMEND_TIMEOUT_MS = 60_000;

export interface RelatedFeaturesResponse {
  registry_version: string;
  feature: string;
  count: number;
  related: { name: string; group: string; score: number; reasons: string[] }[];
}

export interface RecommendFeaturesRequest {
  /** Rows with entity_id (or join-key columns such as user_id), event_timestamp and the label column. */
  spine: Record<string, unknown>[];
  /** The label column (default label). */
  label?: string;
  /** Feature groups or feature references (default every feature of the spine's entity types). */
  candidates?: string[];
}

export interface RecommendFeaturesResponse {
  registry_version: string;
  label: string;
  rows: number;
  binary: boolean;
  positive_label?: unknown;
  label_entropy: number;
  estimators: Record<string, string>;
  ranking: {
    feature: string;
    mutual_information: number;
    auc?: number;
    auc_direction?: "higher" | "lower";
    coverage: number;
    leakage: boolean;
    warnings: string[];
  }[];
  skipped: { feature: string; reason: string }[];
}

/** Something that answers fetch: the global fetch, or a Worker's service binding (no network hop). */
export interface Fetcher {
  fetch(input: string, init?: RequestInit): Promise<Response>;
}

export interface ClientOptions {
  /** Base URL of the serving Worker, e.g. https://features.example.com (with a service binding, any origin). */
  url: string;
  /** Base URL of the ingest Worker for `push`; defaults to `url`. */
  ingestUrl?: string;
  /** The Bearer API key. */
  apiKey: string;
  /** Per-attempt timeout in ms (default 2,000). */
  timeoutMs?: number;
  retry?: RetryOptions;
  /**
   * Reads only: when an attempt has not answered after this many ms, send a second one and take
   * whichever answers first (off by default; reads are idempotent, writes are never hedged).
   */
  hedgeAfterMs?: number;
  /** The transport (default: globalThis.fetch); pass `env.FEATURE_SERVING` for Worker-to-Worker calls. */
  fetcher?: Fetcher;
  /**
   * Read-your-writes: remember the write tokens of this client's pushes and send the matching one
   * (`min_write_token`) with every read of those entities, so a read never sees a value older than
   * this client's own write. Off by default.
   */
  readYourWrites?: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export const DEFAULT_TIMEOUT_MS = 2_000;
/** Per-attempt timeout of a read with a write token: the server may wait up to 5 s for the write (WRITE_WAIT_MS). */
export const WRITE_TOKEN_TIMEOUT_MS = 6_000;

export class FeatureStoreClient {
  private readonly fetcher: Fetcher;
  private readonly session: WriteSession | undefined;

  constructor(private readonly opts: ClientOptions) {
    this.fetcher = opts.fetcher ?? { fetch: (input, init) => globalThis.fetch(input, init) };
    this.session = opts.readYourWrites ? new WriteSession() : undefined;
  }

  /** One entity's feature vector (POST /features/get). */
  get(request: FeatureRequest, call?: CallOptions): Promise<FeatureResponse> {
    const withToken = this.withWriteToken(request);
    return this.request("/features/get", withToken, { idempotent: true, ...this.tokenTimeout(withToken), ...call });
  }

  /** Many vectors in one pass (POST /features/batch): one item per request, a vector or `{entity_id, error}`. */
  getBatch(requests: FeatureRequest[], call?: CallOptions): Promise<(FeatureResponse | FeatureErrorResult)[]> {
    const withTokens = requests.map((r) => this.withWriteToken(r));
    const timeout = withTokens.some((r) => r.min_write_token) ? { timeoutMs: WRITE_TOKEN_TIMEOUT_MS } : {};
    return this.request("/features/batch", { requests: withTokens }, { idempotent: true, ...timeout, ...call });
  }

  private withWriteToken(request: FeatureRequest): FeatureRequest {
    if (!this.session || request.min_write_token !== undefined) return request;
    const tokens = this.session.tokensFor(request);
    return tokens ? { ...request, min_write_token: tokens.length === 1 ? tokens[0]! : tokens } : request;
  }

  private tokenTimeout(request: FeatureRequest): { timeoutMs?: number } {
    return request.min_write_token ? { timeoutMs: Math.max(this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, WRITE_TOKEN_TIMEOUT_MS) } : {};
  }

  /** Feast's column-oriented read (POST /get-online-features). */
  getOnlineFeatures(request: FeastOnlineRequest, call?: CallOptions): Promise<FeastOnlineResponse> {
    return this.request("/get-online-features", request, { idempotent: true, ...call });
  }

  /**
   * Queue updates (POST /ingest/push on the ingest Worker). Retried like reads: a replayed push
   * writes nothing new (the consumer's writes are idempotent by value and event time).
   */
  async push(updates: FeatureUpdate | FeatureUpdate[], call?: CallOptions): Promise<PushResult> {
    const result = await this.request<PushResult>("/ingest/push", updates, {
      base: this.opts.ingestUrl ?? this.opts.url,
      idempotent: true,
      hedge: false,
      ...call,
    });
    this.session?.remember(
      (Array.isArray(updates) ? updates : [updates]).map((u) => u.entity_id),
      result.write_token,
    );
    return result;
  }

  /** Raw events (POST /ingest/events on the ingest Worker): one or up to 5,000, folded into aggregation features. */
  pushEvents(events: EventEnvelope | EventEnvelope[], call?: CallOptions): Promise<unknown> {
    return this.request("/ingest/events", events, { base: this.opts.ingestUrl ?? this.opts.url, idempotent: true, hedge: false, ...call });
  }

  /** Feature services (GET /registry/feature-services): the named feature lists models read. */
  listFeatureServices(call?: CallOptions): Promise<unknown> {
    return this.request("/registry/feature-services", undefined, { method: "GET", idempotent: true, ...call });
  }

  /** Feature definitions, optionally filtered (GET /registry/features). */
  listFeatures(
    filter: { q?: string; tag?: string; owner?: string; entity_type?: string; group?: string } = {},
    call?: CallOptions,
  ): Promise<unknown> {
    const query = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => e[1] !== undefined)).toString();
    return this.request(`/registry/features${query ? `?${query}` : ""}`, undefined, { method: "GET", idempotent: true, ...call });
  }

  /** Features related to one by lineage, event source, feature-service co-use and tags (GET /registry/features/{name}/related). */
  relatedFeatures(name: string, options: { limit?: number } = {}, call?: CallOptions): Promise<RelatedFeaturesResponse> {
    const query = options.limit === undefined ? "" : `?limit=${options.limit}`;
    return this.request(`/registry/features/${encodeURIComponent(name)}/related${query}`, undefined, {
      method: "GET",
      idempotent: true,
      ...call,
    });
  }

  /**
   * Candidate features ranked by predictive power for a labelled spine (POST /recommendations/features,
   * admin scope). Not retried: it builds a training set in Postgres, which a retry would build again.
   */
  recommendFeatures(body: RecommendFeaturesRequest, call?: CallOptions): Promise<RecommendFeaturesResponse> {
    return this.request("/recommendations/features", body, { idempotent: false, hedge: false, timeoutMs: RECOMMEND_TIMEOUT_MS, ...call });
  }

  /** A training set as a stream of CSV or JSONL (POST /datasets/training, admin scope). */
  async trainingDataset(body: Record<string, unknown>, call?: CallOptions): Promise<ReadableStream<Uint8Array>> {
    const res = await this.send(
      `${this.opts.url}/datasets/training`,
      { method: "POST", body: JSON.stringify(body) },
      { idempotent: false, hedge: false, ...call },
    );
    if (!res.body) throw new FeatureStoreClientError(res.status, "empty_body", "The training set answer had no body");
    return res.body;
  }

  private async request<T>(
    path: string,
    body: unknown,
    o: CallOptions & { method?: string; base?: string; idempotent: boolean; hedge?: boolean; timeoutMs?: number },
  ): Promise<T> {
    const init: RequestInit = { method: o.method ?? "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }) };
    const res = await this.send(`${o.base ?? this.opts.url}${path}`, init, o);
    return (await res.json()) as T;
  }

  /** Attempts with retries (and hedging for reads); resolves with the first ok response, rejects with our error. */
  private async send(
    url: string,
    init: RequestInit,
    o: CallOptions & { idempotent: boolean; hedge?: boolean; timeoutMs?: number },
  ): Promise<Response> {
    const retries = o.idempotent ? (this.opts.retry?.retries ?? DEFAULT_RETRIES) : 0;
    for (let attempt = 0; ; attempt++) {
      let retryAfter: string | null = null;
      let failure: FeatureStoreClientError;
      try {
        const res = await this.attemptMaybeHedged(url, init, o);
        if (res.ok) return res;
        failure = await errorFrom(res);
        retryAfter = res.headers.get("retry-after");
        if (!RETRYABLE_STATUSES.has(res.status)) throw failure;
      } catch (err) {
        if (err instanceof FeatureStoreClientError && !(err.status === 0 || RETRYABLE_STATUSES.has(err.status))) throw err;
        if (o.signal?.aborted) throw o.signal.reason;
        failure = err instanceof FeatureStoreClientError ? err : new FeatureStoreClientError(0, "network", String(err));
      }
      if (attempt >= retries) throw failure;
      await sleep(retryDelayMs(attempt + 1, retryAfter, this.opts.retry), o.signal);
    }
  }

  private attemptMaybeHedged(url: string, init: RequestInit, o: CallOptions & { hedge?: boolean; timeoutMs?: number }): Promise<Response> {
    const hedgeAfter = this.opts.hedgeAfterMs;
    if (hedgeAfter === undefined || o.hedge === false) return this.attempt(url, init, o.signal, o.timeoutMs);
    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      let failures = 0;
      let started = 1;
      const done = (res: Response) => {
        if (!settled) {
          settled = true;
          resolve(res);
        }
      };
      const fail = (err: unknown) => {
        failures++;
        if (!settled && failures === started) {
          settled = true;
          reject(err);
        }
      };
      this.attempt(url, init, o.signal, o.timeoutMs).then(done, fail);
      setTimeout(() => {
        if (settled) return;
        started++;
        this.attempt(url, init, o.signal, o.timeoutMs).then(done, fail);
      }, hedgeAfter);
    });
  }

  /** One HTTP attempt under the per-attempt timeout; the caller's signal aborts it too. */
  private async attempt(url: string, init: RequestInit, signal?: AbortSignal, timeoutOverride?: number): Promise<Response> {
    const timeoutMs = timeoutOverride ?? this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      return await this.fetcher.fetch(url, {
        ...init,
        headers: { authorization: `Bearer ${this.opts.apiKey}`, "content-type": "application/json" },
        signal: combined,
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new FeatureStoreClientError(0, "timeout", `No answer from ${url} within ${timeoutMs} ms`);
      throw new FeatureStoreClientError(0, "network", err instanceof Error ? err.message : String(err));
    }
  }
}
