// An entity's aggregation tiles in its Durable Object's SQLite: exactly-once folding of raw events, evaluation at now, pruning.
import {
  type AggregationEvent,
  type AggregationPlan,
  admission,
  evaluateWindow,
  foldEvent,
  oldestTileStart,
  type RefusalReason,
  type Tile,
  type TileState,
  tileStartOf,
} from "../core/aggregation";
import type { TimedValue } from "../core/keys";

/** An event stamped later than this after the object's clock is refused (reason "future"; the rule is core's `admission`). */
export { MAX_FUTURE_MS, type RefusalReason } from "../core/aggregation";
/** How often the alarm prunes expired tiles and event ids while the object holds any. */
export const PRUNE_INTERVAL_MS = 60 * 60_000;

export interface FoldResult {
  /** Events folded into at least one tile now. */
  applied: number;
  /** Future-stamped events (within MAX_FUTURE_MS) held until the clock reaches their event time. */
  held: number;
  /** Event ids already seen within the lateness horizon: nothing changed. */
  duplicate: number;
  /** Events that no plan of this call reads (nothing stored, not remembered). */
  ignored: number;
  /** Refused events by reason; they are also added to the object's refusal counters. */
  refused: Partial<Record<RefusalReason, number>>;
}

interface SpecRow extends Record<string, SqlStorageValue> {
  fingerprint: string;
  retention_ms: number;
}

/**
 * Tables (created on first use by the constructor):
 * - agg_tiles (fingerprint, tile_start) → state JSON: one row per feature spec and tile;
 * - agg_specs: each fingerprint's retention (window + lateness; -1 lifetime) for the alarm;
 * - agg_seen_spec: (fingerprint, event id) pairs folded, with the time until which a replay could still be
 *   accepted (event time + lateness): per spec, so a backfill of one feature never hides an event from another;
 * - agg_held: future-stamped events with the plans they arrived with, folded once their time comes;
 * - agg_refused: counters of refused events by reason.
 */
