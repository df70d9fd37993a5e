// Read-your-writes tokens: what a push answers, and what a read passes back so it never sees an older value.
//
// A token lists, per entity it wrote, the event time of the newest write of each feature:
// "wt1." + base64url(JSON [[entity_type, entity_id, {feature: event_ms}], ...]). It is not signed:
// a forged or stale token can only make its own caller's read stricter (slower, or a 503 after
// the wait), never change what anyone else is served. Clients treat it as opaque: a read may pass
// several (a list), and only the marks of the entities it reads apply.
import { z } from "zod";
import { EntityTypeName } from "./definitions";
import { EntityId, FeatureRef } from "./identifiers";
import { entityMapKey } from "./keys";

const PREFIX = "wt1.";
/** A push writing more entities than this answers no token (a bulk load is not a session). */
export const MAX_WRITE_TOKEN_ENTITIES = 100;
/** A read may pass several tokens (a client session's pushes), up to this many. */
export const MAX_WRITE_TOKENS_PER_REQUEST = 16;
/** Longest token a read accepts. */
export const MAX_WRITE_TOKEN_CHARS = 64 * 1024;

/** Per feature (flat name), the event time in ms that a served value must reach. */
export type FeatureMarks = Record<string, number>;

export interface EntityWrite {
  entityType: string;
  entityId: string;
  features: FeatureMarks;
}

const Entry = z.tuple([EntityTypeName, EntityId, z.record(FeatureRef, z.number().int().nonnegative())]);
const Payload = z.array(Entry).min(1).max(MAX_WRITE_TOKEN_ENTITIES);

export const WriteToken = z
  .string()
  .max(MAX_WRITE_TOKEN_CHARS)
  .regex(/^wt1\.[A-Za-z0-9_-]+$/, 'must be a write token as a push answered it ("wt1.…")')
  .meta({ description: "Read-your-writes token from POST /ingest/push (or a merge of several)" });

function toBase64Url(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): string {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/** Merges writes of the same entity, keeping the newest event time per feature. */
function merge(writes: Iterable<EntityWrite>): EntityWrite[] {
  const out = new Map<string, EntityWrite>();
  for (const w of writes) {
    const key = entityMapKey(w.entityType, w.entityId);
    const into = out.get(key) ?? { entityType: w.entityType, entityId: w.entityId, features: {} };
    for (const [name, ms] of Object.entries(w.features)) into.features[name] = Math.max(into.features[name] ?? 0, ms);
    out.set(key, into);
  }
  return [...out.values()];
}

/** The token of a set of writes; undefined when they touch more than MAX_WRITE_TOKEN_ENTITIES entities. */
export function encodeWriteToken(writes: Iterable<EntityWrite>): string | undefined {
  const merged = merge(writes);
  if (merged.length === 0 || merged.length > MAX_WRITE_TOKEN_ENTITIES) return undefined;
  return PREFIX + toBase64Url(JSON.stringify(merged.map((w) => [w.entityType, w.entityId, w.features])));
}

/** The writes of a token; undefined when it is not one. */
export function decodeWriteToken(token: string): EntityWrite[] | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(fromBase64Url(token.slice(PREFIX.length)));
  } catch {
    return undefined;
  }
  const parsed = Payload.safeParse(raw);
  return parsed.success ? parsed.data.map(([entityType, entityId, features]) => ({ entityType, entityId, features })) : undefined;
}

/** Per entity (entityMapKey), the marks a token sets. */
export function marksByEntity(writes: readonly EntityWrite[]): Map<string, FeatureMarks> {
  return new Map(merge(writes).map((w) => [entityMapKey(w.entityType, w.entityId), w.features]));
}
