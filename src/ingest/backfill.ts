// Backfill of an aggregation feature: replays the raw_events of a page of entities into their Durable Objects' tiles
// (POST /admin/backfill; `npm run stream -- backfill` pages through every entity, resumable by cursor).
import { z } from "zod";
import { type AggregationEvent, admission, aggregateObjectName, foldIntoTiles, planOf, shardOf, tileStartOf } from "../core/aggregation";
import { errorMessage, FeatureStoreError } from "../core/errors";
import { durableObjectName } from "../core/keys";
import type { CompiledRegistry } from "../core/registry";
import { type PostgresConfig, withPostgresClient } from "../db/postgres";
import { backfillCutoff } from "../durable/aggregate-tiles";
import type { EntityState } from "../durable/entity-state";

/** Entities one request replays at most. */
export const MAX_BACKFILL_PAGE = 200;
export const DEFAULT_BACKFILL_PAGE = 50;

export const BackfillRequest = z
  .object({
    feature: z.string().min(1),
    since: z.iso.datetime({ offset: true, message: "must be an ISO-8601 date-time with a zone" }).optional(),
    after: z.string().min(1).optional().meta({ description: "Resume after this entity id (the previous page's next_after)" }),
    limit: z.number().int().min(1).max(MAX_BACKFILL_PAGE).default(DEFAULT_BACKFILL_PAGE),
  })
  .strict();
export type BackfillRequest = z.infer<typeof BackfillRequest>;

export const BackfillPage = z.object({
  feature: z.string(),
  entity_type: z.string(),
  /** Tile start the replay began at (since, aligned down to a tile; default: the oldest tile the window and lateness can reach). */
  from: z.string(),
  /** Entities with events since `from` (all pages), for a progress bar. */
  total_entities: z.number().int(),
  entities: z.number().int(),
  events: z.number().int(),
  replaced_tiles: z.number().int(),
  next_after: z.string().nullable().meta({ description: "null: this was the last page" }),
});
export type BackfillPage = z.infer<typeof BackfillPage>;

export interface BackfillDeps {
  registry: () => Promise<CompiledRegistry>;
  postgres: PostgresConfig | undefined;
  entityState: DurableObjectNamespace<EntityState> | undefined;
  now: () => number;
}

interface EventRow {
  entity_id: string;
  event_id: string;
  ts: number;
  arrived: number;
  fields: Record<string, unknown>;
}

/**
 * One page of a backfill: the next `limit` entities (by id, after `after`) that have events of the
 * feature's source type since `from`, each rebuilt with one Durable Object call. Idempotent, so a
 * page may be repeated after a failure. Events count as they would have live: admitted at their
 * arrival (received_at) within the allowed lateness, so serving and training sets keep agreeing.
 */
