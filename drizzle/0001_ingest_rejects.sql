CREATE TABLE "ingest_rejects" (
	"day" date NOT NULL,
	"feature_name" text NOT NULL,
	"rule" text NOT NULL,
	"source" text NOT NULL,
	"rejected" bigint DEFAULT 0 NOT NULL,
	"last_rejected_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_message" text,
	CONSTRAINT "ingest_rejects_day_feature_name_rule_source_pk" PRIMARY KEY("day","feature_name","rule","source")
);
--> statement-breakpoint
CREATE INDEX "ingest_rejects_feature_idx" ON "ingest_rejects" USING btree ("feature_name","day" DESC NULLS LAST);