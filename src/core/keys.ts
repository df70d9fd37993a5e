// Storage keys and the encoding of an online value with its event time, shared by every tier.

/** An online value with the event time (ms since epoch) it was observed at. */
export interface TimedValue {
  value: unknown;
  eventTimestamp: number;
  /**
   * Orders two different values with the same event time, identically in every tier and in training
   * sets: the first TIEBREAK_CHARS hex characters of the value's idempotency key (sha256 of entity,
   * feature, event time and value). Greater wins; absent (values written before it existed) is lowest.
   */
  tiebreak?: string | undefined;
}

/** A TimedValue, with `tiebreak` only when there is one (stores return "" or null for none). */
export function timedValue(eventTimestamp: number, value: unknown, tiebreak?: string | null): TimedValue {
  return tiebreak ? { eventTimestamp, value, tiebreak } : { eventTimestamp, value };
}

/** Length of the tiebreak: 64 bits of the idempotency key (a collision is a 2^-64 event). */
export const TIEBREAK_CHARS = 16;

export function tiebreakOf(idempotencyKey: string): string {
  return idempotencyKey.slice(0, TIEBREAK_CHARS);
}

/**
 * Last-write-wins by event time, with ties decided by the tiebreak (compared by code unit: hex
 * digits, so the same as Postgres' "C" collation, SQLite's BINARY and the Redis script's bytes).
 * Every tier applies this rule, so they converge to the same value whatever order writes arrive in.
 */
export function isNewer(a: TimedValue, b: TimedValue | undefined): boolean {
  if (!b) return true;
  if (a.eventTimestamp !== b.eventTimestamp) return a.eventTimestamp > b.eventTimestamp;
  return (a.tiebreak ?? "") > (b.tiebreak ?? "");
}

/** In-memory map key of an entity (L0, single flight, per-request grouping); never stored. */
export function entityMapKey(entityType: string, entityId: string): string {
  return `${entityType}\u0000${entityId}`;
}

/** Redis hash per entity; fields are feature names. The prefix isolates environments and tests. */
export function redisEntityKey(prefix: string, entityType: string, entityId: string): string {
  return `${prefix}fs:${entityType}:${entityId}`;
}

/** KV row per entity holding its batch features. */
export function kvEntityKey(entityType: string, entityId: string): string {
  return `row:${entityType}:${entityId}`;
}

/** Durable Object name: one object per entity for stream features. */
export function durableObjectName(entityType: string, entityId: string): string {
  return `${entityType}:${entityId}`;
}

export const REGISTRY_SNAPSHOT_KEY = "registry:snapshot";

/**
 * Redis field encoding: "<eventTimestampMs>[.<tiebreak>]|<json>". The prefix lets the Lua
 * compare-and-set order values without decoding JSON; values written before the tiebreak existed
 * ("<ts>|<json>") still decode.
 */
export function encodeTimedValue(v: TimedValue): string {
  return `${Math.trunc(v.eventTimestamp)}${v.tiebreak ? `.${v.tiebreak}` : ""}|${JSON.stringify(v.value ?? null)}`;
}

export function decodeTimedValue(raw: string | null | undefined): TimedValue | undefined {
  if (raw === null || raw === undefined) return undefined;
  const bar = raw.indexOf("|");
  if (bar <= 0) return undefined;
  const dot = raw.indexOf(".");
  const hasTiebreak = dot > 0 && dot < bar;
  const ts = Number(raw.slice(0, hasTiebreak ? dot : bar));
  if (!Number.isFinite(ts)) return undefined;
  return timedValue(ts, JSON.parse(raw.slice(bar + 1)) as unknown, hasTiebreak ? raw.slice(dot + 1, bar) : undefined);
}
/** The small key Workers poll; written after the snapshot so a reader never sees a version without it. */
export const REGISTRY_VERSION_KEY = "registry:version";
