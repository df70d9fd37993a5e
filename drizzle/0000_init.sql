CREATE TABLE "artists" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"genres" text[] NOT NULL,
	"country" text NOT NULL,
	"debut_year" integer NOT NULL,
	"followers" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dead_letters" (
	"id" serial PRIMARY KEY NOT NULL,
	"message_id" text NOT NULL,
	"message" jsonb NOT NULL,
	"reasons" jsonb NOT NULL,
	"source" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"replayed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "entity_types" (
	"name" text PRIMARY KEY NOT NULL,
	"join_key" text NOT NULL,
	"description" text NOT NULL,
	"id_prefix" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "feature_definitions" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"group_name" text NOT NULL,
	"entity_type" text NOT NULL,
	"feature_type" text NOT NULL,
	"item_type" text,
	"dimension" integer,
	"computation_type" text NOT NULL,
	"source_query" text,
	"update_frequency" text NOT NULL,
	"retention_days" integer NOT NULL,
	"ttl_seconds" integer NOT NULL,
	"description" text NOT NULL,
	"owner" text NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"min_value" double precision,
	"max_value" double precision,
	"allowed_values" text[],
	"null_policy" text DEFAULT 'allow' NOT NULL,
	"default_value" jsonb,
	"transform" jsonb,
	"aggregation" jsonb,
	"depends_on" jsonb DEFAULT '{"tables":[],"features":[]}'::jsonb NOT NULL,
	"definition" jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"content_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "feature_definitions_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "feature_latest" (
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"feature_name" text NOT NULL,
	"feature_value" jsonb,
	"event_timestamp" timestamp with time zone NOT NULL,
	"ingested_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "feature_latest_entity_type_entity_id_feature_name_pk" PRIMARY KEY("entity_type","entity_id","feature_name")
);
--> statement-breakpoint
CREATE TABLE "feature_values" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"feature_name" text NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"feature_value" jsonb,
	"event_timestamp" timestamp with time zone NOT NULL,
	"ingested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"idempotency_key" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "listening_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"track_id" text NOT NULL,
	"session_id" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"ms_played" integer NOT NULL,
	"skipped" boolean NOT NULL,
	"replayed" boolean NOT NULL,
	"source" text NOT NULL,
	"device_type" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "materialization_runs" (
	"id" serial PRIMARY KEY NOT NULL,
	"feature_name" text NOT NULL,
	"status" text NOT NULL,
	"trigger" text NOT NULL,
	"interval_start" timestamp with time zone,
	"interval_end" timestamp with time zone NOT NULL,
	"rows_read" integer DEFAULT 0 NOT NULL,
	"rows_written" integer DEFAULT 0 NOT NULL,
	"rejects" integer DEFAULT 0 NOT NULL,
	"cursor" text,
	"error" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"duration_ms" integer
);
--> statement-breakpoint
CREATE TABLE "registry_versions" (
	"id" serial PRIMARY KEY NOT NULL,
	"content_hash" text NOT NULL,
	"author" text NOT NULL,
	"diff" jsonb NOT NULL,
	"snapshot" jsonb NOT NULL,
	"feature_count" integer NOT NULL,
	"applied_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tracks" (
	"id" text PRIMARY KEY NOT NULL,
	"artist_id" text NOT NULL,
	"featured_artist_ids" text[] DEFAULT '{}'::text[] NOT NULL,
	"title" text NOT NULL,
	"genre_primary" text NOT NULL,
	"genre_secondary" text,
	"release_year" integer NOT NULL,
	"language" text NOT NULL,
	"duration_ms" integer NOT NULL,
	"danceability" real NOT NULL,
	"energy" real NOT NULL,
	"valence" real NOT NULL,
	"tempo" real NOT NULL,
	"acousticness" real NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_actions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"action" text NOT NULL,
	"track_id" text,
	"occurred_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"birth_year" integer NOT NULL,
	"country" text NOT NULL,
	"subscription_type" text NOT NULL,
	"signup_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "feature_definitions" ADD CONSTRAINT "feature_definitions_entity_type_entity_types_name_fk" FOREIGN KEY ("entity_type") REFERENCES "public"."entity_types"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tracks" ADD CONSTRAINT "tracks_artist_id_artists_id_fk" FOREIGN KEY ("artist_id") REFERENCES "public"."artists"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "dead_letters_message_idx" ON "dead_letters" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "feature_definitions_entity_idx" ON "feature_definitions" USING btree ("entity_type");--> statement-breakpoint
CREATE INDEX "feature_definitions_group_idx" ON "feature_definitions" USING btree ("group_name");--> statement-breakpoint
CREATE INDEX "feature_latest_feature_idx" ON "feature_latest" USING btree ("feature_name");--> statement-breakpoint
CREATE UNIQUE INDEX "feature_values_idempotency_idx" ON "feature_values" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "feature_values_lookup_idx" ON "feature_values" USING btree ("entity_type","entity_id","feature_name","event_timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "feature_values_time_idx" ON "feature_values" USING btree ("event_timestamp");--> statement-breakpoint
CREATE INDEX "listening_events_user_time_idx" ON "listening_events" USING btree ("user_id","started_at");--> statement-breakpoint
CREATE INDEX "listening_events_track_idx" ON "listening_events" USING btree ("track_id");--> statement-breakpoint
CREATE INDEX "listening_events_session_idx" ON "listening_events" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "materialization_runs_feature_idx" ON "materialization_runs" USING btree ("feature_name","started_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "tracks_artist_idx" ON "tracks" USING btree ("artist_id");--> statement-breakpoint
CREATE INDEX "user_actions_user_time_idx" ON "user_actions" USING btree ("user_id","occurred_at");