// Postgres schema (drizzle): registry, feature time series, latest values, runs, dead letters, demo sources.
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  type PgTable,
  pgTable,
  primaryKey,
  real,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

/** Generic in the name, so a row type keyed by column name (SqlRow) still knows it. */
const tsz = <TName extends string>(name: TName) => timestamp(name, { withTimezone: true, mode: "date" });

// ---------------------------------------------------------------- registry

export const entityTypes = pgTable("entity_types", {
  name: text("name").primaryKey(),
  joinKey: text("join_key").notNull(),
  description: text("description").notNull(),
  idPrefix: text("id_prefix"),
  createdAt: tsz("created_at").notNull().defaultNow(),
});

/** A registry table of whole definitions by name: the validated definition as applied, its version and content hash. */
const definitionsTable = (name: string) =>
  pgTable(name, {
    name: text("name").primaryKey(),
    definition: jsonb("definition").notNull(),
    version: integer("version").notNull().default(1),
    contentHash: text("content_hash").notNull(),
    createdAt: tsz("created_at").notNull().defaultNow(),
    updatedAt: tsz("updated_at").notNull().defaultNow(),
  });

/** Raw event types (features/events.yaml) that aggregation features read. */
export const eventTypes = definitionsTable("event_types");

/** Feature services (features/services.yaml): named feature lists that models depend on. */
export const featureServices = definitionsTable("feature_services");

export const featureDefinitions = pgTable(
  "feature_definitions",
  {
    id: serial("id").primaryKey(),
    name: text("name").notNull().unique(),
    groupName: text("group_name").notNull(),
    entityType: text("entity_type")
      .notNull()
      .references(() => entityTypes.name),
    featureType: text("feature_type").notNull(),
    itemType: text("item_type"),
    dimension: integer("dimension"),
    computationType: text("computation_type").notNull(),
    sourceQuery: text("source_query"),
    updateFrequency: text("update_frequency").notNull(),
    retentionDays: integer("retention_days").notNull(),
    ttlSeconds: integer("ttl_seconds").notNull(),
    description: text("description").notNull(),
    owner: text("owner").notNull(),
    tags: text("tags").array().notNull().default(sql`'{}'::text[]`),
    minValue: doublePrecision("min_value"),
    maxValue: doublePrecision("max_value"),
    allowedValues: text("allowed_values").array(),
    nullPolicy: text("null_policy").notNull().default("allow"),
    defaultValue: jsonb("default_value"),
    transform: jsonb("transform"),
    aggregation: jsonb("aggregation"),
    dependsOn: jsonb("depends_on").notNull().default(sql`'{"tables":[],"features":[]}'::jsonb`),
    /** The whole validated definition, as applied. */
    definition: jsonb("definition").notNull(),
    version: integer("version").notNull().default(1),
    contentHash: text("content_hash").notNull(),
    createdAt: tsz("created_at").notNull().defaultNow(),
    updatedAt: tsz("updated_at").notNull().defaultNow(),
  },
  (t) => [index("feature_definitions_entity_idx").on(t.entityType), index("feature_definitions_group_idx").on(t.groupName)],
);

export const registryVersions = pgTable("registry_versions", {
  id: serial("id").primaryKey(),
  contentHash: text("content_hash").notNull(),
  author: text("author").notNull(),
  /** Created/updated/deleted, field by field. */
  diff: jsonb("diff").notNull(),
  /** The compiled snapshot published to KV. */
  snapshot: jsonb("snapshot").notNull(),
  featureCount: integer("feature_count").notNull(),
  appliedAt: tsz("applied_at").notNull().defaultNow(),
});

// ---------------------------------------------------------------- raw events

