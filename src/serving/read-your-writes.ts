// Read-your-writes on the read path: which features of which lookups must reach a token's event times.
import { FeatureStoreError } from "../core/errors";
import type { FeatureRequest } from "../core/feature-request";
import { entityMapKey } from "../core/keys";
import { decodeWriteToken, type EntityWrite, type FeatureMarks, marksByEntity } from "../core/write-token";
import type { Found, Lookup } from "../stores/tiered-feature-store";

/**
 * How long a read with a token waits for its writes to reach a tier before answering 503: the
 * Queue's batch timeout (1 s, wrangler.ingest.toml) plus the consumer's write of every tier on a loaded machine, with room.
 */
export const WRITE_WAIT_MS = 5_000;

export interface WriteMarks {
  waitMs: number;
  /** Sets the lookup's minimum event times (Lookup.minEventMs) for the features it reads that the tokens wrote. */
  attach(lookup: Lookup): void;
  /** The features of a lookup whose found value is still older than its write (or missing). */
  behind(lookup: Lookup, found: ReadonlyMap<string, Found>): string[];
}

/** The marks of the requests' tokens (merged: a stricter mark only makes a read wait longer); undefined without any. */
export function writeMarksOf(requests: readonly FeatureRequest[], waitMs = WRITE_WAIT_MS): WriteMarks | undefined {
  let writes: EntityWrite[] | undefined;
  requests.forEach((r, i) => {
    if (r.min_write_token === undefined) return;
    const tokens = typeof r.min_write_token === "string" ? [r.min_write_token] : r.min_write_token;
    tokens.forEach((token, j) => {
      const decoded = decodeWriteToken(token);
      const field = `${requests.length > 1 ? `${i}.` : ""}min_write_token${typeof r.min_write_token === "string" ? "" : `.${j}`}`;
      if (!decoded) throw new FeatureStoreError("bad_request", "min_write_token is not a write token that a push answered", { field });
      writes ??= [];
      writes.push(...decoded);
    });
  });
  if (!writes) return undefined;
  const byEntity: Map<string, FeatureMarks> = marksByEntity(writes);
  return {
    waitMs,
    attach(lookup) {
      const marks = byEntity.get(entityMapKey(lookup.entityType, lookup.entityId));
      if (!marks) return;
      const min = new Map<string, number>();
      for (const def of lookup.features) {
        const ms = marks[def.name];
        if (ms !== undefined) min.set(def.name, ms);
      }
      if (min.size) lookup.minEventMs = min;
    },
    behind(lookup, found) {
      const out: string[] = [];
      for (const [name, ms] of lookup.minEventMs ?? []) {
        const value = found.get(name)?.value;
        if (!value || value.eventTimestamp < ms) out.push(name);
      }
      return out;
    },
  };
}
