// Write side of the source of truth: feature_values (idempotent append) and feature_latest (LWW by event time).

import type { Client } from "@neondatabase/serverless";
import { TIEBREAK_CHARS } from "../core/keys";
import { log } from "../core/log";
import { canonicalJson } from "../core/registry";
import { sha256HexSync } from "../core/sha256";
import { type PostgresConfig, withPostgresClient } from "../db/postgres";

/** One feature value of one message, ready to be written. */
export interface FeatureValueRow {
  entityType: string;
  entityId: string;
  /** The flat feature name (a qualified reference is resolved before it gets here). */
  featureName: string;
  value: unknown;
  /** Event time, epoch ms. */
  eventTimestamp: number;
  idempotencyKey: string;
  /** materialization_runs.id when the value comes from a materialization run. */
  runId?: number | undefined;
}

export interface WriteResult {
  /** New feature_values rows (a replay inserts none). */
  inserted: number;
  /** feature_latest rows created or replaced because the value was newer. */
  latestChanged: number;
  /** Index of each group that could not be written, with its error; the others are durable. */
  failed: Map<number, Error>;
}

/**
 * The identity of a value: the same entity, feature, event time and value always hash the same,
 * so a redelivered or replayed message inserts nothing new. Synchronous (one per value written).
 */
export function idempotencyKey(
  entityType: string,
  entityId: string,
  featureName: string,
  eventTimestampMs: number,
  value: unknown,
): string {
  return sha256HexSync(canonicalJson([entityType, entityId, featureName, Math.trunc(eventTimestampMs), value ?? null]));
}

/**
 * One statement: append to feature_values (ON CONFLICT DO NOTHING on the idempotency key), upsert
 * feature_latest only where the incoming value is newer by event time, ties going to the greater
 * tiebreak (the idempotency key's first 16 hex characters, compared in the "C" collation as every
 * other tier and the training sets compare it), and count newly written rows against their
 * materialization run. Rows arrive as one jsonb array so values of any JSON shape bind safely.
 */
const WRITE_SQL = `
with incoming as (
  select (r->>'ord')::int as ord,
         r->>'entity_type' as entity_type,
         r->>'entity_id' as entity_id,
         r->>'feature_name' as feature_name,
         nullif(r->'value', 'null'::jsonb) as feature_value,
         timestamptz 'epoch' + (r->>'ts')::bigint * interval '1 millisecond' as event_timestamp,
         r->>'key' as idempotency_key,
         left(r->>'key', ${TIEBREAK_CHARS}) collate "C" as tiebreak,
         (r->>'run_id')::int as run_id
    from jsonb_array_elements($1::jsonb) as r
),
vals as (
  select distinct on (idempotency_key) * from incoming order by idempotency_key, ord
),
ins as (
  insert into feature_values (feature_name, entity_type, entity_id, feature_value, event_timestamp, idempotency_key)
  select feature_name, entity_type, entity_id, feature_value, event_timestamp, idempotency_key from vals
  on conflict (idempotency_key) do nothing
  returning idempotency_key
),
latest as (
  insert into feature_latest as l (entity_type, entity_id, feature_name, feature_value, event_timestamp, ingested_at, tiebreak)
  select distinct on (entity_type, entity_id, feature_name) entity_type, entity_id, feature_name, feature_value, event_timestamp, now(), tiebreak
    from incoming
   order by entity_type, entity_id, feature_name, event_timestamp desc, tiebreak desc, ord
  on conflict (entity_type, entity_id, feature_name) do update
     set feature_value = excluded.feature_value, event_timestamp = excluded.event_timestamp, ingested_at = excluded.ingested_at,
         tiebreak = excluded.tiebreak
   where excluded.event_timestamp > l.event_timestamp
      or (excluded.event_timestamp = l.event_timestamp and excluded.tiebreak collate "C" > l.tiebreak collate "C")
  returning 1
),
runs as (
  update materialization_runs m
     set rows_written = m.rows_written + c.n
    from (select v.run_id, count(*)::int as n from vals v join ins using (idempotency_key)
           where v.run_id is not null group by v.run_id) c
   where m.id = c.run_id
  returning m.id
)
select (select count(*) from ins)::int as inserted,
       (select count(*) from latest)::int as latest_changed,
       (select count(*) from runs)::int as runs_updated`;

