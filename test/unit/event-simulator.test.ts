// The demo event simulator (npm run dev, npm run demo:stream): its events fit the catalog's event types and feed every aggregation.
import { describe, expect, it } from "vitest";
import { EventEnvelope, eventIssues } from "../../src/core/event-types";
import { EventSimulator, recentEvents } from "../../tools/demo/event-simulator";
import { FEATURES_DIR } from "../../tools/paths";
import { loadDefinitions } from "../../tools/registry/load-definitions";

const TRACKS = Array.from({ length: 50 }, (_, i) => ({
  id: `track_${i + 1}`,
  artistId: `artist_${(i % 7) + 1}`,
  genre: i % 3 ? "pop" : undefined,
}));
const NOW = Date.UTC(2026, 11, 1, 12);

describe("EventSimulator", () => {
  const loaded = loadDefinitions(FEATURES_DIR);
  const types = new Map(loaded.eventTypes.map((t) => [t.name, t]));

  it("sends envelopes that POST /ingest/events accepts for the catalog's event types", () => {
    const sim = new EventSimulator({ users: 20, tracks: TRACKS, seed: 7 });
    const events = recentEvents(sim, 400, 50 * 60_000, NOW);
    for (const e of events) {
      expect(EventEnvelope.safeParse(e).success).toBe(true);
      const type = types.get(e.event_type);
      expect(type, e.event_type).toBeDefined();
      if (type) expect(eventIssues(type, e), JSON.stringify(e)).toEqual([]);
    }
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    const times = events.map((e) => Date.parse(String(e.event_timestamp)));
    expect(Math.min(...times)).toBeGreaterThan(NOW - 50 * 60_000);
    expect(Math.max(...times)).toBe(NOW);
  });

  it("feeds every aggregation feature of the catalog: both event types, each user_action filter, skips and replays", () => {
    const events = recentEvents(new EventSimulator({ users: 5, tracks: TRACKS, seed: 1 }), 2_000, 3_600_000, NOW);
    const actions = new Set(events.filter((e) => e.event_type === "user_action").map((e) => e.fields.action));
    for (const f of loaded.features.filter((f) => f.computation_type === "aggregation")) {
      const source = events.filter((e) => e.event_type === f.aggregation?.source_event);
      expect(source.length, f.name).toBeGreaterThan(0);
      for (const [field, want] of Object.entries(f.aggregation?.filter ?? {}))
        if (field === "action") expect(actions, f.name).toContain(want);
    }
    const plays = events.filter((e) => e.event_type === "listening_event");
    expect(plays.some((e) => e.fields.skipped === true) && plays.some((e) => e.fields.replayed === true)).toBe(true);
    expect(new Set(plays.map((e) => e.entities.session_id)).size).toBeGreaterThan(5);
  });

  it("is reproducible for a seed and skews plays toward the first tracks (Zipf)", () => {
    const a = recentEvents(new EventSimulator({ users: 10, tracks: TRACKS, seed: 3 }), 300, 60_000, NOW);
    const b = recentEvents(new EventSimulator({ users: 10, tracks: TRACKS, seed: 3 }), 300, 60_000, NOW);
    expect(a).toEqual(b);
    const plays = recentEvents(new EventSimulator({ users: 10, tracks: TRACKS, seed: 9 }), 5_000, 60_000, NOW).filter(
      (e) => e.event_type === "listening_event",
    );
    const top = plays.filter((e) => e.entities.track_id === "track_1").length;
    const last = plays.filter((e) => e.entities.track_id === "track_50").length;
    expect(top).toBeGreaterThan(10 * Math.max(1, last));
  });
});
