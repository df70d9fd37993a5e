// SQL of point-in-time joins: the spine in temporary tables, one index-driven as-of LATERAL lookup per stored feature.
//
// As-of rule, shared with the oracle in the tests: a row at time T sees, per feature, the
// observation with the greatest event_timestamp <= T (inclusive) whose age T - event_timestamp
// is <= ttl_seconds (inclusive, as serving's `now - ts <= maxAge`); ties on event_timestamp go
// to the greater tiebreak (the first 16 hex characters of the idempotency key, "C" collation), the
// rule every online tier applies (src/core/keys.ts isNewer), so a training row sees the value
// serving would have served; then the highest id. Each lookup is a descent of
// feature_values_lookup_idx (entity_type, entity_id, feature_name, event_timestamp desc) bounded
// on both sides, so its cost is one short index probe whatever the length of the history.
//
// Plan: (1) the spine goes into a temporary table; (2) per entity type, its rows are copied in
// (entity id, time) order and joined chunk by chunk into a result table, so consecutive probes
// hit the same index and heap pages (about twice as fast as probing in spine order); (3) the
// output is read back in spine order, chunk by chunk, joining the result tables by row id.
import { TIEBREAK_CHARS } from "../core/keys";
import type { StoredLookup } from "./plan";

/** The deterministic tie-break: later event, then the online tiers' tiebreak, then later insert. */
export const AS_OF_ORDER = `fv.event_timestamp desc, left(fv.idempotency_key, ${TIEBREAK_CHARS}) collate "C" desc, fv.id desc`;

/** A session-local base name, so concurrent builds on one connection never collide. */
export function spineTableName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `pg_temp.fs_training_spine_${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export const slotOrderTable = (table: string, slot: number): string => `${table}_o${slot}`;
export const slotResultTable = (table: string, slot: number): string => `${table}_r${slot}`;

const slotColumns = (slots: number): string[] => Array.from({ length: slots }, (_, i) => `e${i}`);

/** row_id is 1-based spine order; e<k> is the row's id of the plan's k-th entity type (null: none). */
export function createSpineTableSql(table: string, slots: number, range: boolean): string {
  const columns = [
    "row_id integer primary key",
    "ts timestamptz not null",
    ...(range ? ["src_type text not null", "src_id text not null"] : []),
    ...slotColumns(slots).map((c) => `${c} text`),
  ];
  return `create temporary table ${table} (${columns.join(", ")})`;
}

/** Bulk insert of spine rows: one array parameter per column (row ids, ISO times, then one per id slot). */
export function insertSpineSql(table: string, slots: number): string {
  const columns = ["row_id", "ts", ...slotColumns(slots)];
  const arrays = columns.map((_, i) => `$${i + 1}::${i === 0 ? "int4" : i === 1 ? "timestamptz" : "text"}[]`);
  return `insert into ${table} (${columns.join(", ")}) select * from unnest(${arrays.join(", ")})`;
}

/**
 * Range mode's spine, built in Postgres: one row per distinct (entity, event time) at which any
 * requested stored feature of that entity was observed in [start, end).
 * Params: $1 entity types[], $2 entity ids[], $3 feature names[], $4 start, $5 end, then one entity type per slot.
 */
export function insertRangeSpineSql(table: string, entityTypes: readonly string[]): string {
  const ids = entityTypes.map((_, i) => `case when o.entity_type = $${6 + i} then o.entity_id end`);
  const columns = ["row_id", "ts", "src_type", "src_id", ...slotColumns(entityTypes.length)];
  return `insert into ${table} (${columns.join(", ")})
select (row_number() over (order by o.entity_type, o.entity_id, o.ts))::int, o.ts, o.entity_type, o.entity_id${ids.map((c) => `, ${c}`).join("")}
from (
  select distinct fv.entity_type, fv.entity_id, fv.event_timestamp as ts
  from unnest($1::text[], $2::text[]) as e(entity_type, entity_id)
  join feature_values fv on fv.entity_type = e.entity_type and fv.entity_id = e.entity_id
  where fv.feature_name = any($3::text[]) and fv.event_timestamp >= $4::timestamptz and fv.event_timestamp < $5::timestamptz
) o`;
}

/**
 * The rows that have an id of slot k, physically in (id, time) order and numbered o = 1..n in that
 * order: a range of o is read in that order by any scan, so the probes of a chunk walk the index.
 */
export function createSlotOrderSql(table: string, slot: number): string[] {
  const ordered = slotOrderTable(table, slot);
  return [
    `create temporary table ${ordered} as
