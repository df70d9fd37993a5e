// Storage keys and the encoding of an online value with its event time, shared by every tier.

/** An online value with the event time (ms since epoch) it was observed at. */
export interface TimedValue {
  value: unknown;
  eventTimestamp: number;
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
 * Redis field encoding: "<eventTimestampMs>|<json>". The timestamp prefix lets the Lua
 * compare-and-set read the event time without decoding JSON.
 */
export function encodeTimedValue(v: TimedValue): string {
  return `${Math.trunc(v.eventTimestamp)}|${JSON.stringify(v.value ?? null)}`;
}

export function decodeTimedValue(raw: string | null | undefined): TimedValue | undefined {
  if (raw === null || raw === undefined) return undefined;
  const bar = raw.indexOf("|");
  if (bar <= 0) return undefined;
  const ts = Number(raw.slice(0, bar));
  if (!Number.isFinite(ts)) return undefined;
  return { eventTimestamp: ts, value: JSON.parse(raw.slice(bar + 1)) as unknown };
}
/** The small key Workers poll; written after the snapshot so a reader never sees a version without it. */
export const REGISTRY_VERSION_KEY = "registry:version";
