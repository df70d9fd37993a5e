// A labelled spine from the demo catalog: "will the listener skip this track?", for `npm run recommend`.
//
// Each row is one listening event of the demo history: user_id and track_id, event_timestamp one
// second before the play started (so every feature is read as of just before the play, and the
// play itself, which is in raw_events, never counts in its own skip rates), and will_skip (1/0).
// Rows are every k-th event by id, after the first 7 days of history (so 7-day rates have a full
// window): deterministic for a given seeded catalog.
import { withPgClient } from "../postgres";

export const LABEL_COLUMN = "will_skip";
export const DEFAULT_LABEL_ROWS = 2000;
/** How far before the play its row is read: the play must not see itself. */
const BEFORE_PLAY_MS = 1000;
const WARM_UP_DAYS = 7;

export interface LabelRow {
  user_id: string;
  track_id: string;
  event_timestamp: string;
  will_skip: 0 | 1;
}

export async function skipLabels(databaseUrl: string, rows = DEFAULT_LABEL_ROWS): Promise<LabelRow[]> {
  return withPgClient(databaseUrl, async (client) => {
    const result = await client.query<{ user_id: string; track_id: string; started_at: Date; skipped: boolean }>(
      `with eligible as (
         select e.id, e.user_id, e.track_id, e.started_at, e.skipped
           from listening_events e
          where e.started_at >= (select min(started_at) from listening_events) + make_interval(days => $2::int)
       ), numbered as (
         select *, row_number() over (order by id) as n, count(*) over () as total from eligible
       )
       select user_id, track_id, started_at, skipped
         from numbered
        where (n - 1) % greatest(1, total / $1::int) = 0
        order by id
        limit $1::int`,
      [rows, WARM_UP_DAYS],
    );
    return result.rows.map((r) => ({
      user_id: r.user_id,
      track_id: r.track_id,
      event_timestamp: new Date(r.started_at.getTime() - BEFORE_PLAY_MS).toISOString(),
      will_skip: r.skipped ? 1 : 0,
    }));
  });
}