/** Raw events of POST /ingest/events (features/events.yaml types): the offline source of aggregation features. */
export const rawEvents = pgTable(
  "raw_events",
  {
    /** The envelope's idempotency key: a replayed event inserts nothing. */
    eventId: text("event_id").primaryKey(),
    eventType: text("event_type").notNull(),
    eventTimestamp: tsz("event_timestamp").notNull(),
    /** Join key -> entity id, as the envelope carries them. */
    entities: jsonb("entities").notNull(),
    fields: jsonb("fields").notNull(),
    receivedAt: tsz("received_at").notNull().defaultNow(),
  },
  (t) => [
    index("raw_events_type_time_idx").on(t.eventType, t.eventTimestamp),
    // Per-entity reads (training sets, backfill) filter by `entities @> {"<join key>": id}`, one lookup per id: a GIN
    // over every join key at once, since the join keys come from the registry (no expression index per key to add).
    index("raw_events_entities_idx").using("gin", sql`${t.entities} jsonb_path_ops`),
  ],
);

// ---------------------------------------------------------------- feature data

/** Time series of every accepted value, for point-in-time training sets. */
export const featureValues = pgTable(
  "feature_values",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    featureName: text("feature_name").notNull(),
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    value: jsonb("feature_value"),
    eventTimestamp: tsz("event_timestamp").notNull(),
    ingestedAt: tsz("ingested_at").notNull().defaultNow(),
    /** Hash of (entity, feature, event time, value): a replayed message writes nothing new. */
    idempotencyKey: text("idempotency_key").notNull(),
    version: integer("version").notNull().default(1),
  },
  (t) => [
    uniqueIndex("feature_values_idempotency_idx").on(t.idempotencyKey),
    index("feature_values_lookup_idx").on(t.entityType, t.entityId, t.featureName, t.eventTimestamp.desc()),
    index("feature_values_time_idx").on(t.eventTimestamp),
  ],
);

/** One row per entity x feature: the newest value by event time. */
export const featureLatest = pgTable(
  "feature_latest",
  {
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    featureName: text("feature_name").notNull(),
    value: jsonb("feature_value"),
    eventTimestamp: tsz("event_timestamp").notNull(),
    ingestedAt: tsz("ingested_at").notNull().defaultNow(),
    /** Orders different values with the same event time (src/core/keys.ts isNewer); '' ranks lowest. */
    tiebreak: text("tiebreak").notNull().default(""),
  },
  (t) => [primaryKey({ columns: [t.entityType, t.entityId, t.featureName] }), index("feature_latest_feature_idx").on(t.featureName)],
);

export const materializationRuns = pgTable(
  "materialization_runs",
  {
    id: serial("id").primaryKey(),
    featureName: text("feature_name").notNull(),
    status: text("status").notNull(), // running | succeeded | failed
    trigger: text("trigger").notNull(), // cli | cron | dev
    intervalStart: tsz("interval_start"),
    intervalEnd: tsz("interval_end").notNull(),
    rowsRead: integer("rows_read").notNull().default(0),
    rowsWritten: integer("rows_written").notNull().default(0),
    rejects: integer("rejects").notNull().default(0),
    /** Last entity id written: a crashed run resumes after it. */
    cursor: text("cursor"),
    error: text("error"),
    startedAt: tsz("started_at").notNull().defaultNow(),
    finishedAt: tsz("finished_at"),
    durationMs: integer("duration_ms"),
  },
  (t) => [index("materialization_runs_feature_idx").on(t.featureName, t.startedAt.desc())],
);

export const deadLetters = pgTable(
  "dead_letters",
  {
    id: serial("id").primaryKey(),
    /** Queue message id; a redelivered dead letter is stored once. */
    messageId: text("message_id").notNull(),
    message: jsonb("message").notNull(),
    reasons: jsonb("reasons").notNull(),
    source: text("source").notNull(), // validation | retries_exhausted | parse
    attempts: integer("attempts").notNull().default(0),
    createdAt: tsz("created_at").notNull().defaultNow(),
    replayedAt: tsz("replayed_at"),
  },
  (t) => [uniqueIndex("dead_letters_message_idx").on(t.messageId)],
);

/**
 * Rejected values counted per UTC day, feature, validation rule and ingest source (push,
 * materialization, replay): which producer sends what kind of bad data, without scanning dead letters.
 */
