// L1 tier for batch features: one Workers KV row per entity, {feature: [eventTimestampMs, value, tiebreak?]}.
import type { ComputationType } from "../core/definitions";
import { isNewer, kvEntityKey, type TimedValue, timedValue } from "../core/keys";
import type { EntityRef, OnlineStore, OnlineWrite } from "../core/online-store";

/** Edge cache time for KV reads; KV's minimum is 30 s (batch features change hourly or daily). */
export const KV_CACHE_TTL_SECONDS = 60;
/** KV's bulk get takes at most this many keys per call. */
export const KV_BULK_GET_MAX = 100;

export type KvRow = Record<string, [number, unknown] | [number, unknown, string]>;

/** The requested features of a row (all of them when `names` is omitted). */
export function rowToValues(row: KvRow | null | undefined, names?: readonly string[]): Record<string, TimedValue> {
  const out: Record<string, TimedValue> = {};
  if (!row) return out;
  for (const name of names ?? Object.keys(row)) {
    const entry = row[name];
    if (!Array.isArray(entry) || typeof entry[0] !== "number") continue;
    out[name] = timedValue(entry[0], entry[1], typeof entry[2] === "string" ? entry[2] : undefined);
  }
  return out;
}

/** Merge by event time (ties: the greater tiebreak): an incoming value replaces the stored one only when it is newer. */
export function mergeRow(row: KvRow | null, values: Record<string, TimedValue>): { row: KvRow; changed: string[] } {
  const next: KvRow = { ...(row ?? {}) };
  const changed: string[] = [];
  for (const [name, v] of Object.entries(values)) {
    const cur = next[name];
    if (!cur || isNewer(v, { eventTimestamp: cur[0], value: cur[1], tiebreak: cur[2] })) {
      next[name] = v.tiebreak ? [v.eventTimestamp, v.value ?? null, v.tiebreak] : [v.eventTimestamp, v.value ?? null];
      changed.push(name);
    }
  }
  return { row: next, changed };
}

/** A KV read slower than this is skipped for the request (KV answers from the colo's cache in a few ms). */
export const KV_DEADLINE_MS = 150;
const SERVES: ReadonlySet<ComputationType> = new Set(["batch"]);
/** The key /health reads (absent: a read of a missing key is the round trip we want). */
const HEALTH_KEY = "health:probe";

export class KvFeatureStore implements OnlineStore {
  readonly tier = "kv";
  readonly serves = SERVES;
  readonly deadlineMs = KV_DEADLINE_MS;

  constructor(private readonly kv: KVNamespace) {}

  async ping(): Promise<undefined> {
    await this.kv.get(HEALTH_KEY);
  }

  /** Bulk get of entity rows (chunks of 100 keys), narrowed to the requested features. */
  async read(refs: readonly EntityRef[], features: readonly (readonly string[])[]): Promise<Record<string, TimedValue>[]> {
    const keys = refs.map((r) => kvEntityKey(r.entityType, r.entityId));
    const rows = new Map<string, KvRow | null>();
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += KV_BULK_GET_MAX) chunks.push(keys.slice(i, i + KV_BULK_GET_MAX));
    await Promise.all(
      chunks.map(async (chunk) => {
        if (chunk.length === 1) {
          rows.set(chunk[0]!, await this.kv.get<KvRow>(chunk[0]!, { type: "json", cacheTtl: KV_CACHE_TTL_SECONDS }));
          return;
        }
        const got = await this.kv.get<KvRow>(chunk, { type: "json", cacheTtl: KV_CACHE_TTL_SECONDS });
        for (const [k, v] of got) rows.set(k, v);
      }),
    );
    return keys.map((k, i) => rowToValues(rows.get(k), features[i] ?? []));
  }

  /**
   * Read-merge-write for a batch of entities: the current rows in bulk gets (100 keys a call, not
   * one get per entity), then one put per entity that changed, in parallel. Each entity's outcome is
   * its own (a failed bulk get fails the entities of its chunk). KV is a cache; the event-time merge
   * keeps it monotonic per writer.
   */
  async writeIfNewer(entries: readonly OnlineWrite[]): Promise<(string[] | Error)[]> {
    const keys = entries.map((e) => kvEntityKey(e.ref.entityType, e.ref.entityId));
    const out = new Array<string[] | Error>(entries.length);
    const chunks: number[][] = [];
    for (let i = 0; i < keys.length; i += KV_BULK_GET_MAX) chunks.push(keys.slice(i, i + KV_BULK_GET_MAX).map((_, k) => i + k));
    await Promise.all(
      chunks.map(async (chunk) => {
        let current: Map<string, KvRow | null>;
        try {
          current = await this.readRows(chunk.map((i) => keys[i]!));
        } catch (err) {
          for (const i of chunk) out[i] = asError(err);
          return;
        }
        await Promise.all(
          chunk.map(async (i) => {
            const { row, changed } = mergeRow(current.get(keys[i]!) ?? null, entries[i]!.values);
            try {
              if (changed.length) await this.kv.put(keys[i]!, JSON.stringify(row));
              out[i] = changed;
            } catch (err) {
              out[i] = asError(err);
            }
          }),
        );
      }),
    );
    return out;
  }

  /** Uncached current rows of up to 100 keys (a write must merge into the stored row, not an edge copy). */
  private async readRows(keys: string[]): Promise<Map<string, KvRow | null>> {
    if (keys.length === 1) return new Map([[keys[0]!, await this.kv.get<KvRow>(keys[0]!, { type: "json" })]]);
    return this.kv.get<KvRow>(keys, { type: "json" });
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