export class AggregateTiles {
  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: DurableObjectStorage,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS agg_tiles (
      fingerprint TEXT NOT NULL, tile_start INTEGER NOT NULL, state TEXT NOT NULL, PRIMARY KEY (fingerprint, tile_start))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS agg_specs (
      fingerprint TEXT PRIMARY KEY, feature TEXT NOT NULL, retention_ms INTEGER NOT NULL)`);
    // Objects from before per-spec dedup had agg_seen / agg_held keyed by event id alone (dev stacks only).
    sql.exec("DROP TABLE IF EXISTS agg_seen");
    sql.exec("DROP TABLE IF EXISTS agg_held");
    sql.exec(`CREATE TABLE IF NOT EXISTS agg_seen_spec (
      fingerprint TEXT NOT NULL, event_id TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (fingerprint, event_id))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS agg_held_spec (
      fingerprint TEXT NOT NULL, event_id TEXT NOT NULL, event_ts INTEGER NOT NULL, event TEXT NOT NULL, plan TEXT NOT NULL,
      PRIMARY KEY (fingerprint, event_id))`);
    sql.exec("CREATE TABLE IF NOT EXISTS agg_refused (reason TEXT PRIMARY KEY, count INTEGER NOT NULL)");
  }

  /**
   * Folds a batch (at-least-once delivery: any event may come again, in any order) so that each event
   * id changes the tiles once. An event older than its type's allowed lateness at `now` is refused
   * ("too_late"), one stamped more than MAX_FUTURE_MS ahead is refused ("future").
   */
  async fold(events: readonly AggregationEvent[], plans: readonly AggregationPlan[], now: number): Promise<FoldResult> {
    const result: FoldResult = { applied: 0, held: 0, duplicate: 0, ignored: 0, refused: {} };
    this.storage.transactionSync(() => {
      const pending = new TileBatch(this.sql);
      this.releaseHeld(pending, now);
      for (const e of events) {
        const mine = plans.filter((p) => p.spec.source_event === e.event_type);
        if (mine.length === 0) {
          result.ignored++;
          continue;
        }
        const lateness = Math.max(...mine.map((p) => p.latenessMs));
        const reason = admission(lateness, e.event_timestamp, now);
        if (reason) {
          result.refused[reason] = (result.refused[reason] ?? 0) + 1;
          continue;
        }
        const fresh = mine.filter((plan) => this.firstSight(plan, e.event_id, e.event_timestamp + lateness));
        if (fresh.length === 0) {
          result.duplicate++;
          continue;
        }
        if (e.event_timestamp > now) {
          for (const plan of fresh)
            this.sql.exec(
              "INSERT INTO agg_held_spec (fingerprint, event_id, event_ts, event, plan) VALUES (?, ?, ?, ?, ?)",
              plan.fingerprint,
              e.event_id,
              e.event_timestamp,
              JSON.stringify(e),
              JSON.stringify(plan),
            );
          result.held++;
          continue;
        }
        for (const plan of fresh) pending.fold(plan, e);
        result.applied++;
      }
      pending.write();
      for (const plan of plans) this.recordSpec(plan);
      for (const [reason, count] of Object.entries(result.refused)) {
        this.sql.exec(
          "INSERT INTO agg_refused (reason, count) VALUES (?, ?) ON CONFLICT(reason) DO UPDATE SET count = count + excluded.count",
          reason,
          count,
        );
      }
    });
    // The real clock, not `now`: a test clock in the past must not make the alarm fire at once.
    if ((await this.storage.getAlarm()) === null) await this.storage.setAlarm(Date.now() + PRUNE_INTERVAL_MS);
    return result;
  }

  /**
   * Replays stored events into one feature's tiles (backfill), idempotently: running it twice, or
   * resuming after a failure, gives the same tiles. The tiles that live events can no longer reach
   * (start < backfillCutoff: every event of theirs is too late now) are replaced by `tiles`, computed
   * by the caller from the offline events with the same fold; the events at or after the cutoff are
   * folded through the exactly-once path (lateness waived, their ids remembered a tile longer than
   * usual, so a later backfill of the same range still sees them). Tiles before `fromTileStart` stay.
   */
  backfill(
    plan: AggregationPlan,
    tiles: readonly Tile[],
    events: readonly AggregationEvent[],
    fromTileStart: number,
    now: number,
  ): { replacedTiles: number; applied: number; duplicate: number; cutoff: number } {
    const cutoff = backfillCutoff(plan, now);
    let replacedTiles = 0;
    let applied = 0;
    let duplicate = 0;
    this.storage.transactionSync(() => {
      this.sql.exec(
        "DELETE FROM agg_tiles WHERE fingerprint = ? AND tile_start >= ? AND tile_start < ?",
        plan.fingerprint,
        fromTileStart,
        cutoff,
      );
      for (const tile of tiles) {
        if (tile.start < fromTileStart || tile.start >= cutoff) continue;
        this.sql.exec(
          "INSERT INTO agg_tiles (fingerprint, tile_start, state) VALUES (?, ?, ?)",
          plan.fingerprint,
          tile.start,
          JSON.stringify(tile.state),
        );
        replacedTiles++;
      }
      const pending = new TileBatch(this.sql);
      for (const e of events) {
        if (e.event_type !== plan.spec.source_event || e.event_timestamp < cutoff || e.event_timestamp > now) continue;
        if (!this.firstSight(plan, e.event_id, e.event_timestamp + plan.latenessMs + (plan.tileMs ?? 0))) duplicate++;
        else {
          pending.fold(plan, e);
          applied++;
        }
      }
      pending.write();
      this.recordSpec(plan);
    });
    return { replacedTiles, applied, duplicate, cutoff };
  }

  /** The aggregates at `now` over the window ending then; a feature with no event in its window is absent. */
  evaluate(plans: readonly AggregationPlan[], now: number): Record<string, TimedValue> {
    const out: Record<string, TimedValue> = {};
    const tiles = this.windowTiles(plans, now);
    for (const plan of plans) {
      const value = evaluateWindow(plan, tiles[plan.feature] ?? [], now);
      if (value) out[plan.feature] = value;
    }
    return out;
  }

  /**
   * The stored tiles each plan's window at `now` reads (held events whose time has come folded first): what
   * a shard of a sharded feature answers, merged by the reader with the other shards' (core evaluateWindow).
   */
  windowTiles(plans: readonly AggregationPlan[], now: number): Record<string, Tile[]> {
    const out: Record<string, Tile[]> = {};
    this.storage.transactionSync(() => {
      const pending = new TileBatch(this.sql);
      this.releaseHeld(pending, now);
      pending.write();
      for (const plan of plans) {
        const rows = this.sql.exec<{ tile_start: number; state: string }>(
          "SELECT tile_start, state FROM agg_tiles WHERE fingerprint = ? AND tile_start >= ? AND tile_start <= ?",
          plan.fingerprint,
          oldestTileStart(plan, now),
          now,
        );
        const tiles: Tile[] = [];
        for (const row of rows) tiles.push({ start: row.tile_start, state: JSON.parse(row.state) as TileState });
        out[plan.feature] = tiles;
      }
    });
    return out;
  }

  /** Refused events by reason since the object was created. */
  refusals(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const row of this.sql.exec<{ reason: string; count: number }>("SELECT reason, count FROM agg_refused"))
      out[row.reason] = row.count;
    return out;
  }

  /**
   * Deletes tiles no window or accepted late event can reach again (start ≤ now − window − lateness),
   * event ids past their replay horizon, and re-arms itself while anything is left. Lifetime tiles stay.
   */
  prune(now: number): { tiles: number; eventIds: number } {
    let tiles = 0;
    let eventIds = 0;
    this.storage.transactionSync(() => {
      for (const spec of this.sql.exec<SpecRow>("SELECT fingerprint, retention_ms FROM agg_specs WHERE retention_ms >= 0").toArray()) {
        tiles += this.sql.exec(
          "DELETE FROM agg_tiles WHERE fingerprint = ? AND tile_start <= ?",
          spec.fingerprint,
          now - spec.retention_ms,
        ).rowsWritten;
      }
      eventIds = this.sql.exec("DELETE FROM agg_seen_spec WHERE expires_at < ?", now).rowsWritten;
    });
    return { tiles, eventIds };
  }

  /** Whether the alarm still has something to prune later. */
  holdsAny(): boolean {
    const [row] = this.sql
      .exec<{ n: number }>(
        "SELECT (SELECT COUNT(*) FROM agg_tiles) + (SELECT COUNT(*) FROM agg_seen_spec) + (SELECT COUNT(*) FROM agg_held_spec) AS n",
      )
      .toArray();
    return (row?.n ?? 0) > 0;
  }

  /** Folds held events whose event time has come, with the plans they arrived with. */
  private releaseHeld(batch: TileBatch, now: number): void {
    const due = this.sql.exec<{ event: string; plan: string }>("SELECT event, plan FROM agg_held_spec WHERE event_ts <= ?", now).toArray();
    if (due.length === 0) return;
    for (const row of due) batch.fold(JSON.parse(row.plan) as AggregationPlan, JSON.parse(row.event) as AggregationEvent);
    this.sql.exec("DELETE FROM agg_held_spec WHERE event_ts <= ?", now);
  }

  /** The spec's retention (window + lateness; -1 lifetime), which the alarm prunes by. */
  private recordSpec(plan: AggregationPlan): void {
    this.sql.exec(
      `INSERT INTO agg_specs (fingerprint, feature, retention_ms) VALUES (?, ?, ?)
       ON CONFLICT(fingerprint) DO UPDATE SET feature = excluded.feature, retention_ms = excluded.retention_ms`,
      plan.fingerprint,
      plan.feature,
      plan.windowMs === null ? -1 : plan.windowMs + plan.latenessMs,
    );
  }

  /** Records that the spec saw the event id; false when it had (a replay within the horizon changes nothing). */
  private firstSight(plan: AggregationPlan, eventId: string, expiresAt: number): boolean {
    return (
      this.sql.exec(
        "INSERT INTO agg_seen_spec (fingerprint, event_id, expires_at) VALUES (?, ?, ?) ON CONFLICT(fingerprint, event_id) DO NOTHING",
        plan.fingerprint,
        eventId,
        expiresAt,
      ).rowsWritten > 0
    );
  }
}

/**
 * The first tile start live events can still reach at `now`: tiles before it hold only events older than
 * the allowed lateness (refused online), so a backfill may replace them whole.
 */
export function backfillCutoff(plan: AggregationPlan, now: number): number {
  if (plan.tileMs === null)
    throw new Error(`${plan.feature} is a lifetime aggregate: its one tile is never out of reach, so it cannot be backfilled`);
  return Math.floor((now - plan.latenessMs) / plan.tileMs) * plan.tileMs;
}

/** Tile states read once and written once per batch, however many events fall into a tile. */
class TileBatch {
  private readonly states = new Map<string, { fingerprint: string; start: number; state: TileState | undefined }>();

  constructor(private readonly sql: SqlStorage) {}

  fold(plan: AggregationPlan, e: AggregationEvent): void {
    const start = tileStartOf(plan, e.event_timestamp);
    const key = `${plan.fingerprint}/${start}`;
    let entry = this.states.get(key);
    if (!entry) {
      const [row] = this.sql
        .exec<{ state: string }>("SELECT state FROM agg_tiles WHERE fingerprint = ? AND tile_start = ?", plan.fingerprint, start)
        .toArray();
      entry = { fingerprint: plan.fingerprint, start, state: row ? (JSON.parse(row.state) as TileState) : undefined };
      this.states.set(key, entry);
    }
    entry.state = foldEvent(plan, entry.state, e);
  }

  write(): void {
    for (const { fingerprint, start, state } of this.states.values()) {
      if (!state) continue;
      this.sql.exec(
        `INSERT INTO agg_tiles (fingerprint, tile_start, state) VALUES (?, ?, ?)
         ON CONFLICT(fingerprint, tile_start) DO UPDATE SET state = excluded.state`,
        fingerprint,
        start,
        JSON.stringify(state),
      );
    }
    this.states.clear();
  }
}