export const ingestRejects = pgTable(
  "ingest_rejects",
  {
    day: date("day", { mode: "string" }).notNull(),
    featureName: text("feature_name").notNull(),
    rule: text("rule").notNull(),
    source: text("source").notNull(),
    rejected: bigint("rejected", { mode: "number" }).notNull().default(0),
    lastRejectedAt: tsz("last_rejected_at").notNull().defaultNow(),
    /** The most recent reason's message, e.g. "skip_rate_7d: 1.5 is above max_value 1". */
    lastMessage: text("last_message"),
  },
  (t) => [
    primaryKey({ columns: [t.day, t.featureName, t.rule, t.source] }),
    index("ingest_rejects_feature_idx").on(t.featureName, t.day.desc()),
  ],
);

// ---------------------------------------------------------------- feature quality (README "Monitoring")

/** One row per feature per quality run (the ingest cron): the time series behind GET /quality and the gauges. */
export const featureQuality = pgTable(
  "feature_quality",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    computedAt: tsz("computed_at").notNull(),
    featureName: text("feature_name").notNull(),
    entityType: text("entity_type").notNull(),
    /** Entities of the type with any stored feature (the completeness denominator). */
    entities: integer("entities").notNull(),
    withValue: integer("with_value").notNull(),
    freshNonNull: integer("fresh_non_null").notNull(),
    /** now − newest event time; null when the feature has no value yet. */
    stalenessSeconds: doublePrecision("staleness_seconds"),
    staleShare: doublePrecision("stale_share").notNull(),
    completeness: doublePrecision("completeness").notNull(),
    updates: bigint("updates", { mode: "number" }).notNull(),
    rejects: bigint("rejects", { mode: "number" }).notNull(),
    validationErrorRate: doublePrecision("validation_error_rate").notNull(),
    driftStatus: text("drift_status").notNull(),
    psi: doublePrecision("psi"),
    driftTest: text("drift_test"),
    driftStatistic: doublePrecision("drift_statistic"),
    driftPValue: doublePrecision("drift_p_value"),
    score: doublePrecision("score").notNull(),
    /** Drift reasons, sample sizes, the windows compared. */
    details: jsonb("details").notNull(),
  },
  (t) => [index("feature_quality_feature_idx").on(t.featureName, t.computedAt.desc()), index("feature_quality_time_idx").on(t.computedAt)],
);

/**
 * Binned values per feature per hour of event time, filled incrementally from feature_values (a
 * watermark on its id): drift compares windows of these, never rescanning history.
 */
export const featureValueHistograms = pgTable(
  "feature_value_histograms",
  {
    featureName: text("feature_name").notNull(),
    bucketStart: tsz("bucket_start").notNull(),
    /** Bin index (numerical, edges in feature_drift_edges) or category / array element -> count. */
    bins: jsonb("bins").notNull(),
    nulls: bigint("nulls", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.featureName, t.bucketStart] }), index("feature_value_histograms_time_idx").on(t.bucketStart)],
);

/** Bin edges of a numerical feature, fixed at first sight (quantiles of its first values) so every window bins alike. */
export const featureDriftEdges = pgTable("feature_drift_edges", {
  featureName: text("feature_name").primaryKey(),
  edges: jsonb("edges").notNull(),
  createdAt: tsz("created_at").notNull().defaultNow(),
});

/** Pinned drift references (`npm run drift -- snapshot`): a period's or a training set's histogram. */
export const featureDriftReferences = pgTable(
  "feature_drift_references",
  {
    name: text("name").notNull(),
    featureName: text("feature_name").notNull(),
    bins: jsonb("bins").notNull(),
    nulls: bigint("nulls", { mode: "number" }).notNull().default(0),
    source: text("source").notNull(),
    createdAt: tsz("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.name, t.featureName] })],
);

/** Accepted values per UTC day of ingestion and feature: the denominator of the validation error rate. */
export const featureUpdateCounts = pgTable(
  "feature_update_counts",
  {
    day: date("day", { mode: "string" }).notNull(),
    featureName: text("feature_name").notNull(),
    updates: bigint("updates", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.day, t.featureName] })],
);

