// Aggregation features in training sets: each cell computed point-in-time from raw_events with the serving semantics
// (src/core/aggregation.ts aggregateAsOf: what the entity's Durable Object answered at the row's time).
import { type AggregationPlan, type ArrivedEvent, aggregateAsOf, planOf } from "../core/aggregation";
import type { TimedValue } from "../core/keys";
import type { CompiledRegistry } from "../core/registry";
import type { PlannedOutput } from "./plan";
import type { SqlRunner } from "./sql-runner";

/** A row to compute: its time and its entity id per slot. */
export interface AggregateRow {
  ts: number;
  ids: readonly (string | undefined)[];
}

/** Entity ids per raw_events query (one `= any($ids)` list). */
const IDS_PER_QUERY = 1_000;

// One containment lookup per id in raw_events_entities_idx (GIN, jsonb_path_ops; migration 0007), which serves every
// join key; `entities ->> $2 = any(ids)` could only scan by event type and time.
const EVENTS_SQL = `select r.event_id, round(extract(epoch from r.event_timestamp) * 1000)::float8 as ts,
       round(extract(epoch from r.received_at) * 1000)::float8 as arrived, r.fields, ids.id as entity_id
  from unnest($3::text[]) as ids(id)
  join raw_events r on r.entities @> jsonb_build_object($2::text, ids.id)
 where r.event_type = $1 and r.event_timestamp >= $4 and r.event_timestamp <= $5`;

/**
 * The cells of every aggregation output for `rows` (one array per output ref, in row order). One query
 * per output and chunk of entity ids reads the events from the oldest window start to the newest row.
 */
export async function aggregateCells(
  runner: SqlRunner,
  registry: CompiledRegistry,
  outputs: readonly PlannedOutput[],
  joinKeyOf: (slot: number) => string,
  rows: readonly AggregateRow[],
): Promise<Map<string, (TimedValue | undefined)[]>> {
  const cells = new Map<string, (TimedValue | undefined)[]>();
  for (const o of outputs) {
    if (o.aggregateSlot === undefined) continue;
    const slot = o.aggregateSlot;
    const plan = planOf(registry, o.def.name) as AggregationPlan;
    const byEntity = await eventsOf(runner, plan, joinKeyOf(slot), rows, slot);
    cells.set(
      o.ref,
      rows.map((r) => {
        const id = r.ids[slot];
        return id === undefined ? undefined : aggregateAsOf(plan, byEntity.get(id) ?? [], r.ts);
      }),
    );
  }
  return cells;
}

async function eventsOf(
  runner: SqlRunner,
  plan: AggregationPlan,
  joinKey: string,
  rows: readonly AggregateRow[],
  slot: number,
): Promise<Map<string, ArrivedEvent[]>> {
  const out = new Map<string, ArrivedEvent[]>();
  const ids = [...new Set(rows.flatMap((r) => (r.ids[slot] === undefined ? [] : [r.ids[slot] as string])))];
  if (ids.length === 0) return out;
  const times = rows.map((r) => r.ts);
  const newest = Math.max(...times);
  // Every window starts at or after oldestTileStart of its row; lifetime aggregates read from the start.
  const oldest = plan.windowMs === null ? 0 : Math.min(...times) - plan.windowMs;
  for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
    const found = await runner.query<{ event_id: string; ts: number; arrived: number; fields: Record<string, unknown>; entity_id: string }>(
      EVENTS_SQL,
      [
        plan.spec.source_event,
        joinKey,
        ids.slice(i, i + IDS_PER_QUERY),
        new Date(Math.max(0, oldest)).toISOString(),
        new Date(newest).toISOString(),
      ],
    );
    for (const e of found) {
      const list = out.get(e.entity_id) ?? [];
      out.set(e.entity_id, list);
      list.push({
        event_type: plan.spec.source_event,
        event_id: e.event_id,
        event_timestamp: Number(e.ts),
        arrived_at: Number(e.arrived),
        fields: e.fields,
      });
    }
  }
  return out;
}
