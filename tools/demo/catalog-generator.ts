// Deterministic EchoTune demo catalog (artists, tracks, users, listening sessions, actions) generated from one seed.
//
// Pure and runtime-free: no I/O, no Node or Workers APIs, no Math.random. Artists, tracks and users are small
// enough to hold in memory (the event generator needs them for sampling anyway); listening events and user
// actions are produced by generators yielding chunks, so a 1M+ event catalog never exists in memory at once.
// Every part draws from its own PRNG stream derived from (seed, stream name), so iterating events does not
// change actions and re-iterating a stream yields exactly the same rows.

import { mulberry32 } from "../../src/core/random";
import {
  COUNTRIES,
  type Country,
  DEVICE_TYPES,
  type DeviceType,
  GENRES,
  type Genre,
  type Language,
  LISTENING_SOURCES,
  type ListeningSource,
  SUBSCRIPTION_TYPES,
  type SubscriptionType,
  type UserActionType,
} from "../../src/core/vocabularies";
import type { artists, listeningEvents, tracks, userActions, users } from "../../src/db/schema";

// ---------------------------------------------------------------- rows (drizzle's rows of src/db/schema.ts)

// The generated columns: everything but what Postgres fills in (ids of the event tables, created_at), with the
// vocabulary columns narrowed to their vocabularies. A schema change breaks the generator where it builds rows.
export type ArtistRow = Omit<typeof artists.$inferSelect, "createdAt" | "genres" | "country"> & { genres: Genre[]; country: Country };
export type TrackRow = Omit<typeof tracks.$inferSelect, "createdAt" | "genrePrimary" | "genreSecondary" | "language"> & {
  genrePrimary: Genre;
  genreSecondary: Genre | null;
  language: Language;
};
export type UserRow = Omit<typeof users.$inferSelect, "createdAt" | "country" | "subscriptionType"> & {
  country: Country;
  subscriptionType: SubscriptionType;
};
export type ListeningEventRow = Omit<typeof listeningEvents.$inferSelect, "id" | "source" | "deviceType"> & {
  source: ListeningSource;
  deviceType: DeviceType;
};
export type UserActionRow = Omit<typeof userActions.$inferSelect, "id" | "action"> & { action: UserActionType };

// ---------------------------------------------------------------- options

export interface CatalogOptions {
  users: number;
  tracks: number;
  artists: number;
  /** Total listening events; generated exactly. */
  events: number;
  seed?: number | string;
  /** Reference "now" in epoch ms; all timestamps lie before it. Fixed by default so output is reproducible. */
  now?: number;
}

export interface ResolvedCatalogOptions {
  users: number;
  tracks: number;
  artists: number;
  events: number;
  seed: number | string;
  now: number;
}

export const DEFAULT_CATALOG_SEED = 42;
export const DEFAULT_CATALOG_NOW = Date.UTC(2026, 10, 1); // 2026-11-01T00:00:00Z
export const DEFAULT_CHUNK_SIZE = 2000;

export interface CatalogCounts {
  artists: number;
  tracks: number;
  users: number;
  listeningEvents: number;
  userActions: number;
}

export interface Catalog {
  readonly options: ResolvedCatalogOptions;
  readonly artists: readonly ArtistRow[];
  readonly tracks: readonly TrackRow[];
  readonly users: readonly UserRow[];
  /** Exact row counts of every table, known before the streams are iterated (for progress reporting). */
  readonly counts: CatalogCounts;
  /** Listening events user by user, sessions in time order; each call restarts and yields identical rows. */
  listeningEvents(chunkSize?: number): Generator<ListeningEventRow[], void, undefined>;
  /** Playlist creations and shares user by user in time order; each call restarts and yields identical rows. */
  userActions(chunkSize?: number): Generator<UserActionRow[], void, undefined>;
}

// ---------------------------------------------------------------- tuning constants

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;
const MS_PER_DAY = 24 * MS_PER_HOUR;

const YEAR_MIN_DEBUT = 1960;
const YEAR_MAX_CATALOG = 2026;
const DEBUT_RECENCY_EXPONENT = 1.5;
const BIRTH_YEAR_MIN = 1950;
const BIRTH_YEAR_MAX = 2012;

const ACTIVITY_WINDOW_MS = 30 * MS_PER_DAY;
const SIGNUP_WINDOW_MS = 5 * 365 * MS_PER_DAY;
/** Users sign up at least a day before "now", so each has a window wide enough for a full session. */
const MIN_SIGNUP_AGE_MS = MS_PER_DAY;

const FOLLOWERS_MEDIAN = 8000;
const FOLLOWERS_LOG_SD = 2.2;
const FOLLOWERS_MIN = 10;
const FOLLOWERS_MAX = 150_000_000;

const ARTIST_ZIPF_S = 0.9;
const TRACK_ZIPF_S = 1.0;

const FEATURED_TRACK_SHARE = 0.15;
const SECONDARY_GENRE_NULL_SHARE = 0.45;

const DURATION_MIN_MS = 90 * MS_PER_SECOND;
const DURATION_MAX_MS = 7 * MS_PER_MINUTE;
const TEMPO_MIN = 60;
const TEMPO_MAX = 200;

/** Users with no listening in the last 30 days (churned or dormant accounts). */
const INACTIVE_USER_SHARE = 0.05;
const ACTIVITY_LOG_SD = 1.0;
const ACTIVITY_Z_MIN = -3;
const ACTIVITY_Z_MAX = 2.5;

const SESSION_MAX_TRACKS = 40;
const SESSION_MEAN_EXTRA_TRACKS = 9;
const SESSION_MIN_GAP_MS = 2 * MS_PER_MINUTE;
const SOURCE_STICKINESS = 0.85;
const DEVICE_STICKINESS = 0.75;
const ROTATION_MAX_TRACKS = 30;
const ROTATION_MIN_TRACKS = 3;

const SKIP_PROB_MIN = 0.02;
const SKIP_PROB_MAX = 0.9;
const SKIP_IN_TASTE_FACTOR = 0.75;
const SKIP_OUT_OF_TASTE_FACTOR = 1.5;
const SKIP_ROTATION_FACTOR = 0.6;
/** Applied after a completed play: about 5% of all events end up being replays. */
const REPLAY_PROB_AFTER_COMPLETE = 0.08;
const EARLY_SKIP_SHARE = 0.65;
const EARLY_SKIP_MEAN_MS = 12 * MS_PER_SECOND;
const EARLY_SKIP_MAX_MS = 30 * MS_PER_SECOND;
const MIN_PLAY_MS = MS_PER_SECOND;

const PLAYLIST_BASE_RATE = 0.15;
const PLAYLIST_PER_EVENT = 0.008;
const SHARE_BASE_RATE = 0.1;
const SHARE_PER_EVENT = 0.006;
const PLAYLIST_WITH_TRACK_SHARE = 0.7;

/** Rejection sampling of the diurnal pattern gives up after this many draws and keeps the last one. */
const DIURNAL_MAX_TRIES = 32;

// ---------------------------------------------------------------- PRNG

