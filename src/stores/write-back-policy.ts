// Which read-path write-backs a tier takes: a policy per tier, so a new rule is a new function here.
import { Doorkeeper } from "./doorkeeper";

/** Called once per entity and tier a write-back is about to fill; false skips that write. */
export type WriteBackPolicy = (entityKey: string, now: number) => boolean;

/** KV allows one write per second per key; write-backs to the same row are spaced at least this far apart. */
export const KV_WRITE_BACK_INTERVAL_MS = 1_000;
/** Rows whose last write-back time is remembered (cleared when exceeded; it only rate-limits). */
const KV_WRITE_BACK_MEMORY = 10_000;

export const KV_WRITE_BACK_MODES = ["repeat", "on", "off"] as const;
export type KvWriteBack = (typeof KV_WRITE_BACK_MODES)[number];

/**
 * Write values served by Redis or Postgres back to KV (DESIGN: a lower-tier hit fills the tiers
 * above). Each write-back is a billed KV write (10× a read) that a long tail mostly never reads
 * again, and materialization and ingest keep KV filled anyway. `repeat` (default): only for an
 * entity this isolate had to fetch below KV before, within the doorkeeper's window. `on`: every
 * time. `off`: never. Either way at most one write per row per KV_WRITE_BACK_INTERVAL_MS.
 */
export function kvWriteBackPolicy(mode: KvWriteBack): WriteBackPolicy {
  if (mode === "off") return () => false;
  const lastWrite = new Map<string, number>();
  const doorkeeper = new Doorkeeper();
  return (key, now) => {
    if (now - (lastWrite.get(key) ?? 0) < KV_WRITE_BACK_INTERVAL_MS) return false;
    if (mode === "repeat" && !doorkeeper.seenBefore(key)) return false;
    lastWrite.set(key, now);
    if (lastWrite.size > KV_WRITE_BACK_MEMORY) lastWrite.clear();
    return true;
  };
}
