// Demo catalog: generator invariants in memory, then a fresh Postgres database seeded by seedDemoCatalog and checked in SQL.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEVICE_TYPES, GENRES, LANGUAGES, LISTENING_SOURCES, SUBSCRIPTION_TYPES, USER_ACTIONS } from "../../src/core/vocabularies";
import { createCatalog, materializeCatalog } from "../../tools/demo/catalog-generator";
import { type SeedSummary, seedDemoCatalog } from "../../tools/demo/seed";
import { createDatabase, dropDatabase } from "../../tools/postgres";
import { probe, urlFor } from "../support/postgres-server";

const SMALL = { users: 50, tracks: 200, artists: 30, events: 3000 } as const;
const MIGRATION = new URL("../../drizzle/0000_init.sql", import.meta.url);
const DB_HOOK_TIMEOUT_MS = 60_000;
const DAY_MS = 86_400_000;
const SKIP_RATE_RANGE = [0.15, 0.4] as const;
/** Uniform plays would give the top 10% of tracks 10% of plays; Zipf(s=1) over 200 tracks gives about 60%. */
const MIN_TOP_DECILE_SHARE = 0.35;
const SESSION_MAX_TRACKS = 40;

const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}_${i + 1}`);

const ADMIN_URL = urlFor("postgres");
const unreachable = await probe(ADMIN_URL);
const IN_CI = process.env.CI === "true";
if (unreachable && !IN_CI) {
  console.warn(`\n*** SKIPPING demo-seed database tests: Postgres not reachable at ${ADMIN_URL} (${unreachable}) ***\n`);
}

// ---------------------------------------------------------------- generator (no database)

describe("catalog generator", () => {
  const catalog = materializeCatalog(SMALL);

  it("numbers entity ids 1..N and sessions globally in generation order", () => {
    expect(catalog.artists.map((a) => a.id)).toEqual(ids("artist", SMALL.artists));
    expect(catalog.tracks.map((t) => t.id)).toEqual(ids("track", SMALL.tracks));
    expect(catalog.users.map((u) => u.id)).toEqual(ids("user", SMALL.users));
    const sessionOrder = [...new Set(catalog.listeningEvents.map((e) => e.sessionId))];
    expect(sessionOrder).toEqual(ids("session", sessionOrder.length));
  });

  it("generates exactly the requested number of events and the announced counts", () => {
    const streamed = createCatalog(SMALL);
    expect(catalog.listeningEvents).toHaveLength(SMALL.events);
    expect(streamed.counts).toEqual({
      artists: SMALL.artists,
      tracks: SMALL.tracks,
      users: SMALL.users,
      listeningEvents: SMALL.events,
      userActions: catalog.userActions.length,
    });
  });

  it("is deterministic for a seed, differs across seeds, and does not depend on chunk size", () => {
    expect(JSON.stringify(materializeCatalog(SMALL))).toBe(JSON.stringify(catalog));
    const other = materializeCatalog({ ...SMALL, seed: 7 });
    expect(JSON.stringify(other.artists)).not.toBe(JSON.stringify(catalog.artists));
    expect(JSON.stringify(other.listeningEvents)).not.toBe(JSON.stringify(catalog.listeningEvents));
    const tinyChunks = [...createCatalog(SMALL).listeningEvents(7)];
    expect(tinyChunks.every((chunk) => chunk.length <= 7)).toBe(true);
    expect(JSON.stringify(tinyChunks.flat())).toBe(JSON.stringify(catalog.listeningEvents));
  });

  it("keeps tracks within real ranges and consistent with their artists", () => {
    const artistById = new Map(catalog.artists.map((a) => [a.id, a]));
    for (const t of catalog.tracks) {
      for (const v of [t.danceability, t.energy, t.valence, t.acousticness]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      expect(t.tempo).toBeGreaterThanOrEqual(60);
      expect(t.tempo).toBeLessThanOrEqual(200);
      expect(t.durationMs).toBeGreaterThanOrEqual(90_000);
      expect(t.durationMs).toBeLessThanOrEqual(420_000);
      expect(LANGUAGES).toContain(t.language);
      const artist = artistById.get(t.artistId);
      expect(artist, `${t.id} artist ${t.artistId}`).toBeDefined();
      expect(artist?.genres).toContain(t.genrePrimary);
      expect(t.releaseYear).toBeGreaterThanOrEqual(artist?.debutYear ?? Infinity);
      expect(t.genreSecondary).not.toBe(t.genrePrimary);
      expect(t.featuredArtistIds.length).toBeLessThanOrEqual(2);
      for (const f of t.featuredArtistIds) expect(artistById.has(f) && f !== t.artistId).toBe(true);
    }
    for (const a of catalog.artists) {
      expect(a.genres.length).toBeGreaterThanOrEqual(1);
      expect(a.genres.length).toBeLessThanOrEqual(3);
      for (const genre of a.genres) expect(GENRES).toContain(genre);
      expect(a.debutYear).toBeGreaterThanOrEqual(1960);
      expect(a.debutYear).toBeLessThanOrEqual(2026);
    }
    // Genre shapes the sound: classical is acoustic and calm, electronic is loud (a bigger catalog for stable means).
    const large = createCatalog({ ...SMALL, tracks: 2000, events: 0 }).tracks;
    const mean = (genre: string, pick: (t: (typeof large)[number]) => number): number => {
      const rows = large.filter((t) => t.genrePrimary === genre);
      expect(rows.length, `${genre} tracks`).toBeGreaterThan(0);
      return rows.reduce((acc, t) => acc + pick(t), 0) / rows.length;
    };
    expect(mean("classical", (t) => t.acousticness)).toBeGreaterThan(0.75);
    expect(mean("classical", (t) => t.energy)).toBeLessThan(0.35);
    expect(mean("electronic", (t) => t.energy)).toBeGreaterThan(0.7);
  });

  it("covers every age group and plausible user attributes", () => {
    const nowYear = 2026;
    const groups = new Set(
      catalog.users.map((u) => {
        const age = nowYear - u.birthYear;
        return age < 18 ? "13-17" : age < 25 ? "18-24" : age < 35 ? "25-34" : age < 45 ? "35-44" : age < 55 ? "45-54" : "55+";
      }),
    );
    expect([...groups].sort()).toEqual(["13-17", "18-24", "25-34", "35-44", "45-54", "55+"]);
    const now = Date.UTC(2026, 10, 1);
    for (const u of catalog.users) {
      expect(u.birthYear).toBeGreaterThanOrEqual(1950);
      expect(u.birthYear).toBeLessThanOrEqual(2012);
      expect(SUBSCRIPTION_TYPES).toContain(u.subscriptionType);
      expect(u.signupAt.getTime()).toBeLessThan(now);
      expect(u.signupAt.getTime()).toBeGreaterThanOrEqual(now - 5 * 366 * DAY_MS);
    }
  });

  it("builds sessions of 1-40 tracks on one device, in the last 30 days, after signup", () => {
    const now = Date.UTC(2026, 10, 1);
    const signup = new Map(catalog.users.map((u) => [u.id, u.signupAt.getTime()]));
    const sessions = new Map<string, { user: string; devices: Set<string>; count: number }>();
    for (const e of catalog.listeningEvents) {
      const t = e.startedAt.getTime();
      expect(t).toBeGreaterThanOrEqual(Math.max(now - 30 * DAY_MS, signup.get(e.userId) ?? Infinity));
      expect(t + e.msPlayed).toBeLessThanOrEqual(now);
      expect(LISTENING_SOURCES).toContain(e.source);
      expect(DEVICE_TYPES).toContain(e.deviceType);
      const s = sessions.get(e.sessionId) ?? { user: e.userId, devices: new Set<string>(), count: 0 };
      expect(s.user).toBe(e.userId);
      s.devices.add(e.deviceType);
      s.count++;
      sessions.set(e.sessionId, s);
    }
    for (const s of sessions.values()) {
      expect(s.devices.size).toBe(1);
      expect(s.count).toBeGreaterThanOrEqual(1);
      expect(s.count).toBeLessThanOrEqual(SESSION_MAX_TRACKS);
    }
    const replayRate = catalog.listeningEvents.filter((e) => e.replayed).length / catalog.listeningEvents.length;
    expect(replayRate).toBeGreaterThan(0.02);
    expect(replayRate).toBeLessThan(0.1);
    for (const a of catalog.userActions) expect(USER_ACTIONS).toContain(a.action);
  });
});

// ---------------------------------------------------------------- seeded database

describe.skipIf(unreachable !== null && !IN_CI)("seedDemoCatalog into Postgres", () => {
  const database = `seed_test_${randomBytes(6).toString("hex")}`;
  const databaseUrl = urlFor(database);
  const expected = createCatalog(SMALL);
  let db: pg.Client | null = null;
  let summary: SeedSummary | null = null;
  let created = false;

  const query = async <R extends pg.QueryResultRow>(text: string): Promise<R[]> => {
    if (!db) throw new Error("database not connected (beforeAll failed)");
    return (await db.query<R>(text)).rows;
  };
  const scalar = async (text: string): Promise<number> => {
    const [row] = await query<{ v: string | number }>(text);
    return Number(row?.v);
  };

  beforeAll(async () => {
    await createDatabase(ADMIN_URL, database);
    created = true;
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const migration = readFileSync(MIGRATION, "utf8");
    for (const statement of migration.split("--> statement-breakpoint")) {
      if (statement.trim()) await db.query(statement);
    }
    summary = await seedDemoCatalog(databaseUrl, SMALL);
  }, DB_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await db?.end();
    if (created) await dropDatabase(ADMIN_URL, database);
  }, DB_HOOK_TIMEOUT_MS);

  it("writes every table with the generator's counts", async () => {
    const counts = {
      artists: await scalar("SELECT count(*) AS v FROM artists"),
      tracks: await scalar("SELECT count(*) AS v FROM tracks"),
      users: await scalar("SELECT count(*) AS v FROM users"),
      listening_events: await scalar("SELECT count(*) AS v FROM listening_events"),
      user_actions: await scalar("SELECT count(*) AS v FROM user_actions"),
    };
    expect(counts).toEqual({
      artists: SMALL.artists,
      tracks: SMALL.tracks,
      users: SMALL.users,
      listening_events: SMALL.events,
      user_actions: expected.counts.userActions,
    });
    expect(summary?.rows).toEqual(counts);
  });

  it("formats ids as prefix_1..prefix_N", async () => {
    for (const [table, prefix, n] of [
      ["artists", "artist", SMALL.artists],
      ["tracks", "track", SMALL.tracks],
      ["users", "user", SMALL.users],
    ] as const) {
      const rows = await query<{ id: string }>(`SELECT id FROM ${table} ORDER BY substring(id from '[0-9]+$')::int`);
      expect(rows.map((r) => r.id)).toEqual(ids(prefix, n));
    }
    const sessions = await query<{ session_id: string }>("SELECT DISTINCT session_id FROM listening_events ORDER BY session_id");
    expect(sessions.every((s) => /^session_[1-9][0-9]*$/.test(s.session_id))).toBe(true);
    const numbers = sessions.map((s) => Number(s.session_id.slice("session_".length))).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => i + 1));
  });

  it("references only existing artists, tracks and users", async () => {
    expect(await scalar("SELECT count(*) AS v FROM tracks t LEFT JOIN artists a ON a.id = t.artist_id WHERE a.id IS NULL")).toBe(0);
    expect(
      await scalar(
        "SELECT count(*) AS v FROM tracks t, unnest(t.featured_artist_ids) f(id) WHERE NOT EXISTS (SELECT 1 FROM artists a WHERE a.id = f.id)",
      ),
    ).toBe(0);
    expect(
      await scalar("SELECT count(*) AS v FROM listening_events e WHERE NOT EXISTS (SELECT 1 FROM tracks t WHERE t.id = e.track_id)"),
    ).toBe(0);
    expect(
      await scalar("SELECT count(*) AS v FROM listening_events e WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = e.user_id)"),
    ).toBe(0);
    expect(
      await scalar(
        "SELECT count(*) AS v FROM user_actions x WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id) OR (x.track_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tracks t WHERE t.id = x.track_id))",
      ),
    ).toBe(0);
  });

  it("stores audio features in range", async () => {
    const outOfRange = await scalar(`SELECT count(*) AS v FROM tracks WHERE
      danceability NOT BETWEEN 0 AND 1 OR energy NOT BETWEEN 0 AND 1 OR valence NOT BETWEEN 0 AND 1
      OR acousticness NOT BETWEEN 0 AND 1 OR tempo NOT BETWEEN 60 AND 200 OR duration_ms NOT BETWEEN 90000 AND 420000`);
    expect(outOfRange).toBe(0);
    const share = await scalar("SELECT avg((cardinality(featured_artist_ids) > 0)::int) AS v FROM tracks");
    expect(share).toBeGreaterThan(0.05);
    expect(share).toBeLessThan(0.3);
  });

  it("skips 15-40% of plays, mostly early", async () => {
    const rate = await scalar("SELECT avg(skipped::int) AS v FROM listening_events");
    expect(rate).toBeGreaterThanOrEqual(SKIP_RATE_RANGE[0]);
    expect(rate).toBeLessThanOrEqual(SKIP_RATE_RANGE[1]);
    const [played] = await query<{ skipped_ms: number; full_ms: number }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms_played) FILTER (WHERE skipped) AS skipped_ms,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY ms_played) FILTER (WHERE NOT skipped) AS full_ms
       FROM listening_events`,
    );
    expect(Number(played?.skipped_ms)).toBeLessThan(Number(played?.full_ms) / 3);
  });

  it("concentrates plays on the top 10% of tracks (Zipf-like)", async () => {
    const share = await scalar(`
      WITH plays AS (SELECT track_id, count(*) AS n FROM listening_events GROUP BY track_id),
           ranked AS (SELECT n, row_number() OVER (ORDER BY n DESC) AS r FROM plays)
      SELECT sum(n) FILTER (WHERE r <= ${Math.ceil(SMALL.tracks / 10)})::float8 / sum(n) AS v FROM ranked`);
    expect(share).toBeGreaterThan(MIN_TOP_DECILE_SHARE);
  });

  it("gives every listening user sessions, each owned by one user with 1-40 plays", async () => {
    const listeners = await scalar("SELECT count(DISTINCT user_id) AS v FROM listening_events");
    expect(listeners).toBeGreaterThan(SMALL.users / 2);
    const withSessions = await scalar(
      "SELECT count(*) AS v FROM (SELECT user_id FROM listening_events GROUP BY user_id HAVING count(DISTINCT session_id) >= 1) s",
    );
    expect(withSessions).toBe(listeners);
    const bad = await scalar(`SELECT count(*) AS v FROM (
        SELECT session_id FROM listening_events GROUP BY session_id
        HAVING count(DISTINCT user_id) <> 1 OR count(DISTINCT device_type) <> 1 OR count(*) NOT BETWEEN 1 AND ${SESSION_MAX_TRACKS}) s`);
    expect(bad).toBe(0);
  });

  it("re-seeding replaces the data with identical rows", async () => {
    const fingerprint = async (): Promise<string> => {
      const [row] = await query<{ v: string }>(`SELECT md5(string_agg(concat_ws('|', id, user_id, track_id, session_id,
          started_at, ms_played, skipped, replayed, source, device_type), ',' ORDER BY id)) AS v FROM listening_events`);
      const [tracks] = await query<{ v: string }>(`SELECT md5(string_agg(concat_ws('|', id, artist_id, featured_artist_ids,
          title, genre_primary, genre_secondary, release_year, language, duration_ms, danceability, energy, valence,
          tempo, acousticness), ',' ORDER BY id)) AS v FROM tracks`);
      return `${row?.v}:${tracks?.v}`;
    };
    const before = await fingerprint();
    const again = await seedDemoCatalog(databaseUrl, SMALL);
    expect(again.rows.listening_events).toBe(SMALL.events);
    expect(await fingerprint()).toBe(before);
    expect(await scalar("SELECT min(id) AS v FROM listening_events")).toBe(1);
  });
});
