CREATE TABLE "feature_drift_edges" (
	"feature_name" text PRIMARY KEY NOT NULL,
	"edges" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "feature_drift_references" (
	"name" text NOT NULL,
	"feature_name" text NOT NULL,
	"bins" jsonb NOT NULL,
	"nulls" bigint DEFAULT 0 NOT NULL,
	"source" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "feature_drift_references_name_feature_name_pk" PRIMARY KEY("name","feature_name")
);
--> statement-breakpoint
CREATE TABLE "feature_quality" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"computed_at" timestamp with time zone NOT NULL,
	"feature_name" text NOT NULL,
	"entity_type" text NOT NULL,
	"entities" integer NOT NULL,
	"with_value" integer NOT NULL,
	"fresh_non_null" integer NOT NULL,
	"staleness_seconds" double precision,
	"stale_share" double precision NOT NULL,
	"completeness" double precision NOT NULL,
	"updates" bigint NOT NULL,
	"rejects" bigint NOT NULL,
	"validation_error_rate" double precision NOT NULL,
	"drift_status" text NOT NULL,
	"psi" double precision,
	"drift_test" text,
	"drift_statistic" double precision,
	"drift_p_value" double precision,
	"score" double precision NOT NULL,
	"details" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "feature_update_counts" (
	"day" date NOT NULL,
	"feature_name" text NOT NULL,
	"updates" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "feature_update_counts_day_feature_name_pk" PRIMARY KEY("day","feature_name")
);
--> statement-breakpoint
CREATE TABLE "feature_value_histograms" (
	"feature_name" text NOT NULL,
	"bucket_start" timestamp with time zone NOT NULL,
	"bins" jsonb NOT NULL,
	"nulls" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "feature_value_histograms_feature_name_bucket_start_pk" PRIMARY KEY("feature_name","bucket_start")
);
--> statement-breakpoint
CREATE TABLE "quality_watermarks" (
	"name" text PRIMARY KEY NOT NULL,
	"last_id" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "feature_quality_feature_idx" ON "feature_quality" USING btree ("feature_name","computed_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "feature_quality_time_idx" ON "feature_quality" USING btree ("computed_at");--> statement-breakpoint
CREATE INDEX "feature_value_histograms_time_idx" ON "feature_value_histograms" USING btree ("bucket_start");