// EntityState: one SQLite-backed Durable Object per entity holding its stream features and aggregation tiles (single writer).
import { DurableObject } from "cloudflare:workers";
import type { AggregationEvent, AggregationPlan, Tile } from "../core/aggregation";
import { type TimedValue, timedValue } from "../core/keys";
import { AggregateTiles, type FoldResult, PRUNE_INTERVAL_MS } from "./aggregate-tiles";

export interface FeatureWrite {
  name: string;
  value: unknown;
  eventTimestamp: number;
  /** Orders different values with the same event time (src/core/keys.ts isNewer). */
  tiebreak?: string | undefined;
}

export interface WriteResult {
  /** Features whose stored value changed (the write was newer by event time). */
  applied: string[];
  /** Features left alone because the stored value is as new or newer. */
  stale: string[];
}

export class EntityState extends DurableObject {
  private readonly sql: SqlStorage;
  private readonly tiles: AggregateTiles;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS feature_state (
         name TEXT PRIMARY KEY,
         value TEXT NOT NULL,
         event_ts INTEGER NOT NULL,
         updated_at INTEGER NOT NULL,
         tiebreak TEXT NOT NULL DEFAULT ''
       )`,
    );
    // Objects created before the tiebreak existed get the column (their values rank lowest on ties).
    const [table] = this.sql
      .exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'feature_state'")
      .toArray();
    if (table && !table.sql.includes("tiebreak")) this.sql.exec("ALTER TABLE feature_state ADD COLUMN tiebreak TEXT NOT NULL DEFAULT ''");
    this.tiles = new AggregateTiles(this.sql, ctx.storage);
  }

  /** Stored values of the requested features; absent names are simply missing from the result. */
  getFeatures(names: string[]): Record<string, TimedValue> {
    const out: Record<string, TimedValue> = {};
    if (names.length === 0) return out;
    const placeholders = names.map(() => "?").join(",");
    const rows = this.sql.exec<{ name: string; value: string; event_ts: number; tiebreak: string }>(
      `SELECT name, value, event_ts, tiebreak FROM feature_state WHERE name IN (${placeholders})`,
      ...names,
    );
    for (const row of rows) out[row.name] = timedValue(row.event_ts, JSON.parse(row.value) as unknown, row.tiebreak);
    return out;
  }

  /** Last-write-wins by event time, ties to the greater tiebreak; a replayed or older write changes nothing. */
  putFeatures(writes: FeatureWrite[]): WriteResult {
    const result: WriteResult = { applied: [], stale: [] };
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      for (const w of writes) {
        const cursor = this.sql.exec(
          `INSERT INTO feature_state (name, value, event_ts, updated_at, tiebreak) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET value = excluded.value, event_ts = excluded.event_ts, updated_at = excluded.updated_at,
                                           tiebreak = excluded.tiebreak
           WHERE excluded.event_ts > feature_state.event_ts
              OR (excluded.event_ts = feature_state.event_ts AND excluded.tiebreak > feature_state.tiebreak)`,
          w.name,
          JSON.stringify(w.value ?? null),
          Math.trunc(w.eventTimestamp),
          now,
          w.tiebreak ?? "",
        );
        (cursor.rowsWritten > 0 ? result.applied : result.stale).push(w.name);
      }
    });
    return result;
  }

  /**
   * Folds raw events of this entity into the tiles of the given aggregation features (the caller's
   * compiled registry: the object keeps no registry of its own, so it never serves a spec older than
   * the caller's, and a changed spec names new tiles). `now` is the object's clock unless a test sets it.
   */
  foldEvents(events: AggregationEvent[], plans: AggregationPlan[], now: number = Date.now()): Promise<FoldResult> {
    return this.tiles.fold(events, plans, now);
  }

  /** Backfill of one feature's tiles from stored events (AggregateTiles.backfill: idempotent, resumable). */
  backfillAggregate(
    plan: AggregationPlan,
    tiles: Tile[],
    events: AggregationEvent[],
    fromTileStart: number,
    now: number = Date.now(),
  ): ReturnType<AggregateTiles["backfill"]> {
    return this.tiles.backfill(plan, tiles, events, fromTileStart, now);
  }

  /** The aggregation features' values over their windows ending at `now`; no event in the window: absent. */
  getAggregates(plans: AggregationPlan[], now: number = Date.now()): Record<string, TimedValue> {
    return this.tiles.evaluate(plans, now);
  }

  /** The tiles each plan's window at `now` reads: one shard's part of a sharded feature (AggregateTiles.windowTiles). */
  getAggregateTiles(plans: AggregationPlan[], now: number = Date.now()): Record<string, Tile[]> {
    return this.tiles.windowTiles(plans, now);
  }

  /** Events refused since the object exists, by reason ("too_late", "future"). */
  aggregateRefusals(): Record<string, number> {
    return this.tiles.refusals();
  }

  /** Prunes expired tiles and event ids (README "Streaming aggregations": storage bound); re-arms while any remain. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    this.tiles.prune(now);
    if (this.tiles.holdsAny()) await this.ctx.storage.setAlarm(now + PRUNE_INTERVAL_MS);
  }

  ping(): string {
    return "pong";
  }
}
