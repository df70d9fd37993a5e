// EchoTune's vocabularies (genres, countries, devices, moods, …): one list each, for the on-demand
// transforms, the demo catalog generator and the test fixtures. features/*.yaml repeats them as
// allowed_values, checked against these by test/unit/catalog.test.ts and the registry loader.

export const GENRES = [
  "pop",
  "rock",
  "hip_hop",
  "electronic",
  "jazz",
  "classical",
  "r_and_b",
  "country",
  "latin",
  "indie",
  "metal",
  "folk",
  "reggae",
  "blues",
  "k_pop",
] as const;
export type Genre = (typeof GENRES)[number];

export const COUNTRIES = ["US", "GB", "DE", "FR", "BR", "MX", "JP", "KR", "IN", "SE", "NL", "ES", "IT", "CA", "AU"] as const;
export type Country = (typeof COUNTRIES)[number];

export const LANGUAGES = ["en", "es", "pt", "de", "fr", "ja", "ko", "sv", "it", "hi", "instrumental"] as const;
export type Language = (typeof LANGUAGES)[number];

export const SUBSCRIPTION_TYPES = ["free", "premium", "family", "student", "duo"] as const;
export type SubscriptionType = (typeof SUBSCRIPTION_TYPES)[number];

/** Where a play was started from, as the apps record it. */
export const LISTENING_SOURCES = ["discover", "search", "radio", "playlist", "library"] as const;
export type ListeningSource = (typeof LISTENING_SOURCES)[number];

export const DEVICE_TYPES = ["mobile", "desktop", "web", "smart_speaker", "tv", "car"] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

/** Non-listening actions of the user_actions table. */
export const USER_ACTIONS = ["playlist_create", "share"] as const;
export type UserActionType = (typeof USER_ACTIONS)[number];

export const TIMES_OF_DAY = ["night", "morning", "afternoon", "evening"] as const;
export type TimeOfDay = (typeof TIMES_OF_DAY)[number];

export const DAYS_OF_WEEK = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const;
export type DayOfWeek = (typeof DAYS_OF_WEEK)[number];

export const PLAYLIST_CONTEXTS = [
  "none",
  "user_playlist",
  "editorial_playlist",
  "algorithmic_playlist",
  "album",
  "artist",
  "liked_songs",
  "chart",
  "other",
] as const;
export type PlaylistContext = (typeof PLAYLIST_CONTEXTS)[number];

export const TRACK_RELATIONSHIPS = ["none", "same_track", "same_artist", "same_genre", "different"] as const;
export type TrackRelationship = (typeof TRACK_RELATIONSHIPS)[number];

/** Quadrants of the valence/energy plane (Russell's circumplex), plus its centre. */
export const MOODS = ["happy", "calm", "intense", "melancholic", "neutral"] as const;
export type Mood = (typeof MOODS)[number];

export const LOCATION_CONTEXTS = ["home", "work", "commute", "gym", "other"] as const;
export type LocationContext = (typeof LOCATION_CONTEXTS)[number];
