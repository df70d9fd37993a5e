// The online-store port: what every storage tier below the per-isolate cache does, whatever backs it.
import type { ComputationType } from "./definitions";
import type { TimedValue } from "./keys";

/** One entity: its type (a key of features/entities.yaml) and id. */
export interface EntityRef {
  entityType: string;
  entityId: string;
}

/** The tiers that store values (the memory cache in front of them, and `computed`, are not stores). */
export type StoredTier = "kv" | "durable_object" | "redis" | "postgres";

/** For one entity, the values to write if they are newer (by event time, then tiebreak) than the stored ones. */
export interface OnlineWrite {
  ref: EntityRef;
  values: Record<string, TimedValue>;
}

/**
 * A tier that can be read: one file per backend implements it (src/stores/*-store.ts) and the tiered
 * store reads them in order, so the serving code never names a backend.
 */
export interface OnlineStoreReader {
  readonly tier: StoredTier;
  /** The computation types whose values this tier holds (KV: batch; the Durable Object: stream; its aggregates: aggregation). */
  readonly serves: ReadonlySet<ComputationType>;
  /** A read slower than this is abandoned for the request and counts against the tier's breaker. */
  readonly deadlineMs: number;
  /**
   * For each ref, the stored values of the features asked for it (`features[i]` for `refs[i]`); a
   * feature the tier does not have is absent from its record. Rejects when the tier cannot answer.
   */
  read(refs: readonly EntityRef[], features: readonly (readonly string[])[]): Promise<Record<string, TimedValue>[]>;
  /** A cheap round trip for /health: resolves (optionally with a detail such as a version) when the tier answers. */
  ping(): Promise<string | undefined>;
}

/** A tier that can also be written: last-write-wins by event time, atomically per entity. */
export interface OnlineStore extends OnlineStoreReader {
  /**
   * Writes each entity's values where they are newer than what the tier holds (src/core/keys.ts
   * isNewer). Per entry, the names that changed, or the error that entity's write met (one entity's
   * failure does not fail the others). Rejects only when nothing could be attempted.
   */
  writeIfNewer(entries: readonly OnlineWrite[]): Promise<(string[] | Error)[]>;
}

export function isWritable(store: OnlineStoreReader): store is OnlineStore {
  return typeof (store as Partial<OnlineStore>).writeIfNewer === "function";
}

/**
 * The tiers below the per-isolate cache, in read order. The tiers of one level are read in parallel
 * (they hold disjoint computation types, e.g. KV batch and the Durable Object stream features); a
 * level is read only for the features the levels before it did not answer with a fresh value.
 */
export type TierLevels = readonly (readonly OnlineStoreReader[])[];