/** How far an incremental job has read (feature_values.id). */
export const qualityWatermarks = pgTable("quality_watermarks", {
  name: text("name").primaryKey(),
  lastId: bigint("last_id", { mode: "number" }).notNull(),
  updatedAt: tsz("updated_at").notNull().defaultNow(),
});

// ---------------------------------------------------------------- demo sources (EchoTune catalog)

export const artists = pgTable("artists", {
  id: text("id").primaryKey(), // artist_1 ...
  name: text("name").notNull(),
  genres: text("genres").array().notNull(),
  country: text("country").notNull(),
  debutYear: integer("debut_year").notNull(),
  followers: integer("followers").notNull(),
  createdAt: tsz("created_at").notNull().defaultNow(),
});

export const tracks = pgTable(
  "tracks",
  {
    id: text("id").primaryKey(), // track_1 ...
    artistId: text("artist_id")
      .notNull()
      .references(() => artists.id),
    featuredArtistIds: text("featured_artist_ids").array().notNull().default(sql`'{}'::text[]`),
    title: text("title").notNull(),
    genrePrimary: text("genre_primary").notNull(),
    genreSecondary: text("genre_secondary"),
    releaseYear: integer("release_year").notNull(),
    language: text("language").notNull(),
    durationMs: integer("duration_ms").notNull(),
    danceability: real("danceability").notNull(),
    energy: real("energy").notNull(),
    valence: real("valence").notNull(),
    tempo: real("tempo").notNull(),
    acousticness: real("acousticness").notNull(),
    createdAt: tsz("created_at").notNull().defaultNow(),
  },
  (t) => [index("tracks_artist_idx").on(t.artistId)],
);

export const users = pgTable("users", {
  id: text("id").primaryKey(), // user_1 ...
  birthYear: integer("birth_year").notNull(),
  country: text("country").notNull(),
  subscriptionType: text("subscription_type").notNull(),
  signupAt: tsz("signup_at").notNull(),
  createdAt: tsz("created_at").notNull().defaultNow(),
});

export const listeningEvents = pgTable(
  "listening_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    userId: text("user_id").notNull(),
    trackId: text("track_id").notNull(),
    sessionId: text("session_id").notNull(), // session_1 ...
    startedAt: tsz("started_at").notNull(),
    msPlayed: integer("ms_played").notNull(),
    skipped: boolean("skipped").notNull(),
    replayed: boolean("replayed").notNull(),
    source: text("source").notNull(), // discover | search | radio | playlist | library
    deviceType: text("device_type").notNull(), // mobile | desktop | web | smart_speaker | tv | car
  },
  (t) => [
    index("listening_events_user_time_idx").on(t.userId, t.startedAt),
    index("listening_events_track_idx").on(t.trackId),
    index("listening_events_session_idx").on(t.sessionId),
  ],
);

/** Non-listening actions: playlist creation and social shares. */
export const userActions = pgTable(
  "user_actions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    userId: text("user_id").notNull(),
    action: text("action").notNull(), // playlist_create | share
    trackId: text("track_id"),
    occurredAt: tsz("occurred_at").notNull(),
  },
  (t) => [index("user_actions_user_time_idx").on(t.userId, t.occurredAt)],
);

// ---------------------------------------------------------------- row types

type Columns<T extends PgTable> = T["_"]["columns"];

/**
 * A row as raw SQL (`select *`, `returning *`) hands it back: keyed by column name (`feature_name`),
 * typed as drizzle's $inferSelect types the column. `Pick<SqlRow<typeof t>, …>` for a narrower select.
 */
export type SqlRow<T extends PgTable> = {
  [K in keyof Columns<T> as Columns<T>[K]["_"]["name"]]: T["$inferSelect"][K & keyof T["$inferSelect"]];
};
