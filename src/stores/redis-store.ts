// L2 tier: one Upstash Redis hash per entity, HMGET on read, an event-time compare-and-set on write.
import { Redis } from "@upstash/redis/cloudflare";
import type { ComputationType } from "../core/definitions";
import { decodeTimedValue, encodeTimedValue, redisEntityKey, type TimedValue } from "../core/keys";
import type { EntityRef, OnlineStore, OnlineWrite } from "../core/online-store";

/** A read slower than this is aborted: the hot path skips the tier rather than wait (one HMGET pipeline). */
export const REDIS_READ_TIMEOUT_MS = 250;
/**
 * Writes get longer, and longer with the batch: an ingest batch is one pipeline of up to 100
 * compare-and-set scripts over up to thousands of fields (100 entities × 50 features), and a write
 * that times out is re-queued, so a bound that does not fit the batch only turns a slow write into
 * a repeated one (the 9 in 1,000 batches of issue 18 that failed their Redis write once at a fixed
 * 5 s). Base plus a per-field allowance, capped well inside a queue handler's wall-clock budget.
 * The tiered store's deadline (REDIS_DEADLINE_MS) still bounds reads.
 */
export const REDIS_WRITE_TIMEOUT_MS = 5_000;
export const REDIS_WRITE_TIMEOUT_PER_FIELD_MS = 2;
export const REDIS_WRITE_TIMEOUT_MAX_MS = 30_000;

/** The write timeout for a pipeline over `fields` fields in all. */
export function redisWriteTimeoutMs(fields: number): number {
  return Math.min(REDIS_WRITE_TIMEOUT_MAX_MS, REDIS_WRITE_TIMEOUT_MS + Math.max(0, fields) * REDIS_WRITE_TIMEOUT_PER_FIELD_MS);
}
/** The tiered store gives up on a Redis read after this (the client aborts it at REDIS_READ_TIMEOUT_MS). */
export const REDIS_DEADLINE_MS = 300;
const SERVES: ReadonlySet<ComputationType> = new Set(["batch", "stream"]);

export interface RedisConfig {
  url: string;
  token: string;
  keyPrefix: string;
}

/**
 * Writes a field only when the incoming value is newer by event time, ties going to the greater
 * tiebreak (src/core/keys.ts isNewer; compared byte by byte, not with the locale-dependent `<` on
 * strings). KEYS[1] = hash; ARGV = field, encoded value, field, encoded value ... Returns the fields
 * that changed.
 */
export const CAS_SCRIPT = `
local function parse(v)
  local ts, tb = string.match(v, '^(%d+)%.?(%x*)|')
  return tonumber(ts), tb or ''
end
local function greater(a, b)
  if a == b then return false end
  local n = math.min(#a, #b)
  for k = 1, n do
    local x, y = string.byte(a, k), string.byte(b, k)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local changed = {}
for i = 1, #ARGV, 2 do
  local field = ARGV[i]
  local incoming = ARGV[i + 1]
  local cur = redis.call('HGET', KEYS[1], field)
  local newTs, newTb = parse(incoming)
  local write = true
  if cur then
    local curTs, curTb = parse(cur)
    if curTs ~= nil then
      write = newTs > curTs or (newTs == curTs and greater(newTb, curTb))
    end
  end
  if write then
    redis.call('HSET', KEYS[1], field, incoming)
    changed[#changed + 1] = field
  end
end
return changed
`;

export class RedisFeatureStore implements OnlineStore {
  readonly tier = "redis";
  readonly serves = SERVES;
  readonly deadlineMs = REDIS_DEADLINE_MS;
  /** Reads share one client (one timeout); each write pipeline gets a client whose timeout fits its size (a plain object, no connection). */
  private readonly reader: Redis;

  constructor(private readonly cfg: RedisConfig) {
    this.reader = client(cfg, REDIS_READ_TIMEOUT_MS);
  }

  key(ref: EntityRef): string {
    return redisEntityKey(this.cfg.keyPrefix, ref.entityType, ref.entityId);
  }

  async ping(): Promise<string> {
    return String(await this.reader.ping());
  }

  /** One pipeline of HMGETs: for each entity, the requested fields that are present. */
  async read(refs: readonly EntityRef[], fields: readonly (readonly string[])[]): Promise<Record<string, TimedValue>[]> {
    if (refs.length === 0) return [];
    const pipe = this.reader.pipeline();
    refs.forEach((ref, i) => {
      pipe.hmget(this.key(ref), ...(fields[i] ?? []));
    });
    // With automaticDeserialization off, HMGET answers an array aligned with the requested fields.
    const replies = (await pipe.exec()) as ((string | null)[] | null)[];
    return replies.map((reply, i) => {
      const out: Record<string, TimedValue> = {};
      if (!reply) return out;
      const names = fields[i] ?? [];
      reply.forEach((raw, j) => {
        const decoded = decodeTimedValue(raw);
        if (decoded) out[names[j]!] = decoded;
      });
      return out;
    });
  }

  /**
   * The compare-and-set for many entities in one pipeline (one HTTP round trip); each entity is
   * still atomic on its own. Per entity: the fields that changed, or the error Redis gave it.
   */
  async writeIfNewer(entries: readonly OnlineWrite[]): Promise<(string[] | Error)[]> {
    const work = entries.map((e) => {
      const args: string[] = [];
      for (const [field, v] of Object.entries(e.values)) args.push(field, encodeTimedValue(v));
      return { key: this.key(e.ref), args };
    });
    const nonEmpty = work.filter((w) => w.args.length > 0);
    if (nonEmpty.length === 0) return entries.map(() => []);
    const fields = nonEmpty.reduce((n, w) => n + w.args.length / 2, 0);
    const pipe = client(this.cfg, redisWriteTimeoutMs(fields)).pipeline();
    for (const w of nonEmpty) pipe.eval(CAS_SCRIPT, [w.key], w.args);
    const replies = await pipe.exec({ keepErrors: true });
    let j = 0;
    return work.map((w) => {
      if (w.args.length === 0) return [];
      const reply = replies[j++];
      return reply?.error ? new Error(reply.error) : ((reply?.result as string[] | undefined) ?? []);
    });
  }
}

function client(cfg: RedisConfig, timeoutMs: number): Redis {
  return new Redis({
    url: cfg.url,
    token: cfg.token,
    // No client retries: a slow tier is skipped (reads) or the message retried (writes), not hammered.
    retry: false,
    automaticDeserialization: false,
    enableTelemetry: false,
    signal: () => AbortSignal.timeout(timeoutMs),
  });
}
