// The registry as a Worker sees it: the KV snapshot compiled in memory, re-checked every few seconds.

import { REGISTRY_SNAPSHOT_KEY, REGISTRY_VERSION_KEY } from "../core/keys";
import { log } from "../core/log";
import { CompiledRegistry, RegistrySnapshot } from "../core/registry";
import { latestRegistrySnapshot, type PostgresConfig } from "../db/postgres";
import { awaitShared } from "./shared-promise";

/**
 * How often an isolate re-reads the (tiny) version key. A new apply is served by every isolate
 * within this bound plus KV propagation (immediate locally; up to ~60 s across Cloudflare's edge).
 */
export const REGISTRY_REFRESH_MS = 5_000;
/** With no registry loaded yet, a request waits this long for another request's refresh, then refreshes itself. */
export const REGISTRY_JOIN_TIMEOUT_MS = 3_000;

export class RegistryStore {
  private current: CompiledRegistry | undefined;
  private checkedAt = 0;
  private inflight: Promise<CompiledRegistry> | undefined;

  constructor(
    private readonly kv: KVNamespace | undefined,
    /** Used when KV holds no snapshot yet (e.g. a fresh namespace): the latest applied version in Postgres. */
    private readonly fallback?: () => Promise<RegistrySnapshot | undefined>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The compiled registry; refreshes at most every REGISTRY_REFRESH_MS, one refresh at a time. */
  async get(): Promise<CompiledRegistry> {
    if (this.current && this.now() - this.checkedAt < REGISTRY_REFRESH_MS) return this.current;
    if (this.inflight) {
      // Another request is refreshing. Waiting on its KV read made concurrent requests fail in workerd
      // ("Cannot perform I/O on behalf of a different request", or cancelled as hung: ~90 answers 500
      // per 170,000 at 64 in flight, one burst per refresh); serve the registry we have instead, and
      // only with none yet wait, with a timer of our own, before refreshing ourselves.
      if (this.current) return this.current;
      const shared = await awaitShared(this.inflight, REGISTRY_JOIN_TIMEOUT_MS);
      if (shared) return shared;
    }
    const refresh: Promise<CompiledRegistry> = this.refresh().finally(() => {
      if (this.inflight === refresh) this.inflight = undefined;
    });
    this.inflight = refresh;
    return refresh;
  }

  /** The last loaded version without triggering I/O (for /health). */
  peekVersion(): string | null {
    return this.current?.version ?? null;
  }

  private async refresh(): Promise<CompiledRegistry> {
    try {
      const version = this.kv ? await this.kv.get(REGISTRY_VERSION_KEY) : null;
      if (version && version === this.current?.version) {
        this.checkedAt = this.now();
        return this.current;
      }
      let snapshot: RegistrySnapshot | undefined;
      if (this.kv && version) {
        const raw = await this.kv.get(REGISTRY_SNAPSHOT_KEY, "json");
        const parsed = RegistrySnapshot.safeParse(raw);
        if (parsed.success) snapshot = parsed.data;
        else log("error", "registry_snapshot_invalid", { error: parsed.error.message.slice(0, 300) });
      }
      if (!snapshot && this.fallback) snapshot = await this.fallback();
      if (snapshot && snapshot.version !== this.current?.version) this.current = new CompiledRegistry(snapshot);
      this.checkedAt = this.now();
      return this.current ?? CompiledRegistry.empty();
    } catch (err) {
      // Keep serving the last good registry; a KV hiccup must not take the read path down.
      log("warn", "registry_refresh_failed", { error: err });
      if (this.current) return this.current;
      throw err;
    }
  }
}

/** The registry as both Workers load it: KV first, the latest apply in Postgres when KV has none. */
export function registryStoreFor(
  kv: KVNamespace | undefined,
  postgres: PostgresConfig | undefined,
  now: () => number = Date.now,
): RegistryStore {
  const fallback = postgres
    ? async () => {
        const parsed = RegistrySnapshot.safeParse(await latestRegistrySnapshot(postgres));
        return parsed.success ? parsed.data : undefined;
      }
    : undefined;
  return new RegistryStore(kv, fallback, now);
}
