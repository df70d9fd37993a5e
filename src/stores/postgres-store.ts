// Source of truth: feature_latest reads for the backfill tier, the health probe and registry versions.

import type { ComputationType } from "../core/definitions";
import { entityMapKey, type TimedValue, timedValue } from "../core/keys";
import type { EntityRef, OnlineStoreReader } from "../core/online-store";
import { POSTGRES_CONNECT_TIMEOUT_MS, type PostgresConfig, withPostgresClient } from "../db/postgres";

export interface RegistryVersionSummary {
  version_number: number;
  version: string;
  author: string;
  feature_count: number;
  applied_at: string;
  diff: unknown;
}

/** The backfill of last resort may take a connect and one query (POSTGRES_CONNECT_TIMEOUT_MS bounds the connect). */
export const POSTGRES_DEADLINE_MS = POSTGRES_CONNECT_TIMEOUT_MS;
const SERVES: ReadonlySet<ComputationType> = new Set(["batch", "stream"]);

/**
 * Read side of the source of truth. It is an OnlineStoreReader only: Postgres is written by the
 * ingest consumer's append-and-upsert (postgres-writer.ts, with idempotency keys and the
 * feature_values history), never by a read path's write-back.
 */
export class PostgresFeatureStore implements OnlineStoreReader {
  readonly tier = "postgres";
  readonly serves = SERVES;
  readonly deadlineMs = POSTGRES_DEADLINE_MS;

  constructor(private readonly cfg: PostgresConfig) {}

  async ping(): Promise<string> {
    return withPostgresClient(this.cfg, async (client) => {
      const res = await client.query<{ v: string }>("select current_setting('server_version') as v");
      return `postgres ${res.rows[0]?.v ?? "?"}`;
    });
  }

  /** Applied registry versions, newest first (the diff is summarized as counts). */
  async registryVersions(limit: number): Promise<RegistryVersionSummary[]> {
    return withPostgresClient(this.cfg, async (client) => {
      const res = await client.query<RegistryVersionSummary>(
        `select id as version_number, 'r-' || left(content_hash, 12) as version, author, feature_count,
                applied_at, diff
           from registry_versions order by id desc limit $1`,
        [limit],
      );
      return res.rows;
    });
  }

  /** Latest values of the requested features for each entity, in one query. */
  async read(refs: readonly EntityRef[], fields: readonly (readonly string[])[]): Promise<Record<string, TimedValue>[]> {
    if (refs.length === 0) return [];
    const types: string[] = [];
    const ids: string[] = [];
    const names: string[] = [];
    refs.forEach((ref, i) => {
      for (const f of fields[i] ?? []) {
        types.push(ref.entityType);
        ids.push(ref.entityId);
        names.push(f);
      }
    });
    const rows = await withPostgresClient(this.cfg, async (client) => {
      const res = await client.query<{
        entity_type: string;
        entity_id: string;
        feature_name: string;
        feature_value: unknown;
        ts: string;
        tiebreak: string;
      }>(
        `select l.entity_type, l.entity_id, l.feature_name, l.feature_value,
                (extract(epoch from l.event_timestamp) * 1000)::bigint::text as ts, l.tiebreak
           from unnest($1::text[], $2::text[], $3::text[]) as q(entity_type, entity_id, feature_name)
           join feature_latest l using (entity_type, entity_id, feature_name)`,
        [types, ids, names],
      );
      return res.rows;
    });
    const index = new Map<string, Record<string, TimedValue>>();
    const out = refs.map((ref) => {
      const rec: Record<string, TimedValue> = {};
      index.set(entityMapKey(ref.entityType, ref.entityId), rec);
      return rec;
    });
    for (const row of rows) {
      const rec = index.get(entityMapKey(row.entity_type, row.entity_id));
      if (!rec) continue;
      rec[row.feature_name] = timedValue(Number(row.ts), row.feature_value, row.tiebreak);
    }
    return out;
  }
}
