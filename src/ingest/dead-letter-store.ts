// Dead letters in Postgres: stored once per update id, with reject counts by feature and rule.

import type { DeadLetterReason, DeadLetterSource } from "../core/ingest-message";
import { type PostgresConfig, withPostgresClient } from "../db/postgres";
import type { deadLetters } from "../db/schema";

/**
 * One dead letter to store: the dead_letters columns it fills (messageId is the update_id of the original
 * message, stable across redeliveries, else `queue:<message id>`), plus what is counted alongside it.
 */
export type DeadLetterRow = Pick<typeof deadLetters.$inferSelect, "messageId" | "message" | "attempts"> & {
  reasons: DeadLetterReason[];
  source: DeadLetterSource;
  /** push | materialization | replay, when the original message says so. */
  ingestSource: string | undefined;
  runId: number | undefined;
};

/**
 * One statement: insert the dead letters (a redelivered one is skipped by the unique message_id),
 * and only for those newly stored: count validation rejects per day, feature, rule and source, and
 * add rejected materialization messages to their run's rejects so the run can be seen to finish.
 */
const STORE_SQL = `
with incoming as (
  select r->>'message_id' as message_id, r->'message' as message, r->'reasons' as reasons,
         r->>'source' as source, (r->>'attempts')::int as attempts,
         coalesce(r->>'ingest_source', 'unknown') as ingest_source, (r->>'run_id')::int as run_id
    from jsonb_array_elements($1::jsonb) as r
),
stored as (
  insert into dead_letters (message_id, message, reasons, source, attempts)
  select distinct on (message_id) message_id, message, reasons, source, attempts from incoming order by message_id
  on conflict (message_id) do nothing
  returning message_id
),
fresh as (
  select distinct on (i.message_id) i.* from incoming i join stored using (message_id) order by i.message_id
),
counted as (
  insert into ingest_rejects as c (day, feature_name, rule, source, rejected, last_rejected_at, last_message)
  select (now() at time zone 'utc')::date, x->>'feature', x->>'rule', f.ingest_source, count(*), now(), max(x->>'message')
    from fresh f cross join lateral jsonb_array_elements(f.reasons) as x
   where f.source = 'validation'
   group by 1, 2, 3, 4
  on conflict (day, feature_name, rule, source) do update
     set rejected = c.rejected + excluded.rejected, last_rejected_at = excluded.last_rejected_at, last_message = excluded.last_message
  returning 1
),
runs as (
  update materialization_runs m set rejects = m.rejects + r.n
    from (select run_id, count(*)::int as n from fresh where run_id is not null and source in ('validation', 'parse') group by run_id) r
   where m.id = r.run_id
  returning m.id
)
select (select count(*) from stored)::int as stored, (select count(*) from counted)::int as counted`;

export class DeadLetterStore {
  constructor(private readonly cfg: PostgresConfig) {}

  /** Stores the batch in one round trip; returns how many were new. */
  async store(rows: DeadLetterRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const payload = rows.map((r) => ({
      message_id: r.messageId,
      message: r.message ?? null,
      reasons: r.reasons,
      source: r.source,
      attempts: r.attempts,
      ...(r.ingestSource ? { ingest_source: r.ingestSource } : {}),
      ...(r.runId === undefined ? {} : { run_id: r.runId }),
    }));
    return withPostgresClient(this.cfg, async (client) => {
      const res = await client.query<{ stored: number }>(STORE_SQL, [JSON.stringify(payload)]);
      return res.rows[0]?.stored ?? 0;
    });
  }
}
