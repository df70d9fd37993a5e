// Registered on-demand transforms: pure functions shared by the serving Worker and offline training-set code.
//
// Features with `computation_type: on_demand` name one of these in `transform.name`; there is no
// eval, so a definition can only pick from this fixed list. Every transform is deterministic in
// (context, features, now): the Worker passes the request time as `now`, the training-set builder
// passes the label's event time, and both get the same value (no train/serve skew). A transform
// returns null when its inputs are missing or unusable; the feature's null_policy decides the rest.

import {
  DAYS_OF_WEEK,
  DEVICE_TYPES,
  type DeviceType,
  LISTENING_SOURCES,
  LOCATION_CONTEXTS,
  type LocationContext,
  MOODS,
  type Mood,
  PLAYLIST_CONTEXTS,
  type PlaylistContext,
  TIMES_OF_DAY,
  type TimeOfDay,
  TRACK_RELATIONSHIPS,
} from "./vocabularies";

export interface TransformInput {
  context: Record<string, unknown>;
  features: Record<string, unknown>;
  /** evaluation time, ms since epoch */
  now: number;
}
export type Transform = (input: TransformInput) => unknown;

interface TransformSpec {
  transform: Transform;
  description: string;
  /** What the transform reads: `context.<key>` or `feature:<name>`. */
  inputs: string[];
}

// ------------------------------------------------------------------ outputs

/** Index = JavaScript's getUTCDay() (0 = Sunday). */
const WEEKDAYS_FROM_SUNDAY = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"] as const;

/** A source the client sent that is none of the recorded ones is "other", not dropped. */
const LISTENING_SOURCE_OUTPUTS = [...LISTENING_SOURCES, "other"] as const;
type ListeningSourceOutput = (typeof LISTENING_SOURCE_OUTPUTS)[number];

/** Every value a categorical transform can return (besides null); YAML allowed_values must match. */
export const TRANSFORM_OUTPUT_VALUES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  time_of_day: TIMES_OF_DAY,
  day_of_week: DAYS_OF_WEEK,
  device_type: DEVICE_TYPES,
  listening_source: LISTENING_SOURCE_OUTPUTS,
  current_playlist_context: PLAYLIST_CONTEXTS,
  previous_track_relationship: TRACK_RELATIONSHIPS,
  user_mood_detected: MOODS,
  location_context: LOCATION_CONTEXTS,
});

// ------------------------------------------------------------------ small helpers

