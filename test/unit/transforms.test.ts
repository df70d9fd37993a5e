// Behaviour of the registered on-demand transforms shared by serving and training-set code.
import { describe, expect, it } from "vitest";
import {
  deviceTypeFromUserAgent,
  normalizeToken,
  runTransform,
  TRANSFORM_OUTPUT_VALUES,
  TRANSFORMS,
  type TransformInput,
  timeOfDayForHour,
} from "../../src/core/transforms";

/** Sunday 2024-06-02 07:30 UTC. */
const SUNDAY_0730_UTC = Date.UTC(2024, 5, 2, 7, 30);
const IPHONE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const CHROME_MAC_UA =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const ANDROID_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36";
const ANDROID_TV_UA =
  "Mozilla/5.0 (Linux; Android 12; BRAVIA 4K VH2 Build/STT1.211025.001.Z4) AppleWebKit/537.36 Chrome/108.0 Safari/537.36";
const ELECTRON_UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) EchoTune/1.4.2 Chrome/122.0 Electron/29.1.0 Safari/537.36";
const SONOS_UA = "Linux UPnP/1.0 Sonos/80.1-55014 (ZPS27)";

function run(name: string, context: Record<string, unknown> = {}, features: Record<string, unknown> = {}, now = SUNDAY_0730_UTC): unknown {
  return runTransform(name, { context, features, now });
}

describe("registry", () => {
  it("registers every transform the catalog relies on", () => {
    expect(Object.keys(TRANSFORMS).sort()).toEqual(
      [
        "current_playlist_context",
        "day_of_week",
        "device_type",
        "genre_affinity",
        "listening_source",
        "location_context",
        "previous_track_relationship",
        "time_of_day",
        "user_mood_detected",
      ].sort(),
    );
    for (const [name, spec] of Object.entries(TRANSFORMS)) {
      expect(spec.description.length, name).toBeGreaterThan(0);
      expect(spec.inputs.length, name).toBeGreaterThan(0);
      for (const input of spec.inputs) expect(input, name).toMatch(/^(context\.|feature:)[a-z][a-z0-9_]*$/);
    }
  });

  it("throws a clear error for an unknown name, including Object.prototype keys", () => {
    expect(() => run("no_such_transform")).toThrow(/Unknown transform "no_such_transform".*time_of_day/);
    expect(() => run("toString")).toThrow(/Unknown transform/);
  });

  it("tolerates a request without context or features", () => {
    const bare = { now: SUNDAY_0730_UTC } as unknown as TransformInput;
    expect(runTransform("time_of_day", bare)).toBe("morning");
    expect(runTransform("genre_affinity", bare)).toBeNull();
  });
});