select (row_number() over (order by e${slot}, ts, row_id))::int as o, row_id, e${slot} as e, ts
from ${table} where e${slot} is not null order by 1`,
    `alter table ${ordered} add primary key (o)`,
    `analyze ${ordered}`,
  ];
}

/** Global lookup indexes answered from slot k's result table: v<k>/t<k> columns keep the plan's numbering. */
export function createSlotResultSql(table: string, slot: number, lookups: readonly { index: number }[]): string {
  const columns = lookups.flatMap((l) => [`v${l.index} jsonb`, `t${l.index} float8`]);
  return `create temporary table ${slotResultTable(table, slot)} (row_id integer primary key${columns.map((c) => `, ${c}`).join("")})`;
}

export interface SlotJoinQuery {
  /** select: row_id and, per lookup k, v<k> (the value, jsonb) and t<k> (its event time, epoch ms; null when none). */
  select: string;
  /** The same, written into the slot's result table. */
  insert: string;
  /** Parameters for ordered rows lo..hi (o, inclusive). */
  params(lo: number, hi: number): unknown[];
}

/** One chunk of as-of lookups for the rows of one entity type. Params: $1 lo, $2 hi, $3 entity type, then name and ttl per lookup. */
export function slotJoinQuery(
  table: string,
  slot: number,
  entityType: string,
  lookups: readonly { index: number; lookup: StoredLookup }[],
): SlotJoinQuery {
  const selects = ["s.row_id"];
  const joins: string[] = [];
  lookups.forEach(({ index }, i) => {
    const p = 4 + i * 2;
    selects.push(`l${index}.v as v${index}`, `l${index}.t as t${index}`);
    joins.push(`left join lateral (
  select fv.feature_value as v, (extract(epoch from fv.event_timestamp) * 1000)::float8 as t
  from feature_values fv
  where fv.entity_type = $3 and fv.entity_id = s.e and fv.feature_name = $${p}
    and fv.event_timestamp <= s.ts and fv.event_timestamp >= s.ts - $${p + 1}::int * interval '1 second'
  order by ${AS_OF_ORDER}
  limit 1
) l${index} on true`);
  });
  const select = `select ${selects.join(", ")}
from ${slotOrderTable(table, slot)} s
${joins.join("\n")}
where s.o between $1 and $2`;
  const columns = ["row_id", ...lookups.flatMap(({ index }) => [`v${index}`, `t${index}`])];
  const lookupParams = lookups.flatMap(({ lookup }) => [lookup.def.name, lookup.def.ttl_seconds]);
  return {
    select,
    insert: `insert into ${slotResultTable(table, slot)} (${columns.join(", ")})\n${select}`,
    params: (lo, hi) => [lo, hi, entityType, ...lookupParams],
  };
}

export interface OutputQuery {
  text: string;
  /** Parameters for spine rows lo..hi (row_id, inclusive). */
  params(lo: number, hi: number): unknown[];
}

/** Spine rows lo..hi in order with every v<k>/t<k>; range mode also returns the row's entity and time. */
export function outputQuery(table: string, slotLookups: readonly (readonly number[])[], range: boolean): OutputQuery {
  const selects = ["s.row_id"];
  if (range) selects.push("s.src_type", "s.src_id", "(extract(epoch from s.ts) * 1000)::float8 as src_ts");
  const joins: string[] = [];
  slotLookups.forEach((indexes, slot) => {
    if (indexes.length === 0) return;
    for (const k of indexes) selects.push(`r${slot}.v${k}`, `r${slot}.t${k}`);
    joins.push(`left join ${slotResultTable(table, slot)} r${slot} on r${slot}.row_id = s.row_id`);
  });
  return {
    text: `select ${selects.join(", ")}\nfrom ${table} s\n${joins.join("\n")}${joins.length ? "\n" : ""}where s.row_id between $1 and $2\norder by s.row_id`,
    params: (lo, hi) => [lo, hi],
  };
}