/** Lower snake_case: "Hip-Hop" -> hip_hop, "R&B" -> r_and_b (same rule as the batch SQL). */
export function normalizeToken(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const token = value
    .trim()
    .replace(/&/g, "_and_")
    .replace(/[\s_-]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toLowerCase();
  return token === "" ? null : token;
}

/** A non-empty trimmed string, compared verbatim (ids are case-sensitive). */
function nonEmptyString(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

function finiteNumber(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** Own-property lookup, so keys such as "constructor" never hit Object.prototype. */
function lookup<T extends string>(table: Readonly<Record<string, T>>, key: string | null): T | null {
  if (key === null || !Object.hasOwn(table, key)) return null;
  return table[key] ?? null;
}

/** Builds a synonym table in which each canonical value also maps to itself. */
function synonyms<T extends string>(canonical: readonly T[], extra: Readonly<Record<string, T>>): Readonly<Record<string, T>> {
  const table: Record<string, T> = {};
  for (const value of canonical) table[value] = value;
  return Object.freeze(Object.assign(table, extra));
}

// ------------------------------------------------------------------ local time

const MS_PER_MINUTE = 60_000;
/** Real UTC offsets span -12:00 .. +14:00; anything beyond is a unit mistake (seconds, hours). */
const MAX_ABS_OFFSET_MINUTES = 14 * 60;
const MORNING_START_HOUR = 5;
const AFTERNOON_START_HOUR = 12;
const EVENING_START_HOUR = 17;
const NIGHT_START_HOUR = 22;

interface LocalTime {
  hour: number;
  /** 0 = Sunday, as Date#getUTCDay. */
  weekday: number;
}

/**
 * ISO 8601 date-time. Group 7 is the zone: absent means a floating local wall-clock time,
 * which is read literally rather than through the host's timezone (that would be nondeterministic).
 */
const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const DIGITS_ONLY = /^-?\d+$/;

type ParsedTimestamp =
  | { kind: "instant"; epochMs: number /** offset written in the timestamp, minutes east of UTC */; offsetMinutes: number | null }
  | { kind: "wall_clock"; local: LocalTime };

function parseZone(zone: string): number {
  if (zone.toUpperCase() === "Z") return 0;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  return sign * (hours * 60 + minutes);
}

function parseTimestamp(raw: unknown, now: number): ParsedTimestamp | null {
  if (raw === undefined || raw === null) return { kind: "instant", epochMs: now, offsetMinutes: null };
  if (raw instanceof Date) {
    const ms = raw.getTime();
    return Number.isFinite(ms) ? { kind: "instant", epochMs: ms, offsetMinutes: null } : null;
  }
  // Numbers are epoch milliseconds, never seconds: guessing the unit would hide client bugs.
  const ms = finiteNumber(raw);
  if (ms !== null) return { kind: "instant", epochMs: ms, offsetMinutes: null };
  if (typeof raw !== "string") return null;
  const text = raw.trim();
  if (DIGITS_ONLY.test(text)) return { kind: "instant", epochMs: Number(text), offsetMinutes: null };

  const m = ISO_TIMESTAMP.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((part) => Number(part ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const fieldsAsUtc = Date.UTC(year, month - 1, day, hour, minute, second);
  const fields = new Date(fieldsAsUtc);
  if (fields.getUTCDate() !== day) return null; // 2024-02-30 would otherwise roll over into March
  const zone = m[7];
  if (zone === undefined) return { kind: "wall_clock", local: { hour: fields.getUTCHours(), weekday: fields.getUTCDay() } };
  const offsetMinutes = parseZone(zone);
  if (Math.abs(offsetMinutes) > MAX_ABS_OFFSET_MINUTES) return null;
  return { kind: "instant", epochMs: fieldsAsUtc - offsetMinutes * MS_PER_MINUTE, offsetMinutes };
}

const WEEKDAY_SHORT: Readonly<Record<string, number>> = Object.freeze({ Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 });
/** Formatters are costly to build; IANA has ~600 zones, the cap only guards against junk input. */
const MAX_CACHED_ZONES = 1024;
const zoneFormatters = new Map<string, Intl.DateTimeFormat>();

function zoneFormatter(timeZone: string): Intl.DateTimeFormat | null {
  const cached = zoneFormatters.get(timeZone);
  if (cached) return cached;
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", hour: "2-digit", weekday: "short" });
  } catch {
    return null; // RangeError: not an IANA zone
  }
  if (zoneFormatters.size >= MAX_CACHED_ZONES) zoneFormatters.clear();
  zoneFormatters.set(timeZone, formatter);
  return formatter;
}

function localTimeInZone(epochMs: number, timeZone: string): LocalTime | null {
  const formatter = zoneFormatter(timeZone);
  if (!formatter) return null;
  let hour: number | null = null;
  let weekday: number | null = null;
  for (const part of formatter.formatToParts(new Date(epochMs))) {
    if (part.type === "hour") hour = Number(part.value) % 24;
    else if (part.type === "weekday") weekday = WEEKDAY_SHORT[part.value] ?? null;
  }
  return hour === null || weekday === null || Number.isNaN(hour) ? null : { hour, weekday };
}

function shiftedLocalTime(epochMs: number, offsetMinutes: number): LocalTime {
  const d = new Date(epochMs + offsetMinutes * MS_PER_MINUTE);
  return { hour: d.getUTCHours(), weekday: d.getUTCDay() };
}

/**
 * The listener's local hour and weekday. Time: context.timestamp (ISO 8601 or epoch ms), else `now`.
 * Zone, first that applies: context.timezone (IANA), context.timezone_offset_minutes (minutes
 * east of UTC: +120 for UTC+2, the opposite sign of Date#getTimezoneOffset), the offset written in
 * the timestamp, UTC. A timestamp without zone is already local wall-clock time and is taken as is.
 * Null when an input is present but invalid: a wrong guess would be worse than a missing value.
 */
function localTime(input: TransformInput): LocalTime | null {
  const { context } = input;
  const parsed = parseTimestamp(context.timestamp, input.now);
  if (!parsed) return null;
  if (parsed.kind === "wall_clock") return parsed.local;
  if (!Number.isFinite(new Date(parsed.epochMs).getTime())) return null;

  if (context.timezone !== undefined && context.timezone !== null) {
    const zone = nonEmptyString(context.timezone);
    return zone === null ? null : localTimeInZone(parsed.epochMs, zone);
  }
  if (context.timezone_offset_minutes !== undefined && context.timezone_offset_minutes !== null) {
    const offset = finiteNumber(context.timezone_offset_minutes);
    if (offset === null || Math.abs(offset) > MAX_ABS_OFFSET_MINUTES) return null;
    return shiftedLocalTime(parsed.epochMs, offset);
  }
  return shiftedLocalTime(parsed.epochMs, parsed.offsetMinutes ?? 0);
}

export function timeOfDayForHour(hour: number): TimeOfDay {
  if (hour >= MORNING_START_HOUR && hour < AFTERNOON_START_HOUR) return "morning";
  if (hour >= AFTERNOON_START_HOUR && hour < EVENING_START_HOUR) return "afternoon";
  if (hour >= EVENING_START_HOUR && hour < NIGHT_START_HOUR) return "evening";
  return "night";
}

const timeOfDay: Transform = (input) => {
  const local = localTime(input);
  return local === null ? null : timeOfDayForHour(local.hour);
};

const dayOfWeek: Transform = (input) => {
  const local = localTime(input);
  return local === null ? null : (WEEKDAYS_FROM_SUNDAY[local.weekday] ?? null);
};

// ------------------------------------------------------------------ device

const DEVICE_SYNONYMS = synonyms<DeviceType>(DEVICE_TYPES, {
  phone: "mobile",
  smartphone: "mobile",
  tablet: "mobile",
  ios: "mobile",
  iphone: "mobile",
  ipad: "mobile",
  android: "mobile",
  computer: "desktop",
  pc: "desktop",
  mac: "desktop",
  laptop: "desktop",
  desktop_app: "desktop",
  windows: "desktop",
  macos: "desktop",
  linux: "desktop",
  browser: "web",
  web_player: "web",
  webplayer: "web",
  speaker: "smart_speaker",
  alexa: "smart_speaker",
  echo: "smart_speaker",
  google_home: "smart_speaker",
  homepod: "smart_speaker",
  sonos: "smart_speaker",
  smart_tv: "tv",
  television: "tv",
  chromecast: "tv",
  game_console: "tv",
  automotive: "car",
  carplay: "car",
  android_auto: "car",
});

/** First match wins, so the specific platforms (car, TV, speaker) precede the generic "Android". */
const USER_AGENT_RULES: ReadonlyArray<readonly [RegExp, DeviceType]> = [
  [/CarPlay|Android ?Auto|AAOS|\bAutomotive\b/i, "car"],
  [
    /SmartTV|SMART-TV|Tizen|Web0S|webOS\.TV|\bAppleTV|Apple TV|tvOS|\bAFT[A-Z]|BRAVIA|\bRoku|CrKey|GoogleTV|Android ?TV|PlayStation|Xbox/i,
    "tv",
  ],
  [/Sonos|\bAlexa\b|AmazonEcho|HomePod|AudioAccessory|Google-?Home/i, "smart_speaker"],
  [/iPhone|iPad|iPod|Android|Mobile|Windows Phone|BlackBerry/i, "mobile"],
  // A native desktop app (Electron shell) before the browser rule: both carry "Mozilla/".
  [/Electron|EchoTune-Desktop/i, "desktop"],
  [/Mozilla\//, "web"],
  [/Windows|Macintosh|Mac OS X|X11|Linux/i, "desktop"],
];

export function deviceTypeFromUserAgent(userAgent: string): DeviceType | null {
  for (const [pattern, device] of USER_AGENT_RULES) if (pattern.test(userAgent)) return device;
  return null;
}

function resolveDeviceType(context: Record<string, unknown>): DeviceType | null {
  const explicit = lookup(DEVICE_SYNONYMS, normalizeToken(context.device_type));
  if (explicit) return explicit;
  const userAgent = nonEmptyString(context.user_agent);
  return userAgent === null ? null : deviceTypeFromUserAgent(userAgent);
}

const deviceType: Transform = ({ context }) => resolveDeviceType(context);

// ------------------------------------------------------------------ listening source

const SOURCE_SYNONYMS = synonyms<ListeningSourceOutput>(LISTENING_SOURCE_OUTPUTS, {
  discovery: "discover",
  discover_weekly: "discover",
  release_radar: "discover",
  recommendation: "discover",
  recommendations: "discover",
  recommended: "discover",
  for_you: "discover",
  home: "discover",
  browse: "discover",
  search_result: "search",
  search_results: "search",
  query: "search",
  station: "radio",
  artist_radio: "radio",
  track_radio: "radio",
  autoplay: "radio",
  user_playlist: "playlist",
  editorial_playlist: "playlist",
  shared_playlist: "playlist",
  collection: "library",
  liked: "library",
  liked_songs: "library",
  saved: "library",
  favorites: "library",
  downloads: "library",
  offline: "library",
});

/** Null when the client sent no source; an unrecognised one is "other", not dropped. */
const listeningSource: Transform = ({ context }) => {
  const token = normalizeToken(context.source);
  if (token === null) return null;
  return lookup(SOURCE_SYNONYMS, token) ?? "other";
};

// ------------------------------------------------------------------ playlist context

const PLAYLIST_SYNONYMS = synonyms<PlaylistContext>(PLAYLIST_CONTEXTS, {
  no_playlist: "none",
  user: "user_playlist",
  personal: "user_playlist",
  own: "user_playlist",
  custom: "user_playlist",
  collaborative: "user_playlist",
  editorial: "editorial_playlist",
  curated: "editorial_playlist",
  official: "editorial_playlist",
  algorithmic: "algorithmic_playlist",
  generated: "algorithmic_playlist",
  personalized: "algorithmic_playlist",
  daily_mix: "algorithmic_playlist",
  discover_weekly: "algorithmic_playlist",
  release_radar: "algorithmic_playlist",
  mix: "algorithmic_playlist",
  ep: "album",
  single: "album",
  artist_page: "artist",
  top_tracks: "artist",
  liked: "liked_songs",
  favorites: "liked_songs",
  saved: "liked_songs",
  saved_tracks: "liked_songs",
  charts: "chart",
  top_50: "chart",
  top_hits: "chart",
  viral: "chart",
});

/** "none" when playback is not inside any container; an unnamed or unknown kind is "other". */
const currentPlaylistContext: Transform = ({ context }) => {
  const kind = normalizeToken(context.playlist_type);
  if (kind !== null) return lookup(PLAYLIST_SYNONYMS, kind) ?? "other";
  return nonEmptyString(context.playlist_id) === null ? "none" : "other";
};

// ------------------------------------------------------------------ previous track vs candidate

/** The candidate track's genre: the request context, else the joined track feature (offline). */
function candidateGenre({ context, features }: TransformInput): string | null {
  return normalizeToken(context.track_genre) ?? normalizeToken(features.genre_primary);
}

/**
 * How the candidate relates to the track played just before, strongest link first. "none" when
 * there was no previous track; null when no attribute is known on both sides to compare.
 */
const previousTrackRelationship: Transform = (input) => {
  const { context } = input;
  const previous = {
    id: nonEmptyString(context.previous_track_id),
    artist: nonEmptyString(context.previous_track_artist_id),
    genre: normalizeToken(context.previous_track_genre),
  };
  if (previous.id === null && previous.artist === null && previous.genre === null) return "none";
  const candidate = {
    id: nonEmptyString(context.track_id),
    artist: nonEmptyString(context.track_artist_id),
    genre: candidateGenre(input),
  };
  let comparable = false;
  for (const [key, result] of [
    ["id", "same_track"],
    ["artist", "same_artist"],
    ["genre", "same_genre"],
  ] as const) {
    const before = previous[key];
    const current = candidate[key];
    if (before === null || current === null) continue;
    comparable = true;
    if (before === current) return result;
  }
  return comparable ? "different" : null;
};

// ------------------------------------------------------------------ mood

/** Half-width of the "neutral" square around (0.5, 0.5) in the valence/energy plane. */
const NEUTRAL_BAND = 0.1;
const MOOD_MIDPOINT = 0.5;

const MOOD_SYNONYMS = synonyms<Mood>(MOODS, {
  joyful: "happy",
  upbeat: "happy",
  cheerful: "happy",
  party: "happy",
  energetic: "happy",
  relaxed: "calm",
  chill: "calm",
  peaceful: "calm",
  focus: "calm",
  focused: "calm",
  angry: "intense",
  aggressive: "intense",
  tense: "intense",
  workout: "intense",
  sad: "melancholic",
  melancholy: "melancholic",
  down: "melancholic",
  blue: "melancholic",
});

export function moodFromAudio(valence: number, energy: number): Mood {
  if (Math.abs(valence - MOOD_MIDPOINT) < NEUTRAL_BAND && Math.abs(energy - MOOD_MIDPOINT) < NEUTRAL_BAND) return "neutral";
  if (valence >= MOOD_MIDPOINT) return energy >= MOOD_MIDPOINT ? "happy" : "calm";
  return energy >= MOOD_MIDPOINT ? "intense" : "melancholic";
}

function unitInterval(value: unknown): number | null {
  const n = finiteNumber(value);
  return n !== null && n >= 0 && n <= 1 ? n : null;
}

/**
 * A mood the client states (context.mood) wins; otherwise the mean valence and energy of
 * context.recent_tracks (objects with numeric `valence` and `energy` in 0..1) place the session
 * in a quadrant. Entries lacking either number are ignored; null when none is usable.
 */
const userMoodDetected: Transform = ({ context }) => {
  const stated = lookup(MOOD_SYNONYMS, normalizeToken(context.mood));
  if (stated) return stated;
  if (!Array.isArray(context.recent_tracks)) return null;
  let valenceSum = 0;
  let energySum = 0;
  let count = 0;
  for (const track of context.recent_tracks as unknown[]) {
    if (typeof track !== "object" || track === null) continue;
    const { valence, energy } = track as Record<string, unknown>;
    const v = unitInterval(valence);
    const e = unitInterval(energy);
    if (v === null || e === null) continue;
    valenceSum += v;
    energySum += e;
    count += 1;
  }
  return count === 0 ? null : moodFromAudio(valenceSum / count, energySum / count);
};

// ------------------------------------------------------------------ location

const LOCATION_SYNONYMS = synonyms<LocationContext>(LOCATION_CONTEXTS, {
  house: "home",
  residence: "home",
  apartment: "home",
  office: "work",
  workplace: "work",
  school: "work",
  university: "work",
  campus: "work",
  commuting: "commute",
  car: "commute",
  driving: "commute",
  transit: "commute",
  train: "commute",
  bus: "commute",
  subway: "commute",
  metro: "commute",
  walking: "commute",
  fitness: "gym",
  workout: "gym",
  exercise: "gym",
  running: "gym",
  sport: "gym",
  sports: "gym",
});

/** Only devices that pin the place down: a car is moving, a TV or smart speaker is at home. */
const LOCATION_BY_DEVICE: Readonly<Partial<Record<DeviceType, LocationContext>>> = Object.freeze({
  car: "commute",
  tv: "home",
  smart_speaker: "home",
});

/** A stated context.location (unknown label: "other"), else inferred from the device, else null. */
const locationContext: Transform = ({ context }) => {
  const stated = normalizeToken(context.location);
  if (stated !== null) return lookup(LOCATION_SYNONYMS, stated) ?? "other";
  const device = resolveDeviceType(context);
  return device === null ? null : (LOCATION_BY_DEVICE[device] ?? null);
};

// ------------------------------------------------------------------ genre affinity

/**
 * 0..1 affinity of the user for the candidate track's genre, from the ranked favorite_genres
 * array (most played first): rank r of n scores (n - r) / n, so the top favorite is 1 and a genre
 * outside the list 0. Null when favorite_genres was never materialised or the genre is unknown.
 */
const genreAffinity: Transform = (input) => {
  const favorites = input.features.favorite_genres;
  if (!Array.isArray(favorites)) return null;
  const genre = candidateGenre(input);
  if (genre === null) return null;
  const ranked: string[] = [];
  for (const item of favorites as unknown[]) {
    const token = normalizeToken(item);
    if (token !== null && !ranked.includes(token)) ranked.push(token);
  }
  const rank = ranked.indexOf(genre);
  return rank === -1 ? 0 : (ranked.length - rank) / ranked.length;
};

// ------------------------------------------------------------------ registry

const TIME_INPUTS = ["context.timestamp", "context.timezone", "context.timezone_offset_minutes"];

export const TRANSFORMS: Readonly<Record<string, TransformSpec>> = Object.freeze({
  time_of_day: {
    transform: timeOfDay,
    description: "night (22-5h), morning (5-12h), afternoon (12-17h), evening (17-22h) in the listener's local time",
    inputs: [...TIME_INPUTS],
  },
  day_of_week: {
    transform: dayOfWeek,
    description: "monday..sunday in the listener's local time",
    inputs: [...TIME_INPUTS],
  },
  device_type: {
    transform: deviceType,
    description: "mobile | desktop | web | smart_speaker | tv | car from context.device_type, else parsed from context.user_agent",
    inputs: ["context.device_type", "context.user_agent"],
  },
  listening_source: {
    transform: listeningSource,
    description: "context.source normalised to discover | search | radio | playlist | library | other",
    inputs: ["context.source"],
  },
  current_playlist_context: {
    transform: currentPlaylistContext,
    description: "kind of container being played (user/editorial/algorithmic playlist, album, ...) or none",
    inputs: ["context.playlist_type", "context.playlist_id"],
  },
  previous_track_relationship: {
    transform: previousTrackRelationship,
    description: "candidate vs previous track: same_track > same_artist > same_genre > different, or none",
    inputs: [
      "context.previous_track_id",
      "context.previous_track_artist_id",
      "context.previous_track_genre",
      "context.track_id",
      "context.track_artist_id",
      "context.track_genre",
      "feature:genre_primary",
    ],
  },
  user_mood_detected: {
    transform: userMoodDetected,
    description: "stated mood, else valence/energy quadrant of the recent tracks: happy | calm | intense | melancholic | neutral",
    inputs: ["context.mood", "context.recent_tracks"],
  },
  location_context: {
    transform: locationContext,
    description: "home | work | commute | gym | other from context.location, else implied by the device (car, tv, speaker)",
    inputs: ["context.location", "context.device_type", "context.user_agent"],
  },
  genre_affinity: {
    transform: genreAffinity,
    description: "0..1 rank-weighted match of the candidate genre in the user's favorite_genres",
    inputs: ["feature:favorite_genres", "context.track_genre", "feature:genre_primary"],
  },
});

/** Runs a registered transform by name; unknown names are a configuration error, never a null. */
export function runTransform(name: string, input: TransformInput): unknown {
  if (!Object.hasOwn(TRANSFORMS, name)) {
    throw new Error(`Unknown transform "${name}"; registered: ${Object.keys(TRANSFORMS).join(", ")}`);
  }
  const spec = TRANSFORMS[name] as TransformSpec;
  // Requests arrive as JSON: tolerate a missing context/features object rather than throw a TypeError.
  return spec.transform({ context: input.context ?? {}, features: input.features ?? {}, now: input.now });
}