export async function backfillPage(req: BackfillRequest, deps: BackfillDeps): Promise<BackfillPage> {
  const registry = await deps.registry();
  const def = registry.resolve(req.feature);
  if (!def) throw new FeatureStoreError("not_found", `Unknown feature: ${req.feature} (registry ${registry.version})`);
  const plan = planOf(registry, req.feature);
  if (!plan || plan.windowMs === null)
    throw new FeatureStoreError(
      "bad_request",
      plan
        ? `${def.name} is a lifetime aggregate: it cannot be backfilled idempotently`
        : `${def.name} is ${def.computation_type}, not an aggregation feature`,
    );
  if (!deps.postgres || !deps.entityState)
    throw new FeatureStoreError("unavailable", "Backfill needs DATABASE_URL and the ENTITY_STATE binding");
  const joinKey = registry.snapshot.entities.find((e) => e.name === def.entity_type)?.join_key;
  if (!joinKey)
    throw new FeatureStoreError("bad_request", `Entity type ${def.entity_type} has no join key in registry ${registry.version}`);
  const now = deps.now();
  const oldestReachable = now - plan.windowMs - plan.latenessMs;
  const since = req.since ? Math.max(Date.parse(req.since), oldestReachable) : oldestReachable;
  const from = tileStartOf(plan, since);
  const source = plan.spec.source_event;

  const { total, rows } = await withPostgresClient(deps.postgres!, async (client) => {
    const count = await client.query<{ n: number }>(
      `select count(distinct entities ->> $2)::int as n from raw_events
        where event_type = $1 and event_timestamp >= $3 and entities ? $2`,
      [source, joinKey, new Date(from).toISOString()],
    );
    const page = await client.query<{ id: string }>(
      `select distinct entities ->> $2 as id from raw_events
        where event_type = $1 and event_timestamp >= $3 and entities ? $2 and ($4::text is null or entities ->> $2 > $4)
        order by 1 limit $5`,
      [source, joinKey, new Date(from).toISOString(), req.after ?? null, req.limit],
    );
    const ids = page.rows.map((r) => r.id);
    const events =
      ids.length === 0
        ? []
        : (
            await client.query<EventRow>(
              // One lookup per id in raw_events_entities_idx (GIN over entities; see src/training/aggregates.ts).
              `select ids.id as entity_id, r.event_id, round(extract(epoch from r.event_timestamp) * 1000)::float8 as ts,
                      round(extract(epoch from r.received_at) * 1000)::float8 as arrived, r.fields
                 from unnest($4::text[]) as ids(id)
                 join raw_events r on r.entities @> jsonb_build_object($2::text, ids.id)
                where r.event_type = $1 and r.event_timestamp >= $3`,
              [source, joinKey, new Date(from).toISOString(), ids],
            )
          ).rows;
    return { total: count.rows[0]?.n ?? 0, rows: { ids, events } };
  }).catch((err: unknown) => {
    throw new FeatureStoreError(
      "unavailable",
      `Postgres did not answer the backfill's queries (${errorMessage(err)}); repeat the page`,
      undefined,
      {
        cause: err,
      },
    );
  });

  const byEntity = new Map<string, AggregationEvent[]>(rows.ids.map((id) => [id, []]));
  for (const e of rows.events) {
    const ts = Number(e.ts);
    // As the live path would have: an event refused on arrival (too late, too early) never counts.
    if (admission(plan.latenessMs, ts, Number(e.arrived))) continue;
    byEntity.get(e.entity_id)?.push({ event_type: source, event_id: e.event_id, event_timestamp: ts, fields: e.fields });
  }
  const ns = deps.entityState;
  const cutoff = backfillCutoff(plan, now);
  let replaced = 0;
  // A sharded feature's shards each get the events of their own shard (the live path's shardOf), every shard
  // rebuilt even when it has none (its old tiles in range are then removed).
  const calls = [...byEntity].flatMap(([id, events]) =>
    Array.from({ length: plan.shards }, (_, k) => ({
      name: aggregateObjectName(durableObjectName(def.entity_type, id), plan.shards, k),
      events: plan.shards <= 1 ? events : events.filter((e) => shardOf(e.event_id, plan.shards) === k),
    })),
  );
  const settled = await Promise.allSettled(
    calls.map(async ({ name, events }) => {
      const stub = ns.get(ns.idFromName(name));
      const tiles = foldIntoTiles(
        plan,
        events.filter((e) => e.event_timestamp < cutoff),
      );
      const recent = events.filter((e) => e.event_timestamp >= cutoff);
      const result = await stub.backfillAggregate(plan, tiles, recent, from, now);
      replaced += result.replacedTiles;
    }),
  );
  const failed = settled.filter((r) => r.status === "rejected");
  if (failed.length > 0)
    throw new FeatureStoreError(
      "unavailable",
      `${failed.length} of ${settled.length} Durable Objects failed the backfill (${errorMessage((failed[0] as PromiseRejectedResult).reason)}); repeat the page: it is idempotent`,
    );
  return {
    feature: def.name,
    entity_type: def.entity_type,
    from: new Date(from).toISOString(),
    total_entities: total,
    entities: rows.ids.length,
    events: rows.events.length,
    replaced_tiles: replaced,
    next_after: rows.ids.length < req.limit ? null : (rows.ids.at(-1) ?? null),
  };
}
