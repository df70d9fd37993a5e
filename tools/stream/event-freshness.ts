// Event-to-served freshness on a running stack: POST /ingest/events one play of a fresh user, then poll
// /features/get until tracks_played_1h is 1 (what `npm run stream -- freshness` reports).

/** How long an event may take to show before it counts as a miss. */
export const VISIBLE_TIMEOUT_MS = 10_000;

export interface FreshnessSample {
  /** POST /ingest/events until its 202. */
  acceptMs: number;
  /** 202 until /features/get serves the new count. */
  visibleMs: number;
}

export interface FreshnessTarget {
  servingUrl: string;
  ingestUrl: string;
  key: string;
}

/** One sample; `i` makes the user, session and event id unique within a run. */
export async function measureEventFreshness(target: FreshnessTarget, i: number): Promise<FreshnessSample> {
  const headers = { authorization: `Bearer ${target.key}`, "content-type": "application/json" };
  const stamp = `${Date.now().toString(36)}_${i}`;
  const user = `user_fresh_${stamp}`;
  const event = {
    event_type: "listening_event",
    event_id: `fresh-${stamp}`,
    event_timestamp: new Date().toISOString(),
    entities: { user_id: user, track_id: "track_1", artist_id: "artist_1", session_id: `session_fresh_${stamp}` },
    fields: { seconds_played: 30, skipped: false, replayed: false, source: "home", device_type: "mobile" },
  };
  const started = performance.now();
  const res = await fetch(`${target.ingestUrl}/ingest/events`, { method: "POST", headers, body: JSON.stringify(event) });
  if (res.status !== 202) throw new Error(`POST /ingest/events answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const accepted = performance.now();
  const body = JSON.stringify({ entity_id: user, feature_names: ["tracks_played_1h"] });
  for (;;) {
    const got = await fetch(`${target.servingUrl}/features/get`, { method: "POST", headers, body });
    const features = ((await got.json()) as { features?: Record<string, unknown> }).features;
    if (features?.tracks_played_1h === 1) return { acceptMs: accepted - started, visibleMs: performance.now() - accepted };
    if (performance.now() - accepted > VISIBLE_TIMEOUT_MS)
      throw new Error(`event ${event.event_id} not visible after ${VISIBLE_TIMEOUT_MS} ms`);
  }
}
