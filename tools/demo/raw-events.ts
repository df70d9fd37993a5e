// The demo catalog's history as raw events: listening_events and user_actions copied into raw_events (the offline
// source of aggregation features), so a backfill gives the 7-day rates of `npm run dev` their whole history.
import { GENRES } from "../../src/core/vocabularies";
import { withPgClient } from "../postgres";

/** Demo action names → the user_action event type's allowed values (features/events.yaml). */
const ACTION_NAMES: Readonly<Record<string, string>> = { playlist_create: "playlist_created", share: "shared" };

const GENRE_SQL = "lower(regexp_replace(regexp_replace(trim(t.genre_primary), '&', '_and_', 'g'), '[[:space:]_-]+', '_', 'g'))";

/**
 * Copies the demo history (ids `demo-le-N`, `demo-ua-N`: a second copy inserts nothing), each event
 * received at its own time, as if it had streamed in live. Returns the rows inserted.
 */
export async function copyDemoHistory(databaseUrl: string): Promise<number> {
  return withPgClient(databaseUrl, async (client) => {
    const plays = await client.query(
      `insert into raw_events (event_id, event_type, event_timestamp, entities, fields, received_at)
       select 'demo-le-' || e.id, 'listening_event', e.started_at,
              jsonb_build_object('user_id', e.user_id, 'track_id', e.track_id, 'artist_id', t.artist_id, 'session_id', e.session_id),
              jsonb_strip_nulls(jsonb_build_object(
                'seconds_played', e.ms_played / 1000.0, 'skipped', e.skipped, 'replayed', e.replayed,
                'source', e.source, 'device_type', e.device_type,
                'genre', case when ${GENRE_SQL} = any($1::text[]) then ${GENRE_SQL} end)),
              e.started_at
         from listening_events e join tracks t on t.id = e.track_id
       on conflict (event_id) do nothing`,
      [[...GENRES]],
    );
    const actions = await client.query(
      `insert into raw_events (event_id, event_type, event_timestamp, entities, fields, received_at)
       select 'demo-ua-' || a.id, 'user_action', a.occurred_at, jsonb_build_object('user_id', a.user_id),
              jsonb_strip_nulls(jsonb_build_object('action', ($1::jsonb) ->> a.action, 'target_id', a.track_id)),
              a.occurred_at
         from user_actions a
        where ($1::jsonb) ? a.action
       on conflict (event_id) do nothing`,
      [JSON.stringify(ACTION_NAMES)],
    );
    return (plays.rowCount ?? 0) + (actions.rowCount ?? 0);
  });
}