/** 32-bit hash of a string (FNV-1a followed by a murmur3 finalizer so nearby strings spread well). */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: tiny, fast, good enough statistically for synthetic data. */
class Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number;

  constructor(seed: number | string, stream: string) {
    this.next = mulberry32(hash32(`${String(seed)}\u0000${stream}`));
  }

  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  /** Standard normal via Box-Muller (the second variate is dropped: simpler, and the stream stays stateless). */
  gaussian(): number {
    const u = 1 - this.next(); // (0, 1]: log(0) would be -Infinity
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  normal(mean: number, sd: number): number {
    return mean + sd * this.gaussian();
  }

  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** Knuth for small means, a rounded normal approximation above (exact enough, and O(1)). */
  poisson(mean: number): number {
    const KNUTH_LIMIT = 30;
    if (mean <= 0) return 0;
    if (mean > KNUTH_LIMIT) return Math.max(0, Math.round(this.normal(mean, Math.sqrt(mean))));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Rng.pick: empty list");
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Index drawn proportionally to weights (linear scan: for short lists; use CumulativeSampler otherwise). */
  weightedIndex(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    if (!(total > 0)) throw new Error("Rng.weightedIndex: weights must have a positive sum");
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i] as number;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

/** O(log n) sampling from a fixed weight vector (Zipf over thousands of tracks). */
class CumulativeSampler {
  private readonly cumulative: Float64Array;
  private readonly total: number;

  constructor(weights: ArrayLike<number>) {
    this.cumulative = new Float64Array(weights.length);
    let sum = 0;
    for (let i = 0; i < weights.length; i++) {
      sum += weights[i] as number;
      this.cumulative[i] = sum;
    }
    this.total = sum;
    if (!(sum > 0)) throw new Error("CumulativeSampler: weights must have a positive sum");
  }

  static zipf(size: number, exponent: number): CumulativeSampler {
    const weights = new Float64Array(size);
    for (let rank = 0; rank < size; rank++) weights[rank] = 1 / (rank + 1) ** exponent;
    return new CumulativeSampler(weights);
  }

  sample(rng: Rng): number {
    const target = rng.next() * this.total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cumulative[mid] as number) > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

// ---------------------------------------------------------------- domain tables

type Weights<K extends string> = Readonly<Record<K, number>>;

function weightsOf<K extends string>(keys: readonly K[], table: Weights<K>): number[] {
  return keys.map((k) => table[k]);
}

/** Share of artists whose main genre is each genre, before country adjustments. */
const GENRE_BASE_WEIGHT: Weights<Genre> = {
  pop: 20,
  hip_hop: 16,
  rock: 12,
  electronic: 10,
  r_and_b: 7,
  latin: 7,
  indie: 6,
  country: 5,
  k_pop: 3,
  metal: 3,
  jazz: 3,
  classical: 3,
  folk: 2,
  reggae: 1.5,
  blues: 1.5,
};

/** Genres that co-occur on one artist or track (rock bands also play indie/metal, not k_pop). */
const GENRE_NEIGHBORS: Readonly<Record<Genre, readonly Genre[]>> = {
  pop: ["r_and_b", "electronic", "indie", "k_pop", "latin", "hip_hop", "rock"],
  rock: ["indie", "metal", "blues", "pop", "folk"],
  hip_hop: ["r_and_b", "pop", "electronic", "latin", "reggae"],
  electronic: ["pop", "hip_hop", "indie", "r_and_b"],
  jazz: ["blues", "r_and_b", "classical", "latin"],
  classical: ["jazz", "folk", "electronic"],
  r_and_b: ["hip_hop", "pop", "jazz", "blues"],
  country: ["folk", "rock", "pop", "blues"],
  latin: ["pop", "reggae", "hip_hop", "electronic"],
  indie: ["rock", "folk", "pop", "electronic"],
  metal: ["rock", "electronic", "blues"],
  folk: ["indie", "country", "rock", "blues"],
  reggae: ["latin", "hip_hop", "r_and_b", "pop"],
  blues: ["jazz", "rock", "r_and_b", "country"],
  k_pop: ["pop", "electronic", "hip_hop", "r_and_b"],
};

/** Multipliers on GENRE_BASE_WEIGHT by country (k_pop is Korean, latin Iberian/Latin American, ...). */
const COUNTRY_GENRE_BOOST: Readonly<Record<Country, Partial<Weights<Genre>>>> = {
  US: { country: 2.5, hip_hop: 1.5, r_and_b: 1.5, k_pop: 0.05, latin: 0.6 },
  GB: { indie: 1.8, rock: 1.3, electronic: 1.3, country: 0.2, k_pop: 0.05, latin: 0.2 },
  DE: { electronic: 2, metal: 1.8, classical: 1.5, country: 0.1, k_pop: 0.05, latin: 0.2 },
  FR: { electronic: 1.8, hip_hop: 1.3, country: 0.1, k_pop: 0.05, latin: 0.3 },
  BR: { latin: 6, pop: 1.2, country: 0.3, k_pop: 0.05 },
  MX: { latin: 8, country: 0.3, k_pop: 0.05 },
  JP: { pop: 1.3, rock: 1.3, jazz: 1.5, country: 0.05, k_pop: 0.3, latin: 0.1 },
  KR: { k_pop: 15, country: 0.05, latin: 0.1 },
  IN: { pop: 1.5, classical: 1.5, country: 0.05, k_pop: 0.1, latin: 0.1 },
  SE: { metal: 2.5, pop: 1.3, electronic: 1.3, country: 0.1, k_pop: 0.05, latin: 0.1 },
  NL: { electronic: 3, country: 0.1, k_pop: 0.05, latin: 0.2 },
  ES: { latin: 6, pop: 1.2, country: 0.1, k_pop: 0.05 },
  IT: { pop: 1.3, classical: 1.5, country: 0.1, k_pop: 0.05, latin: 0.5 },
  CA: { pop: 1.2, indie: 1.3, country: 1.2, k_pop: 0.05, latin: 0.3 },
  AU: { indie: 1.3, rock: 1.2, country: 0.8, k_pop: 0.05, latin: 0.2 },
};

const ARTIST_COUNTRY_WEIGHT: Weights<Country> = {
  US: 30,
  GB: 12,
  DE: 5,
  FR: 5,
  BR: 5,
  MX: 4,
  JP: 5,
  KR: 5,
  IN: 4,
  SE: 4,
  NL: 2,
  ES: 4,
  IT: 3,
  CA: 5,
  AU: 4,
};

const USER_COUNTRY_WEIGHT: Weights<Country> = {
  US: 25,
  GB: 8,
  DE: 7,
  FR: 6,
  BR: 10,
  MX: 8,
  JP: 5,
  KR: 3,
  IN: 8,
  SE: 2,
  NL: 2,
  ES: 5,
  IT: 4,
  CA: 4,
  AU: 3,
};

/** Standard-time UTC offsets in hours: turns local listening hours into UTC timestamps. */
const COUNTRY_UTC_OFFSET_HOURS: Weights<Country> = {
  US: -5,
  GB: 0,
  DE: 1,
  FR: 1,
  BR: -3,
  MX: -6,
  JP: 9,
  KR: 9,
  IN: 5.5,
  SE: 1,
  NL: 1,
  ES: 1,
  IT: 1,
  CA: -5,
  AU: 10,
};

/** The artist country's own language and how often its artists sing in it (the rest is English). */
const COUNTRY_LANGUAGE: Readonly<Record<Country, { language: Language; share: number }>> = {
  US: { language: "en", share: 1 },
  GB: { language: "en", share: 1 },
  CA: { language: "en", share: 1 },
  AU: { language: "en", share: 1 },
  NL: { language: "en", share: 1 },
  ES: { language: "es", share: 0.9 },
  MX: { language: "es", share: 0.92 },
  BR: { language: "pt", share: 0.85 },
  DE: { language: "de", share: 0.5 },
  FR: { language: "fr", share: 0.65 },
  JP: { language: "ja", share: 0.75 },
  KR: { language: "ko", share: 0.8 },
  SE: { language: "sv", share: 0.25 },
  IT: { language: "it", share: 0.7 },
  IN: { language: "hi", share: 0.65 },
};

/** Share of instrumental tracks by genre (no vocals, so no language). */
const INSTRUMENTAL_SHARE: Partial<Weights<Genre>> = { classical: 0.85, jazz: 0.35, electronic: 0.3, metal: 0.03 };

interface Gaussian {
  mean: number;
  sd: number;
}

interface GenreSound {
  danceability: Gaussian;
  energy: Gaussian;
  valence: Gaussian;
  acousticness: Gaussian;
  tempo: Gaussian;
  /** A second tempo mode (trap around 145 BPM, drum and bass around 172) and how often it occurs. */
  altTempo?: Gaussian & { share: number };
  durationSeconds: Gaussian;
}

const g = (mean: number, sd: number): Gaussian => ({ mean, sd });
const FEATURE_SD = 0.12;

/** Rough per-genre audio profiles, in the ranges streaming services publish. */
const GENRE_SOUND: Readonly<Record<Genre, GenreSound>> = {
  pop: {
    danceability: g(0.68, FEATURE_SD),
    energy: g(0.66, FEATURE_SD),
    valence: g(0.55, 0.18),
    acousticness: g(0.2, 0.15),
    tempo: g(118, 16),
    durationSeconds: g(205, 30),
  },
  rock: {
    danceability: g(0.5, FEATURE_SD),
    energy: g(0.78, FEATURE_SD),
    valence: g(0.48, 0.18),
    acousticness: g(0.12, 0.12),
    tempo: g(126, 20),
    durationSeconds: g(235, 45),
  },
  hip_hop: {
    danceability: g(0.76, 0.1),
    energy: g(0.64, FEATURE_SD),
    valence: g(0.48, 0.18),
    acousticness: g(0.15, 0.12),
    tempo: g(92, 8),
    altTempo: { mean: 145, sd: 8, share: 0.3 },
    durationSeconds: g(210, 35),
  },
  electronic: {
    danceability: g(0.72, 0.1),
    energy: g(0.82, 0.1),
    valence: g(0.45, 0.18),
    acousticness: g(0.06, 0.06),
    tempo: g(126, 6),
    altTempo: { mean: 172, sd: 5, share: 0.15 },
    durationSeconds: g(270, 60),
  },
  jazz: {
    danceability: g(0.55, FEATURE_SD),
    energy: g(0.38, 0.14),
    valence: g(0.52, 0.18),
    acousticness: g(0.7, 0.15),
    tempo: g(112, 28),
    durationSeconds: g(300, 70),
  },
  classical: {
    danceability: g(0.28, 0.1),
    energy: g(0.16, 0.1),
    valence: g(0.3, 0.15),
    acousticness: g(0.92, 0.06),
    tempo: g(100, 25),
    durationSeconds: g(330, 60),
  },
  r_and_b: {
    danceability: g(0.68, 0.1),
    energy: g(0.55, FEATURE_SD),
    valence: g(0.52, 0.18),
    acousticness: g(0.25, 0.15),
    tempo: g(100, 15),
    durationSeconds: g(225, 35),
  },
  country: {
    danceability: g(0.58, 0.1),
    energy: g(0.62, FEATURE_SD),
    valence: g(0.58, 0.18),
    acousticness: g(0.32, 0.18),
    tempo: g(120, 20),
    durationSeconds: g(200, 25),
  },
  latin: {
    danceability: g(0.76, 0.09),
    energy: g(0.74, 0.1),
    valence: g(0.7, 0.15),
    acousticness: g(0.18, 0.12),
    tempo: g(105, 15),
    durationSeconds: g(205, 30),
  },
  indie: {
    danceability: g(0.54, FEATURE_SD),
    energy: g(0.58, 0.15),
    valence: g(0.44, 0.18),
    acousticness: g(0.35, 0.2),
    tempo: g(120, 20),
    durationSeconds: g(225, 40),
  },
  metal: {
    danceability: g(0.4, FEATURE_SD),
    energy: g(0.92, 0.05),
    valence: g(0.3, 0.15),
    acousticness: g(0.03, 0.03),
    tempo: g(138, 25),
    durationSeconds: g(290, 60),
  },
  folk: {
    danceability: g(0.5, FEATURE_SD),
    energy: g(0.38, 0.14),
    valence: g(0.48, 0.18),
    acousticness: g(0.78, 0.12),
    tempo: g(110, 20),
    durationSeconds: g(215, 40),
  },
  reggae: {
    danceability: g(0.78, 0.08),
    energy: g(0.58, FEATURE_SD),
    valence: g(0.72, 0.14),
    acousticness: g(0.22, 0.12),
    tempo: g(85, 10),
    durationSeconds: g(230, 35),
  },
  blues: {
    danceability: g(0.5, FEATURE_SD),
    energy: g(0.5, 0.15),
    valence: g(0.5, 0.18),
    acousticness: g(0.55, 0.2),
    tempo: g(105, 20),
    durationSeconds: g(260, 50),
  },
  k_pop: {
    danceability: g(0.7, 0.09),
    energy: g(0.78, 0.1),
    valence: g(0.6, 0.16),
    acousticness: g(0.12, 0.1),
    tempo: g(122, 15),
    durationSeconds: g(205, 25),
  },
};
/** How much of a track's sound comes from its secondary genre when it has one. */
const SECONDARY_SOUND_BLEND = 0.25;

/** Age groups the feature store buckets users into, with their share of the user base. */
const AGE_GROUPS: readonly { minAge: number; maxAge: number; weight: number }[] = [
  { minAge: 13, maxAge: 17, weight: 7 },
  { minAge: 18, maxAge: 24, weight: 22 },
  { minAge: 25, maxAge: 34, weight: 28 },
  { minAge: 35, maxAge: 44, weight: 19 },
  { minAge: 45, maxAge: 54, weight: 13 },
  { minAge: 55, maxAge: 76, weight: 11 },
];

const SUBSCRIPTION_BASE_WEIGHT: Weights<SubscriptionType> = { free: 45, premium: 30, family: 12, student: 8, duo: 5 };

const DEVICE_WEIGHT: Weights<DeviceType> = { mobile: 55, desktop: 15, web: 7, smart_speaker: 8, tv: 4, car: 11 };

const SOURCE_WEIGHT: Weights<ListeningSource> = { playlist: 30, library: 22, search: 14, radio: 16, discover: 18 };

/** Base skip probability by how the track was reached (library plays are chosen, discover plays are not). */
const SOURCE_SKIP_PROB: Weights<ListeningSource> = { library: 0.24, playlist: 0.38, search: 0.18, radio: 0.5, discover: 0.58 };

/** Relative listening intensity by local hour: quiet at night, commute and evening peaks. */
const HOURLY_ACTIVITY: readonly number[] = [
  3, 2, 1.2, 0.8, 0.6, 0.8, 2, 4.5, 6.5, 5.5, 5, 5.5, 6.5, 6, 5.5, 5.5, 6.5, 8, 8.5, 8.5, 8, 7, 5.5, 4,
];
const HOURLY_ACTIVITY_MAX = Math.max(...HOURLY_ACTIVITY);

// ---------------------------------------------------------------- names

const FIRST_NAMES = [
  "Ava",
  "Leo",
  "Mira",
  "Jonas",
  "Lucia",
  "Kai",
  "Nina",
  "Theo",
  "Sofia",
  "Elias",
  "Maya",
  "Oscar",
  "Yuna",
  "Diego",
  "Clara",
  "Ravi",
  "Isla",
  "Mateo",
  "Freya",
  "Hugo",
  "Amara",
  "Felix",
  "Noor",
  "Luca",
  "Selin",
  "Marcus",
  "Ines",
  "Jin",
  "Zara",
  "Tomas",
] as const;
const LAST_NAMES = [
  "Solis",
  "Hart",
  "Lindqvist",
  "Moreau",
  "Okafor",
  "Tanaka",
  "Reyes",
  "Bauer",
  "Kim",
  "Novak",
  "Silva",
  "Rossi",
  "Patel",
  "Walsh",
  "Haddad",
  "Park",
  "Fischer",
  "Costa",
  "Dubois",
  "Sato",
  "Vega",
  "Berg",
  "Quinn",
  "Mendes",
  "Kowalski",
  "Ortiz",
] as const;
const ADJECTIVES = [
  "Velvet",
  "Neon",
  "Silent",
  "Golden",
  "Electric",
  "Crimson",
  "Hollow",
  "Midnight",
  "Paper",
  "Wild",
  "Broken",
  "Lunar",
  "Static",
  "Burning",
  "Glass",
  "Violet",
  "Faded",
  "Northern",
  "Restless",
  "Echoing",
  "Sugar",
  "Iron",
  "Blue",
  "Distant",
] as const;
const NOUNS = [
  "Echo",
  "Heart",
  "River",
  "Signal",
  "Mirror",
  "Garden",
  "Horizon",
  "Skyline",
  "Ocean",
  "Fire",
  "Shadow",
  "Highway",
  "Dream",
  "Satellite",
  "Storm",
  "Harbor",
  "Window",
  "Summer",
  "Ghost",
  "Avenue",
  "Machine",
  "Canyon",
  "Lantern",
  "Tide",
  "City",
  "Rain",
] as const;
const PLURAL_NOUNS = [
  "Echoes",
  "Lights",
  "Wolves",
  "Tides",
  "Strangers",
  "Satellites",
  "Ghosts",
  "Rivers",
  "Pilots",
  "Kites",
  "Foxes",
  "Machines",
] as const;
const STAGE_WORDS = [
  "Nova",
  "Solstice",
  "Aurora",
  "Kairo",
  "Lumen",
  "Vanta",
  "Orbit",
  "Zephyr",
  "Pulse",
  "Halo",
  "Onyx",
  "Cinder",
] as const;
const ENSEMBLES = ["Quartet", "Ensemble", "Orchestra", "Trio", "Chamber Players"] as const;
const CLASSICAL_FORMS = ["Sonata", "Nocturne", "Etude", "Prelude", "Concerto", "Suite", "Symphony", "Fugue"] as const;
const KEYS = ["C major", "D minor", "E-flat major", "F minor", "G major", "A minor", "B-flat major", "C-sharp minor"] as const;
const VERBS_ING = ["Chasing", "Falling", "Running", "Dancing", "Waiting", "Drifting", "Burning", "Holding", "Calling"] as const;
const TITLE_SUFFIXES = [" (Live)", " (Remix)", " (Acoustic)", " - Radio Edit"] as const;
const TITLE_SUFFIX_SHARE = 0.05;
const KPOP_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

function artistName(rng: Rng, genre: Genre): string {
  if (genre === "k_pop" && rng.chance(0.6)) {
    let name = "";
    const length = rng.int(3, 5);
    for (let i = 0; i < length; i++) name += KPOP_LETTERS[rng.int(0, KPOP_LETTERS.length - 1)];
    return rng.chance(0.3) ? `${name}${rng.int(1, 9)}` : name;
  }
  if (genre === "classical" && rng.chance(0.4)) return `${rng.pick(LAST_NAMES)} ${rng.pick(ENSEMBLES)}`;
  if ((genre === "electronic" || genre === "hip_hop") && rng.chance(0.3)) {
    return `${genre === "electronic" ? "DJ" : "MC"} ${rng.pick(STAGE_WORDS)}`;
  }
  const style = rng.next();
  if (style < 0.45) return `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
  if (style < 0.7) return `The ${rng.pick(ADJECTIVES)} ${rng.pick(PLURAL_NOUNS)}`;
  if (style < 0.85) return `${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS)}`;
  return rng.pick(STAGE_WORDS);
}

function trackTitle(rng: Rng, genre: Genre): string {
  let title: string;
  if (genre === "classical" && rng.chance(0.8)) {
    title = `${rng.pick(CLASSICAL_FORMS)} No. ${rng.int(1, 24)} in ${rng.pick(KEYS)}`;
  } else {
    const style = rng.next();
    if (style < 0.4) title = `${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS)}`;
    else if (style < 0.6) title = `${rng.pick(NOUNS)} of ${rng.pick(NOUNS)}`;
    else if (style < 0.8) title = `${rng.pick(VERBS_ING)} ${rng.pick(NOUNS)}`;
    else title = rng.pick(NOUNS);
  }
  return rng.chance(TITLE_SUFFIX_SHARE) ? title + rng.pick(TITLE_SUFFIXES) : title;
}

// ---------------------------------------------------------------- helpers

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
/** real (float4) columns: rounding keeps the database value equal to the generated one when read back. */
const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const round1 = (x: number): number => Math.round(x * 10) / 10;
const genreIndex = (genre: Genre): number => GENRES.indexOf(genre);
const yearOf = (ms: number): number => new Date(ms).getUTCFullYear();

function assertCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`catalog option ${name} must be a non-negative integer, got ${value}`);
}

function resolveOptions(options: CatalogOptions): ResolvedCatalogOptions {
  assertCount("users", options.users);
  assertCount("tracks", options.tracks);
  assertCount("artists", options.artists);
  assertCount("events", options.events);
  if (options.tracks > 0 && options.artists === 0) throw new Error("catalog: tracks need at least one artist");
  if (options.events > 0 && (options.users === 0 || options.tracks === 0)) {
    throw new Error("catalog: listening events need at least one user and one track");
  }
  const now = options.now ?? DEFAULT_CATALOG_NOW;
  if (!Number.isFinite(now)) throw new Error(`catalog option now must be epoch milliseconds, got ${now}`);
  return { ...options, seed: options.seed ?? DEFAULT_CATALOG_SEED, now: Math.floor(now) };
}

function checkChunkSize(chunkSize: number): void {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new Error(`chunkSize must be a positive integer, got ${chunkSize}`);
}

/** Normal redrawn until inside [lo, hi]: plain clamping would pile values up exactly on the bounds. */
function truncatedNormal(rng: Rng, mean: number, sd: number, lo: number, hi: number): number {
  const MAX_TRIES = 8;
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const x = rng.normal(mean, sd);
    if (x >= lo && x <= hi) return x;
  }
  return clamp(mean, lo, hi);
}

/** A moment in [from, to) following the diurnal curve in the user's local time (rejection sampling). */
function diurnalTime(rng: Rng, from: number, to: number, utcOffsetHours: number): number {
  let t = from;
  for (let attempt = 0; attempt < DIURNAL_MAX_TRIES; attempt++) {
    t = from + Math.floor(rng.next() * (to - from));
    const localHour = Math.floor((((t / MS_PER_HOUR + utcOffsetHours) % 24) + 24) % 24);
    if (rng.next() * HOURLY_ACTIVITY_MAX < (HOURLY_ACTIVITY[localHour] as number)) return t;
  }
  return t;
}

// ---------------------------------------------------------------- entities

interface ArtistState {
  row: ArtistRow;
  /** Artist-level sound offsets so one artist's tracks resemble each other. */
  energyBias: number;
  valenceBias: number;
}

function generateArtists(opts: ResolvedCatalogOptions): ArtistState[] {
  const rng = new Rng(opts.seed, "artists");
  const maxYear = Math.min(YEAR_MAX_CATALOG, yearOf(opts.now));
  const countryWeights = weightsOf(COUNTRIES, ARTIST_COUNTRY_WEIGHT);
  const result: ArtistState[] = [];
  for (let i = 0; i < opts.artists; i++) {
    const country = COUNTRIES[rng.weightedIndex(countryWeights)] as Country;
    const boost = COUNTRY_GENRE_BOOST[country];
    const primary = GENRES[rng.weightedIndex(GENRES.map((genre) => GENRE_BASE_WEIGHT[genre] * (boost[genre] ?? 1)))] as Genre;
    const genreCount = [1, 2, 3][rng.weightedIndex([45, 35, 20])] as number;
    const genres: Genre[] = [primary];
    for (let attempt = 0; genres.length < genreCount && attempt < 10; attempt++) {
      const candidate = rng.chance(0.8)
        ? rng.pick(GENRE_NEIGHBORS[primary])
        : (GENRES[rng.weightedIndex(weightsOf(GENRES, GENRE_BASE_WEIGHT))] as Genre);
      if (!genres.includes(candidate)) genres.push(candidate);
    }
    // u^1.5 piles mass near 0 years ago: catalogs are dominated by recent debuts.
    const yearsAgo = Math.floor(rng.next() ** DEBUT_RECENCY_EXPONENT * (maxYear - YEAR_MIN_DEBUT + 1));
    const debutYear = maxYear - yearsAgo;
    // Log-normal followers, nudged up for long careers.
    const logFollowers = Math.log(FOLLOWERS_MEDIAN) + FOLLOWERS_LOG_SD * rng.gaussian() + 0.02 * yearsAgo;
    const followers = Math.round(clamp(Math.exp(logFollowers), FOLLOWERS_MIN, FOLLOWERS_MAX));
    result.push({
      row: { id: `artist_${i + 1}`, name: artistName(rng, primary), genres, country, debutYear, followers },
      energyBias: rng.normal(0, 0.05),
      valenceBias: rng.normal(0, 0.07),
    });
  }
  return result;
}

function trackLanguage(rng: Rng, artist: ArtistRow, genre: Genre): Language {
  if (rng.chance(INSTRUMENTAL_SHARE[genre] ?? 0)) return "instrumental";
  if (genre === "k_pop" && rng.chance(0.8)) return "ko";
  if (genre === "latin" && rng.chance(0.6)) return artist.country === "BR" ? "pt" : "es";
  const home = COUNTRY_LANGUAGE[artist.country];
  return rng.chance(home.share) ? home.language : "en";
}

function unitFeature(rng: Rng, primary: Gaussian, secondary: Gaussian | null, bias: number): number {
  const mean = secondary ? (1 - SECONDARY_SOUND_BLEND) * primary.mean + SECONDARY_SOUND_BLEND * secondary.mean : primary.mean;
  return round3(truncatedNormal(rng, mean + bias, primary.sd, 0, 1));
}

interface TrackState {
  row: TrackRow;
  genre: number;
  secondaryGenre: number;
}

function generateTracks(opts: ResolvedCatalogOptions, artistStates: readonly ArtistState[]): TrackState[] {
  const rng = new Rng(opts.seed, "tracks");
  const maxYear = Math.min(YEAR_MAX_CATALOG, yearOf(opts.now));
  if (opts.tracks === 0) return [];

  // Popular artists (by followers) release more tracks: Zipf over the follower rank.
  const byFollowers = artistStates
    .map((_, i) => i)
    .sort((a, b) => {
      const diff = (artistStates[b] as ArtistState).row.followers - (artistStates[a] as ArtistState).row.followers;
      return diff !== 0 ? diff : a - b;
    });
  const artistZipf = CumulativeSampler.zipf(byFollowers.length, ARTIST_ZIPF_S);
  const zipfArtist = (): number => byFollowers[artistZipf.sample(rng)] as number;

  // Every artist gets at least one track when there are enough tracks; the rest follow the Zipf draw.
  const owners: number[] = [];
  if (opts.tracks >= artistStates.length) for (let a = 0; a < artistStates.length; a++) owners.push(a);
  while (owners.length < opts.tracks) owners.push(zipfArtist());
  rng.shuffle(owners);

  const result: TrackState[] = [];
  for (let t = 0; t < opts.tracks; t++) {
    const ownerIndex = owners[t] as number;
    const owner = artistStates[ownerIndex] as ArtistState;
    const artist = owner.row;
    const primary = artist.genres.length > 1 && rng.chance(0.35) ? rng.pick(artist.genres.slice(1)) : (artist.genres[0] as Genre);

    let secondary: Genre | null = null;
    if (!rng.chance(SECONDARY_GENRE_NULL_SHARE)) {
      const fromArtist = artist.genres.filter((genre) => genre !== primary);
      const candidate = fromArtist.length > 0 && rng.chance(0.6) ? rng.pick(fromArtist) : rng.pick(GENRE_NEIGHBORS[primary]);
      secondary = candidate === primary ? null : candidate;
    }

    const featuredArtistIds: string[] = [];
    if (artistStates.length > 1 && rng.chance(FEATURED_TRACK_SHARE)) {
      const wanted = rng.chance(0.7) || artistStates.length < 3 ? 1 : 2;
      for (let attempt = 0; featuredArtistIds.length < wanted && attempt < 20; attempt++) {
        const id = (artistStates[zipfArtist()] as ArtistState).row.id;
        if (id !== artist.id && !featuredArtistIds.includes(id)) featuredArtistIds.push(id);
      }
    }

    // u^0.6 leans toward the recent end of the artist's career.
    const span = maxYear - artist.debutYear + 1;
    const releaseYear = Math.min(maxYear, artist.debutYear + Math.floor(rng.next() ** 0.6 * span));

    const sound = GENRE_SOUND[primary];
    const blend = secondary ? GENRE_SOUND[secondary] : null;
    const durationSeconds = Math.exp(
      rng.normal(Math.log(sound.durationSeconds.mean), sound.durationSeconds.sd / sound.durationSeconds.mean),
    );
    const tempoMode = sound.altTempo && rng.chance(sound.altTempo.share) ? sound.altTempo : sound.tempo;

    result.push({
      row: {
        id: `track_${t + 1}`,
        artistId: artist.id,
        featuredArtistIds,
        title: trackTitle(rng, primary),
        genrePrimary: primary,
        genreSecondary: secondary,
        releaseYear,
        language: trackLanguage(rng, artist, primary),
        durationMs: Math.round(clamp(durationSeconds * MS_PER_SECOND, DURATION_MIN_MS, DURATION_MAX_MS)),
        danceability: unitFeature(rng, sound.danceability, blend?.danceability ?? null, 0),
        energy: unitFeature(rng, sound.energy, blend?.energy ?? null, owner.energyBias),
        valence: unitFeature(rng, sound.valence, blend?.valence ?? null, owner.valenceBias),
        tempo: round1(truncatedNormal(rng, tempoMode.mean, tempoMode.sd, TEMPO_MIN, TEMPO_MAX)),
        acousticness: unitFeature(rng, sound.acousticness, blend?.acousticness ?? null, -owner.energyBias),
      },
      genre: genreIndex(primary),
      secondaryGenre: secondary ? genreIndex(secondary) : -1,
    });
  }
  return result;
}

function subscriptionFor(rng: Rng, age: number): SubscriptionType {
  const weights = SUBSCRIPTION_TYPES.map((type) => {
    const base = SUBSCRIPTION_BASE_WEIGHT[type];
    if (type === "student") return age >= 18 && age <= 26 ? base * 4 : age < 18 ? 0 : base * 0.05;
    if (type === "family") return age >= 35 && age <= 59 ? base * 1.8 : age < 18 ? base * 1.5 : base * 0.6;
    if (type === "duo") return age >= 24 && age <= 44 ? base * 1.6 : base * 0.5;
    return base;
  });
  return SUBSCRIPTION_TYPES[rng.weightedIndex(weights)] as SubscriptionType;
}

function generateUsers(opts: ResolvedCatalogOptions): UserRow[] {
  const rng = new Rng(opts.seed, "users");
  const nowYear = yearOf(opts.now);
  // Age groups are relative to "now"; the birth-year range is fixed, so clip each group to it.
  const groups = AGE_GROUPS.map((group) => ({
    from: Math.max(BIRTH_YEAR_MIN, nowYear - group.maxAge),
    to: Math.min(BIRTH_YEAR_MAX, nowYear - group.minAge),
    weight: group.weight,
  })).filter((group) => group.from <= group.to);
  const groupCumulative: number[] = [];
  let groupTotal = 0;
  for (const group of groups) {
    groupTotal += group.weight;
    groupCumulative.push(groupTotal);
  }

  // Stratified quantiles (one per user, shuffled) so every age group is represented in proportion even for
  // small user counts; independent draws could leave the 55+ or 13-17 bucket empty.
  const quantiles = rng.shuffle(Array.from({ length: opts.users }, (_, i) => (i + rng.next()) / Math.max(1, opts.users)));
  const countryWeights = weightsOf(COUNTRIES, USER_COUNTRY_WEIGHT);
  const result: UserRow[] = [];
  for (let i = 0; i < opts.users; i++) {
    const target = (quantiles[i] as number) * groupTotal;
    let groupIdx = groupCumulative.findIndex((c) => target < c);
    if (groupIdx < 0) groupIdx = groups.length - 1;
    const group = groups[groupIdx];
    const birthYear = group ? rng.int(group.from, group.to) : rng.int(BIRTH_YEAR_MIN, BIRTH_YEAR_MAX);
    const country = COUNTRIES[rng.weightedIndex(countryWeights)] as Country;
    const subscriptionType = subscriptionFor(rng, nowYear - birthYear);
    // 1 - sqrt(u) has density 2(1-x): signups grow toward the present, as a growing service's do.
    const ago = MIN_SIGNUP_AGE_MS + (SIGNUP_WINDOW_MS - MIN_SIGNUP_AGE_MS) * (1 - Math.sqrt(rng.next()));
    const signupAt = new Date(Math.floor((opts.now - ago) / MS_PER_SECOND) * MS_PER_SECOND);
    result.push({ id: `user_${i + 1}`, birthYear, country, subscriptionType, signupAt });
  }
  return result;
}

// ---------------------------------------------------------------- listening behaviour

interface UserBehavior {
  favoriteGenres: number[];
  favoriteWeights: number[];
  preferredDevice: DeviceType;
  skipPropensity: number;
  eventCount: number;
  playlistCount: number;
  shareCount: number;
}

/** Genre taste by age: younger listeners lean to hip hop / k-pop / electronic, older ones to rock / jazz / classical. */
function ageGenreFactor(genre: Genre, age: number): number {
  const young = age < 30;
  const old = age >= 45;
  switch (genre) {
    case "hip_hop":
    case "k_pop":
    case "electronic":
      return young ? 1.6 : old ? 0.5 : 1;
    case "rock":
    case "jazz":
    case "classical":
    case "blues":
    case "country":
    case "folk":
      return old ? 1.8 : young ? 0.7 : 1;
    default:
      return 1;
  }
}

/** Largest-remainder apportionment: integer counts proportional to weights that sum to exactly `total`. */
function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((acc, w) => acc + w, 0);
  if (total === 0 || sum <= 0) return weights.map(() => 0);
  const exact = weights.map((w) => (total * w) / sum);
  const counts = exact.map(Math.floor);
  let remainder = total - counts.reduce((acc, c) => acc + c, 0);
  const order = exact
    .map((_x, i) => i)
    .sort((a, b) => {
      const diff = ((exact[b] as number) % 1) - ((exact[a] as number) % 1);
      return diff !== 0 ? diff : a - b;
    });
  for (let k = 0; remainder > 0; k = (k + 1) % order.length, remainder--) {
    const i = order[k] as number;
    counts[i] = (counts[i] as number) + 1;
  }
  return counts;
}

function generateBehavior(opts: ResolvedCatalogOptions, userRows: readonly UserRow[], genreTrackCounts: readonly number[]): UserBehavior[] {
  const rng = new Rng(opts.seed, "behavior");
  const nowYear = yearOf(opts.now);
  const activity: number[] = [];
  const partial = userRows.map((user) => {
    const age = nowYear - user.birthYear;
    const boost = COUNTRY_GENRE_BOOST[user.country];
    // Only genres that have tracks can be a taste; the user's country and age tilt the choice.
    const genreWeights = GENRES.map(
      (genre, gi) => (genreTrackCounts[gi] as number) * Math.sqrt(boost[genre] ?? 1) * ageGenreFactor(genre, age),
    );
    const favoriteCount = [1, 2, 3][rng.weightedIndex([35, 40, 25])] as number;
    const favoriteGenres: number[] = [];
    const available = genreWeights.filter((w) => w > 0).length;
    while (favoriteGenres.length < Math.min(favoriteCount, available)) {
      const gi = rng.weightedIndex(genreWeights);
      if (!favoriteGenres.includes(gi)) favoriteGenres.push(gi);
      genreWeights[gi] = 0;
    }
    const favoriteWeights = [0.6, 0.28, 0.12].slice(0, favoriteGenres.length);
    const preferredDevice = DEVICE_TYPES[rng.weightedIndex(weightsOf(DEVICE_TYPES, DEVICE_WEIGHT))] as DeviceType;
    const skipPropensity = clamp(Math.exp(0.35 * rng.gaussian()), 0.5, 1.8);
    const inactive = rng.chance(INACTIVE_USER_SHARE);
    activity.push(inactive ? 0 : Math.exp(ACTIVITY_LOG_SD * clamp(rng.gaussian(), ACTIVITY_Z_MIN, ACTIVITY_Z_MAX)));
    return { favoriteGenres, favoriteWeights, preferredDevice, skipPropensity };
  });
  // If every user happened to be inactive there would be nowhere to put the events.
  if (opts.events > 0 && !activity.some((a) => a > 0)) activity.fill(1);
  const eventCounts = apportion(opts.events, activity);
  return partial.map((p, i) => {
    const events = eventCounts[i] as number;
    return {
      ...p,
      eventCount: events,
      playlistCount: events > 0 ? rng.poisson(PLAYLIST_BASE_RATE + PLAYLIST_PER_EVENT * events) : 0,
      shareCount: events > 0 ? rng.poisson(SHARE_BASE_RATE + SHARE_PER_EVENT * events) : 0,
    };
  });
}

/** Precomputed popularity orderings and samplers for picking tracks. */
interface TrackIndex {
  /** Track indices from most to least popular. */
  byPopularity: Int32Array;
  globalZipf: CumulativeSampler;
  /** Per genre: that genre's (primary) tracks from most to least popular, and a Zipf sampler over them. */
  genreTracks: Int32Array[];
  genreZipf: (CumulativeSampler | null)[];
}

function buildTrackIndex(
  opts: ResolvedCatalogOptions,
  trackStates: readonly TrackState[],
  artistStates: readonly ArtistState[],
): TrackIndex {
  const rng = new Rng(opts.seed, "popularity");
  const artistById = new Map(artistStates.map((a) => [a.row.id, a.row]));
  const maxYear = Math.min(YEAR_MAX_CATALOG, yearOf(opts.now));
  // Popularity: famous artists and recent releases chart higher, with plenty of noise (one-hit wonders).
  const score = trackStates.map((t) => {
    const followers = artistById.get(t.row.artistId)?.followers ?? FOLLOWERS_MIN;
    const recency = maxYear - t.row.releaseYear <= 2 ? 0.6 : 0;
    return 0.5 * Math.log(followers) + recency + rng.normal(0, 1.2);
  });
  const order = trackStates
    .map((_, i) => i)
    .sort((a, b) => {
      const diff = (score[b] as number) - (score[a] as number);
      return diff !== 0 ? diff : a - b;
    });
  const byPopularity = Int32Array.from(order);
  const perGenre: number[][] = GENRES.map(() => []);
  for (const ti of order) (perGenre[(trackStates[ti] as TrackState).genre] as number[]).push(ti);
  return {
    byPopularity,
    globalZipf: CumulativeSampler.zipf(Math.max(1, order.length), TRACK_ZIPF_S),
    genreTracks: perGenre.map((list) => Int32Array.from(list)),
    genreZipf: perGenre.map((list) => (list.length > 0 ? CumulativeSampler.zipf(list.length, TRACK_ZIPF_S) : null)),
  };
}

interface TrackPicker {
  global(): number;
  /** Zipf within one of the user's favorite genres (by taste weight). */
  taste(): number;
  /** Uniform within a favorite genre: the long tail that discovery surfaces. */
  tasteTail(): number;
}

function trackPicker(rng: Rng, index: TrackIndex, behavior: UserBehavior): TrackPicker {
  const global = (): number => index.byPopularity[index.globalZipf.sample(rng)] as number;
  const favoriteGenre = (): number | null => {
    if (behavior.favoriteGenres.length === 0) return null;
    return behavior.favoriteGenres[rng.weightedIndex(behavior.favoriteWeights)] as number;
  };
  return {
    global,
    taste: () => {
      const gi = favoriteGenre();
      const sampler = gi === null ? null : index.genreZipf[gi];
      const list = gi === null ? undefined : index.genreTracks[gi];
      return sampler && list ? (list[sampler.sample(rng)] as number) : global();
    },
    tasteTail: () => {
      const gi = favoriteGenre();
      const list = gi === null ? undefined : index.genreTracks[gi];
      return list && list.length > 0 ? (list[Math.floor(rng.next() * list.length)] as number) : global();
    },
  };
}

function sessionLength(rng: Rng, remaining: number): number {
  const length = 1 + Math.floor(rng.exponential(SESSION_MEAN_EXTRA_TRACKS));
  return Math.min(remaining, SESSION_MAX_TRACKS, length);
}

interface PlannedPlay {
  track: number;
  offsetMs: number;
  msPlayed: number;
  skipped: boolean;
  replayed: boolean;
  source: ListeningSource;
}

// ---------------------------------------------------------------- catalog

export function createCatalog(options: CatalogOptions): Catalog {
  const opts = resolveOptions(options);
  const artistStates = generateArtists(opts);
  const trackStates = generateTracks(opts, artistStates);
  const userRows = generateUsers(opts);
  const genreTrackCounts = GENRES.map(() => 0);
  for (const t of trackStates) genreTrackCounts[t.genre] = (genreTrackCounts[t.genre] as number) + 1;
  const behaviors = generateBehavior(opts, userRows, genreTrackCounts);
  const index = buildTrackIndex(opts, trackStates, artistStates);
  const totalActions = behaviors.reduce((acc, b) => acc + b.playlistCount + b.shareCount, 0);
  const sourceWeights = weightsOf(LISTENING_SOURCES, SOURCE_WEIGHT);
  const deviceWeights = weightsOf(DEVICE_TYPES, DEVICE_WEIGHT);

  function windowOf(user: UserRow): { from: number; to: number } {
    return { from: Math.max(opts.now - ACTIVITY_WINDOW_MS, user.signupAt.getTime()), to: opts.now };
  }

  function* listeningEvents(chunkSize: number = DEFAULT_CHUNK_SIZE): Generator<ListeningEventRow[], void, undefined> {
    checkChunkSize(chunkSize);
    const rng = new Rng(opts.seed, "listening");
    let sessionNumber = 0;
    let buffer: ListeningEventRow[] = [];

    for (let ui = 0; ui < userRows.length; ui++) {
      const user = userRows[ui] as UserRow;
      const behavior = behaviors[ui] as UserBehavior;
      if (behavior.eventCount === 0) continue;
      const picker = trackPicker(rng, index, behavior);
      const tasteGenres = new Set(behavior.favoriteGenres);

      // Heavy rotation: the handful of tracks this user keeps coming back to (library and playlist plays).
      const rotationSize = clamp(Math.round(behavior.eventCount / 8), ROTATION_MIN_TRACKS, ROTATION_MAX_TRACKS);
      const rotation: number[] = [];
      for (let k = 0; k < rotationSize; k++) rotation.push(picker.taste());
      const rotationSet = new Set(rotation);

      const lengths: number[] = [];
      for (let remaining = behavior.eventCount; remaining > 0; ) {
        const length = sessionLength(rng, remaining);
        lengths.push(length);
        remaining -= length;
      }
      const { from, to } = windowOf(user);
      const utcOffset = COUNTRY_UTC_OFFSET_HOURS[user.country];
      const starts = lengths.map(() => diurnalTime(rng, from, to, utcOffset)).sort((a, b) => a - b);

      let previousEnd = -Infinity;
      for (let si = 0; si < lengths.length; si++) {
        sessionNumber++;
        const sessionId = `session_${sessionNumber}`;
        const device = rng.chance(DEVICE_STICKINESS)
          ? behavior.preferredDevice
          : (DEVICE_TYPES[rng.weightedIndex(deviceWeights)] as DeviceType);
        const mainSource = LISTENING_SOURCES[rng.weightedIndex(sourceWeights)] as ListeningSource;

        // Plan the session relative to its start first; its length decides where it can be placed.
        const plays: PlannedPlay[] = [];
        let offset = 0;
        let replayNext = false;
        for (let k = 0; k < (lengths[si] as number); k++) {
          const previous = plays[plays.length - 1];
          let source: ListeningSource;
          let track: number;
          const replayed = replayNext && previous !== undefined;
          if (replayed && previous) {
            source = previous.source;
            track = previous.track;
          } else {
            source = rng.chance(SOURCE_STICKINESS) ? mainSource : (LISTENING_SOURCES[rng.weightedIndex(sourceWeights)] as ListeningSource);
            track = pickForSource(rng, source, picker, rotation);
          }
          const state = trackStates[track] as TrackState;
          const inTaste = tasteGenres.has(state.genre) || tasteGenres.has(state.secondaryGenre);
          let skipProb = SOURCE_SKIP_PROB[source] * behavior.skipPropensity * (inTaste ? SKIP_IN_TASTE_FACTOR : SKIP_OUT_OF_TASTE_FACTOR);
          if (rotationSet.has(track)) skipProb *= SKIP_ROTATION_FACTOR;
          const skipped = rng.chance(clamp(skipProb, SKIP_PROB_MIN, SKIP_PROB_MAX));
          const duration = state.row.durationMs;
          let msPlayed: number;
          if (skipped) {
            // Most skips happen in the first seconds; some after giving the track a chance.
            msPlayed = rng.chance(EARLY_SKIP_SHARE)
              ? Math.min(EARLY_SKIP_MAX_MS, MIN_PLAY_MS + Math.floor(rng.exponential(EARLY_SKIP_MEAN_MS)))
              : Math.floor(EARLY_SKIP_MAX_MS + rng.next() * Math.max(0, 0.8 * duration - EARLY_SKIP_MAX_MS));
            msPlayed = Math.min(msPlayed, duration - MS_PER_SECOND);
          } else {
            msPlayed = rng.chance(0.9) ? duration : Math.floor(duration * (0.85 + 0.15 * rng.next()));
          }
          plays.push({ track, offsetMs: offset, msPlayed, skipped, replayed, source });
          replayNext = !skipped && rng.chance(REPLAY_PROB_AFTER_COMPLETE);
          const gap = rng.chance(0.85) ? rng.int(0, 2 * MS_PER_SECOND) : rng.int(5 * MS_PER_SECOND, 90 * MS_PER_SECOND);
          offset += msPlayed + gap;
        }
        const sessionDuration = offset;

        // Sessions of one user do not overlap and never end after "now"; an overloaded user (more listening than
        // the window holds) gets overlapping sessions rather than future timestamps.
        let start = Math.max(starts[si] as number, previousEnd + SESSION_MIN_GAP_MS);
        start = clamp(start, from, Math.max(from, to - sessionDuration));
        previousEnd = start + sessionDuration;

        for (const play of plays) {
          buffer.push({
            userId: user.id,
            trackId: (trackStates[play.track] as TrackState).row.id,
            sessionId,
            startedAt: new Date(start + play.offsetMs),
            msPlayed: play.msPlayed,
            skipped: play.skipped,
            replayed: play.replayed,
            source: play.source,
            deviceType: device,
          });
          if (buffer.length >= chunkSize) {
            yield buffer;
            buffer = [];
          }
        }
      }
    }
    if (buffer.length > 0) yield buffer;
  }

  function* userActions(chunkSize: number = DEFAULT_CHUNK_SIZE): Generator<UserActionRow[], void, undefined> {
    checkChunkSize(chunkSize);
    const rng = new Rng(opts.seed, "actions");
    let buffer: UserActionRow[] = [];
    for (let ui = 0; ui < userRows.length; ui++) {
      const user = userRows[ui] as UserRow;
      const behavior = behaviors[ui] as UserBehavior;
      const total = behavior.playlistCount + behavior.shareCount;
      if (total === 0) continue;
      const picker = trackPicker(rng, index, behavior);
      const { from, to } = windowOf(user);
      const utcOffset = COUNTRY_UTC_OFFSET_HOURS[user.country];
      const actions: UserActionRow[] = [];
      for (let k = 0; k < total; k++) {
        const action: UserActionType = k < behavior.playlistCount ? "playlist_create" : "share";
        // A new playlist usually starts from a track; a share always carries one.
        const withTrack = action === "share" || rng.chance(PLAYLIST_WITH_TRACK_SHARE);
        const trackId = withTrack && trackStates.length > 0 ? (trackStates[picker.taste()] as TrackState).row.id : null;
        actions.push({ userId: user.id, action, trackId, occurredAt: new Date(diurnalTime(rng, from, to, utcOffset)) });
      }
      actions.sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
      for (const row of actions) {
        buffer.push(row);
        if (buffer.length >= chunkSize) {
          yield buffer;
          buffer = [];
        }
      }
    }
    if (buffer.length > 0) yield buffer;
  }

  return {
    options: opts,
    artists: artistStates.map((a) => a.row),
    tracks: trackStates.map((t) => t.row),
    users: userRows,
    counts: {
      artists: artistStates.length,
      tracks: trackStates.length,
      users: userRows.length,
      listeningEvents: opts.events,
      userActions: totalActions,
    },
    listeningEvents,
    userActions,
  };
}

function pickForSource(rng: Rng, source: ListeningSource, picker: TrackPicker, rotation: readonly number[]): number {
  const r = rng.next();
  switch (source) {
    case "library":
      return r < 0.7 && rotation.length > 0 ? rng.pick(rotation) : picker.taste();
    case "playlist":
      return r < 0.35 && rotation.length > 0 ? rng.pick(rotation) : r < 0.75 ? picker.taste() : picker.global();
    case "radio":
      return r < 0.65 ? picker.taste() : picker.global();
    case "discover":
      return r < 0.5 ? picker.tasteTail() : picker.global();
    case "search":
      return r < 0.55 ? picker.global() : picker.taste();
  }
}

/** Whole catalog in memory: convenient for tests and small demos; use the streams for large sizes. */
export function materializeCatalog(options: CatalogOptions): {
  artists: ArtistRow[];
  tracks: TrackRow[];
  users: UserRow[];
  listeningEvents: ListeningEventRow[];
  userActions: UserActionRow[];
} {
  const catalog = createCatalog(options);
  return {
    artists: [...catalog.artists],
    tracks: [...catalog.tracks],
    users: [...catalog.users],
    listeningEvents: [...catalog.listeningEvents()].flat(),
    userActions: [...catalog.userActions()].flat(),
  };
}
