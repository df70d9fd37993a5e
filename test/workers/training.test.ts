// POST /datasets/training inside workerd against real Postgres (through the relay): as-of values, formats, errors, limits.
import { beforeAll, describe, expect, it } from "vitest";
import { parseCsv } from "../../src/training";
import { post, publishRegistry, SERVE_ONLY_KEY, sql, uniqueId } from "./support";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T = Date.UTC(2024, 5, 2, 7, 30); // Sunday 07:30 UTC: time_of_day "morning"

async function putValue(
  entityType: string,
  entityId: string,
  feature: string,
  value: unknown,
  eventTs: number,
  ingestedAt = eventTs,
): Promise<void> {
  await sql(
    `insert into feature_values (feature_name, entity_type, entity_id, feature_value, event_timestamp, ingested_at, idempotency_key)
     values ($1, $2, $3, $4::jsonb, $5::timestamptz, $6::timestamptz, $7)`,
    [
      feature,
      entityType,
      entityId,
      JSON.stringify(value),
      new Date(eventTs).toISOString(),
      new Date(ingestedAt).toISOString(),
      uniqueId("k"),
    ],
  );
}

/** Body text without workerd's warning about reading application/x-ndjson as text. */
async function bodyText(res: Response): Promise<string> {
  return new TextDecoder().decode(await res.arrayBuffer());
}

async function errorOf(res: Response): Promise<{ code: string; message: string; details?: unknown }> {
  return ((await res.json()) as { error: { code: string; message: string; details?: unknown } }).error;
}

let user: string;
let track: string;

beforeAll(async () => {
  await publishRegistry();
  user = uniqueId("user_");
  track = uniqueId("track_");
  // listening_hours_weekly (ttl 12 h): 0.1 at T-2h, 0.2 at T (the row's own time: visible), 0.9 one ms later (never visible).
  await putValue("user", user, "listening_hours_weekly", 0.1, T - 2 * HOUR);
  await putValue("user", user, "listening_hours_weekly", 0.2, T);
  await putValue("user", user, "listening_hours_weekly", 0.9, T + 1, T - HOUR);
  await putValue("track", track, "danceability", 0.7, T - 10 * MINUTE);
  await putValue("user", user, "favorite_genres", ["jazz", "pop"], T - HOUR);
});

describe("POST /datasets/training", () => {
  it("streams a point-in-time correct CSV: as-of values, nulls for unknown entities, labels passed through", async () => {
    const res = await post("/datasets/training", {
      features: [
        "listening_hours_weekly",
        "track_audio_features:danceability",
        "time_of_day",
        "user_track_genre_affinity",
        "popularity_score",
      ],
      spine: [
        { user_id: user, track_id: track, event_timestamp: new Date(T).toISOString(), track_genre: "pop", label: 'a,"b"' },
        { user_id: user, track_id: track, event_timestamp: T - HOUR, track_genre: "jazz", label: "0" },
        { user_id: "user_never_seen", track_id: "track_never_seen", event_timestamp: T, label: "1" },
      ],
    });
    expect(res.status, await bodyText(res.clone())).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("x-training-rows")).toBe("3");
    const [header, ...rows] = parseCsv(await bodyText(res));
    expect(header).toEqual([
      "user_id",
      "track_id",
      "event_timestamp",
      "track_genre",
      "label",
      "listening_hours_weekly",
      "track_audio_features:danceability",
      "time_of_day",
      "user_track_genre_affinity",
      "popularity_score",
    ]);
    // favorite_genres [jazz, pop]: pop ranks 2 of 2 -> 0.5, jazz 1 of 2 -> 1; popularity_score and listening_hours_weekly default to 0.
    expect(rows[0]).toEqual([user, track, new Date(T).toISOString(), "pop", 'a,"b"', "0.2", "0.7", "morning", "0.5", "0"]);
    // danceability was observed 10 minutes before T: an hour before T it did not exist yet.
    expect(rows[1]).toEqual([user, track, String(T - HOUR), "jazz", "0", "0.1", "", "morning", "1", "0"]);
    expect(rows[2]).toEqual(["user_never_seen", "track_never_seen", String(T), "", "1", "0", "", "morning", "", "0"]);
  });

  it("answers JSONL with typed values and optional observation times", async () => {
    const res = await post("/datasets/training", {
      features: ["listening_hours_weekly"],
      format: "jsonl",
      include_event_timestamps: true,
      spine: [{ entity_id: user, event_timestamp: T + 1 }],
    });
    expect(res.status, await bodyText(res.clone())).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    const lines = (await bodyText(res))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      {
        entity_id: user,
        event_timestamp: T + 1,
        listening_hours_weekly: 0.9,
        listening_hours_weekly__event_timestamp: new Date(T + 1).toISOString(),
      },
    ]);
  });

  it("range mode: every observation in [start, end) with the vector as of each", async () => {
    const res = await post("/datasets/training", {
      features: ["listening_hours_weekly", "favorite_genres"],
      format: "jsonl",
      entity_ids: [user],
      start: new Date(T - 3 * HOUR).toISOString(),
      end: T + 1,
    });
    expect(res.status, await bodyText(res.clone())).toBe(200);
    const lines = (await bodyText(res))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.event_timestamp, l.listening_hours_weekly, l.favorite_genres])).toEqual([
      [new Date(T - 2 * HOUR).toISOString(), 0.1, null],
      [new Date(T - HOUR).toISOString(), 0.1, ["jazz", "pop"]],
      [new Date(T).toISOString(), 0.2, ["jazz", "pop"]],
    ]);
  });

  it("needs the admin scope", async () => {
    const body = { features: ["listening_hours_weekly"], spine: [{ entity_id: user, event_timestamp: T }] };
    expect((await post("/datasets/training", body, null)).status).toBe(401);
    const forbidden = await post("/datasets/training", body, SERVE_ONLY_KEY);
    expect(forbidden.status).toBe(403);
    expect((await errorOf(forbidden)).message).toMatch(/admin/);
  });

  it("400 names the offending fields; 404 names each unknown feature", async () => {
    const bad = await post("/datasets/training", { features: [], format: "xml", spine: [{ user_id: user }] });
    expect(bad.status).toBe(400);
    const message = (await errorOf(bad)).message;
    expect(message).toMatch(/features: /);
    expect(message).toMatch(/format: /);

    const badRow = await post("/datasets/training", {
      features: ["listening_hours_weekly"],
      spine: [{ user_id: user, event_timestamp: 1717313415 }],
    });
    expect(badRow.status).toBe(400);
    expect((await errorOf(badRow)).message).toBe(
      "Invalid spine rows: row 1: event_timestamp 1717313415 looks like epoch seconds; epoch milliseconds are expected",
    );

    const unknown = await post("/datasets/training", {
      features: ["listening_hours_weekly", "nope", "also_nope"],
      spine: [{ user_id: user, event_timestamp: T }],
    });
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).message).toBe("Unknown features: nope, also_nope");
  });

  it("413 beyond 50,000 rows, pointing at the CLI", async () => {
    const spine = Array.from({ length: 50_001 }, () => ({ user_id: "user_1", event_timestamp: T }));
    const res = await post("/datasets/training", { features: ["listening_hours_weekly"], spine });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).message).toMatch(/50000 rows; use `npm run dataset`/);
  });
});