describe("time_of_day / day_of_week", () => {
  it("buckets hours at 5, 12, 17 and 22", () => {
    const expected = [
      "night",
      "night",
      "night",
      "night",
      "night",
      "morning",
      "morning",
      "morning",
      "morning",
      "morning",
      "morning",
      "morning",
    ]
      .concat(["afternoon", "afternoon", "afternoon", "afternoon", "afternoon"])
      .concat(["evening", "evening", "evening", "evening", "evening", "night", "night"]);
    expect(Array.from({ length: 24 }, (_, hour) => timeOfDayForHour(hour))).toEqual(expected);
  });

  it("uses `now` when the context has no timestamp", () => {
    expect(run("time_of_day")).toBe("morning");
    expect(run("day_of_week")).toBe("sunday");
  });

  it("reads a zone-less ISO timestamp as local wall-clock time", () => {
    expect(run("time_of_day", { timestamp: "2024-06-05T07:30:00" })).toBe("morning");
    expect(run("day_of_week", { timestamp: "2024-06-05T07:30:00" })).toBe("wednesday");
    expect(run("time_of_day", { timestamp: "2024-06-05 23:10" })).toBe("night");
  });

  it("applies the offset written in the timestamp", () => {
    // 23:30 UTC on Saturday is 07:30 on Sunday in Tokyo.
    expect(run("time_of_day", { timestamp: "2024-06-02T07:30:00+09:00" })).toBe("morning");
    expect(run("day_of_week", { timestamp: "2024-06-02T07:30:00+09:00" })).toBe("sunday");
    expect(run("time_of_day", { timestamp: "2024-06-02T07:30:00Z" })).toBe("morning");
  });

  it("honours timezone_offset_minutes (minutes east of UTC) over the timestamp's own offset", () => {
    expect(run("time_of_day", { timestamp: SUNDAY_0730_UTC, timezone_offset_minutes: 120 })).toBe("morning"); // 09:30
    expect(run("time_of_day", { timestamp: SUNDAY_0730_UTC, timezone_offset_minutes: 600 })).toBe("evening"); // 17:30
    expect(run("time_of_day", { timestamp: "2024-06-02T07:30:00Z", timezone_offset_minutes: -480 })).toBe("night"); // 23:30
    expect(run("day_of_week", { timestamp: "2024-06-02T07:30:00Z", timezone_offset_minutes: -480 })).toBe("saturday");
  });

  it("honours an IANA timezone, including daylight saving time", () => {
    // 2024-06-02 07:30 UTC: New York (EDT, UTC-4) 03:30 Sunday; Kolkata (UTC+5:30) 13:00 Sunday.
    expect(run("time_of_day", { timezone: "America/New_York" })).toBe("night");
    expect(run("time_of_day", { timezone: "Asia/Kolkata" })).toBe("afternoon");
    // 2024-01-15 04:30 UTC: New York (EST, UTC-5) is 23:30 on Sunday the 14th.
    const winter = Date.UTC(2024, 0, 15, 4, 30);
    expect(run("time_of_day", { timezone: "America/New_York" }, {}, winter)).toBe("night");
    expect(run("day_of_week", { timezone: "America/New_York" }, {}, winter)).toBe("sunday");
    expect(run("day_of_week", { timezone: "Pacific/Kiritimati" }, {}, winter)).toBe("monday");
  });

  it("accepts epoch milliseconds as number or digit string", () => {
    const mondayNoon = Date.UTC(2024, 5, 3, 12, 0);
    expect(run("day_of_week", { timestamp: mondayNoon })).toBe("monday");
    expect(run("time_of_day", { timestamp: String(mondayNoon) })).toBe("afternoon");
  });

  it("returns null rather than guessing on invalid input", () => {
    expect(run("time_of_day", { timestamp: "yesterday at noon" })).toBeNull();
    expect(run("time_of_day", { timestamp: "2024-02-30T10:00:00Z" })).toBeNull();
    expect(run("time_of_day", { timezone: "Mars/Olympus_Mons" })).toBeNull();
    expect(run("time_of_day", { timezone_offset_minutes: 5000 })).toBeNull();
    expect(run("day_of_week", { timestamp: Number.NaN })).toBeNull();
  });
});

describe("device_type", () => {
  it("normalises a stated device type", () => {
    expect(run("device_type", { device_type: "Smart Speaker" })).toBe("smart_speaker");
    expect(run("device_type", { device_type: "iPad" })).toBe("mobile");
    expect(run("device_type", { device_type: "web_player" })).toBe("web");
    expect(run("device_type", { device_type: "CarPlay" })).toBe("car");
  });

  it("parses the user agent when no device type is stated", () => {
    expect(run("device_type", { user_agent: IPHONE_UA })).toBe("mobile");
    expect(run("device_type", { user_agent: ANDROID_UA })).toBe("mobile");
    expect(run("device_type", { user_agent: CHROME_MAC_UA })).toBe("web");
    expect(run("device_type", { user_agent: ELECTRON_UA })).toBe("desktop");
    expect(run("device_type", { user_agent: ANDROID_TV_UA })).toBe("tv");
    expect(run("device_type", { user_agent: SONOS_UA })).toBe("smart_speaker");
    expect(deviceTypeFromUserAgent("curl/8.5.0")).toBeNull();
  });

  it("prefers the stated type and falls back to the user agent for an unknown one", () => {
    expect(run("device_type", { device_type: "tv", user_agent: IPHONE_UA })).toBe("tv");
    expect(run("device_type", { device_type: "toaster", user_agent: IPHONE_UA })).toBe("mobile");
    expect(run("device_type", { device_type: "toaster" })).toBeNull();
    expect(run("device_type")).toBeNull();
  });
});