/**
 * SQLSTATE classes caused by the data of a message (22 data exception, 23 integrity violation):
 * only then is the batch retried message by message, so one poison message cannot block the rest.
 * Anything else (connection loss, server shutting down) fails the whole batch for a retry.
 */
const DATA_ERROR_CLASSES = ["22", "23"];

export class PostgresFeatureWriter {
  constructor(private readonly cfg: PostgresConfig) {}

  /**
   * Writes groups of rows (one group per queue message) in one round trip. A data error in the
   * batch statement falls back to one statement per group on the same connection; a connection
   * error rejects (nothing is known to be written, so every message must be retried).
   */
  async write(groups: FeatureValueRow[][]): Promise<WriteResult> {
    const result: WriteResult = { inserted: 0, latestChanged: 0, failed: new Map() };
    if (groups.every((g) => g.length === 0)) return result;
    return withPostgresClient(this.cfg, async (client) => {
      try {
        const all = await runWrite(
          client,
          groups.flatMap((g, i) => g.map((row) => ({ row, ord: i }))),
        );
        result.inserted = all.inserted;
        result.latestChanged = all.latestChanged;
        return result;
      } catch (err) {
        if (!isDataError(err)) throw err;
        // One poison message must not block the rest: write message by message.
        log("warn", "feature_write_data_error", { error: err, fallback: "message_by_message" });
      }
      for (const [i, group] of groups.entries()) {
        if (group.length === 0) continue;
        try {
          const one = await runWrite(
            client,
            group.map((row) => ({ row, ord: i })),
          );
          result.inserted += one.inserted;
          result.latestChanged += one.latestChanged;
        } catch (err) {
          if (!isDataError(err)) throw err;
          result.failed.set(i, err instanceof Error ? err : new Error(String(err)));
        }
      }
      return result;
    });
  }
}

async function runWrite(
  client: Client,
  rows: { row: FeatureValueRow; ord: number }[],
): Promise<{ inserted: number; latestChanged: number }> {
  const payload = rows.map(({ row, ord }) => ({
    ord,
    entity_type: row.entityType,
    entity_id: row.entityId,
    feature_name: row.featureName,
    value: row.value ?? null,
    ts: Math.trunc(row.eventTimestamp),
    key: row.idempotencyKey,
    ...(row.runId === undefined ? {} : { run_id: row.runId }),
  }));
  const res = await client.query<{ inserted: number; latest_changed: number }>(WRITE_SQL, [JSON.stringify(payload)]);
  return { inserted: res.rows[0]?.inserted ?? 0, latestChanged: res.rows[0]?.latest_changed ?? 0 };
}

function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && DATA_ERROR_CLASSES.includes(code.slice(0, 2));
}

// ------------------------------------------------------------------ reject counts

export interface RejectCount {
  feature: string;
  rule: string;
  message: string;
  count: number;
}

/** Counts values rejected before they reached the queue (materialization validates its rows itself). */
export async function countRejects(client: Client, source: string, rejects: RejectCount[]): Promise<void> {
  // One row per (feature, rule): an upsert may not touch the same row twice in one statement.
  const merged = new Map<string, RejectCount>();
  for (const r of rejects) {
    const key = `${r.feature}\u0000${r.rule}`;
    const cur = merged.get(key);
    if (cur) {
      cur.count += r.count;
      cur.message = r.message;
    } else merged.set(key, { ...r });
  }
  if (merged.size === 0) return;
  await client.query(
    `insert into ingest_rejects as c (day, feature_name, rule, source, rejected, last_rejected_at, last_message)
     select (now() at time zone 'utc')::date, x->>'feature', x->>'rule', $2, (x->>'count')::bigint, now(), x->>'message'
       from jsonb_array_elements($1::jsonb) as x
     on conflict (day, feature_name, rule, source) do update
        set rejected = c.rejected + excluded.rejected, last_rejected_at = excluded.last_rejected_at, last_message = excluded.last_message`,
    [JSON.stringify([...merged.values()]), source],
  );
}