describe("listening_source", () => {
  it("normalises sources to the listening_events vocabulary", () => {
    expect(run("listening_source", { source: "Discover Weekly" })).toBe("discover");
    expect(run("listening_source", { source: "search-results" })).toBe("search");
    expect(run("listening_source", { source: "artist_radio" })).toBe("radio");
    expect(run("listening_source", { source: "playlist" })).toBe("playlist");
    expect(run("listening_source", { source: "Liked Songs" })).toBe("library");
    expect(run("listening_source", { source: "smartwatch_widget" })).toBe("other");
    expect(run("listening_source")).toBeNull();
  });
});

describe("current_playlist_context", () => {
  it("maps the playlist kind, none outside a playlist, other when unknown", () => {
    expect(run("current_playlist_context", { playlist_type: "Editorial" })).toBe("editorial_playlist");
    expect(run("current_playlist_context", { playlist_type: "daily-mix" })).toBe("algorithmic_playlist");
    expect(run("current_playlist_context", { playlist_type: "user", playlist_id: "pl_1" })).toBe("user_playlist");
    expect(run("current_playlist_context", { playlist_type: "liked" })).toBe("liked_songs");
    expect(run("current_playlist_context", { playlist_type: "mystery_box" })).toBe("other");
    expect(run("current_playlist_context", { playlist_id: "pl_9" })).toBe("other");
    expect(run("current_playlist_context")).toBe("none");
  });
});

describe("previous_track_relationship", () => {
  const candidate = { track_id: "track_2", track_artist_id: "artist_1", track_genre: "pop" };

  it("reports the strongest link", () => {
    expect(run("previous_track_relationship", { ...candidate, previous_track_id: "track_2" })).toBe("same_track");
    expect(run("previous_track_relationship", { ...candidate, previous_track_id: "track_1", previous_track_artist_id: "artist_1" })).toBe(
      "same_artist",
    );
    expect(
      run("previous_track_relationship", {
        ...candidate,
        previous_track_id: "track_9",
        previous_track_artist_id: "artist_7",
        previous_track_genre: "Pop",
      }),
    ).toBe("same_genre");
    expect(
      run("previous_track_relationship", {
        ...candidate,
        previous_track_id: "track_9",
        previous_track_artist_id: "artist_7",
        previous_track_genre: "rock",
      }),
    ).toBe("different");
  });

  it("is none without a previous track and null when nothing is comparable", () => {
    expect(run("previous_track_relationship", candidate)).toBe("none");
    expect(run("previous_track_relationship", { track_id: "track_2", previous_track_genre: "pop" })).toBeNull();
  });

  it("takes the candidate genre from the joined genre_primary feature offline", () => {
    expect(run("previous_track_relationship", { previous_track_genre: "hip_hop" }, { genre_primary: "Hip-Hop" })).toBe("same_genre");
  });
});

describe("user_mood_detected", () => {
  it("prefers a stated mood, normalised", () => {
    expect(run("user_mood_detected", { mood: "Chill", recent_tracks: [{ valence: 0.9, energy: 0.9 }] })).toBe("calm");
    expect(run("user_mood_detected", { mood: "sad" })).toBe("melancholic");
  });

  it("places the mean valence/energy of recent tracks in a quadrant", () => {
    const mood = (valence: number, energy: number) => run("user_mood_detected", { recent_tracks: [{ valence, energy }] });
    expect(mood(0.9, 0.8)).toBe("happy");
    expect(mood(0.8, 0.2)).toBe("calm");
    expect(mood(0.2, 0.9)).toBe("intense");
    expect(mood(0.1, 0.2)).toBe("melancholic");
    expect(mood(0.55, 0.45)).toBe("neutral");
    expect(
      run("user_mood_detected", {
        recent_tracks: [{ valence: 0.9, energy: 0.9 }, { valence: 0.1, energy: 0.1 }, { valence: 7, energy: 0.9 }, null, "x"],
      }),
    ).toBe("neutral");
  });

  it("is null without a usable signal; an unknown stated mood falls back to audio", () => {
    expect(run("user_mood_detected")).toBeNull();
    expect(run("user_mood_detected", { recent_tracks: [{ valence: "high" }] })).toBeNull();
    expect(run("user_mood_detected", { mood: "hangry", recent_tracks: [{ valence: 0.9, energy: 0.9 }] })).toBe("happy");
  });
});

describe("location_context", () => {
  it("maps a stated location, other when unknown", () => {
    expect(run("location_context", { location: "Office" })).toBe("work");
    expect(run("location_context", { location: "on the train" })).toBe("other");
    expect(run("location_context", { location: "train" })).toBe("commute");
    expect(run("location_context", { location: "Workout" })).toBe("gym");
    expect(run("location_context", { location: "home" })).toBe("home");
  });

  it("infers only what the device implies", () => {
    expect(run("location_context", { device_type: "car" })).toBe("commute");
    expect(run("location_context", { user_agent: SONOS_UA })).toBe("home");
    expect(run("location_context", { device_type: "mobile" })).toBeNull();
    expect(run("location_context")).toBeNull();
  });
});

describe("genre_affinity", () => {
  const favorites = { favorite_genres: ["pop", "hip_hop", "jazz"] };

  it("is 1 for the top favorite, decreasing with rank, 0 when absent", () => {
    expect(run("genre_affinity", { track_genre: "pop" }, favorites)).toBe(1);
    expect(run("genre_affinity", { track_genre: "Hip-Hop" }, favorites)).toBeCloseTo(2 / 3);
    expect(run("genre_affinity", { track_genre: "jazz" }, favorites)).toBeCloseTo(1 / 3);
    expect(run("genre_affinity", { track_genre: "metal" }, favorites)).toBe(0);
    expect(run("genre_affinity", { track_genre: "pop" }, { favorite_genres: [] })).toBe(0);
  });

  it("normalises genre spellings on both sides and ignores duplicates and junk", () => {
    expect(run("genre_affinity", { track_genre: "r_and_b" }, { favorite_genres: ["R&B", "pop"] })).toBe(1);
    expect(run("genre_affinity", { track_genre: "pop" }, { favorite_genres: ["rock", "ROCK", 42, null, "pop"] })).toBe(0.5);
  });

  it("falls back to the genre_primary feature and is null without inputs", () => {
    expect(run("genre_affinity", {}, { ...favorites, genre_primary: "jazz" })).toBeCloseTo(1 / 3);
    expect(run("genre_affinity", { track_genre: "pop" })).toBeNull();
    expect(run("genre_affinity", {}, favorites)).toBeNull();
  });
});

describe("all transforms", () => {
  const contexts: Record<string, unknown>[] = [
    {},
    { timestamp: "2024-06-02T21:15:00+02:00", timezone: "Europe/Berlin", device_type: "desktop", source: "radio" },
    { user_agent: IPHONE_UA, location: "gym", mood: "party", playlist_type: "chart", track_genre: "k-pop" },
    { previous_track_id: "track_1", track_id: "track_1", recent_tracks: [{ valence: 0.3, energy: 0.3 }] },
  ];
  const features = { favorite_genres: ["k_pop", "pop"], genre_primary: "pop" };

  it("are deterministic and do not mutate their input", () => {
    for (const name of Object.keys(TRANSFORMS)) {
      for (const context of contexts) {
        const snapshot = JSON.stringify({ context, features });
        const first = run(name, context, features);
        expect(run(name, structuredClone(context), structuredClone(features)), name).toEqual(first);
        expect(JSON.stringify({ context, features }), name).toBe(snapshot);
      }
    }
  });

  it("only ever return a declared value or null", () => {
    for (const [name, outputs] of Object.entries(TRANSFORM_OUTPUT_VALUES)) {
      for (const context of contexts) {
        const value = run(name, context, features);
        if (value !== null) expect(outputs, `${name} -> ${String(value)}`).toContain(value);
      }
    }
  });

  it("share one token normalisation with the batch SQL", () => {
    expect(normalizeToken("  Hip-Hop ")).toBe("hip_hop");
    expect(normalizeToken("R&B")).toBe("r_and_b");
    expect(normalizeToken("R & B")).toBe("r_and_b");
    expect(normalizeToken("K-Pop")).toBe("k_pop");
    expect(normalizeToken("   ")).toBeNull();
    expect(normalizeToken(7)).toBeNull();
  });
});
