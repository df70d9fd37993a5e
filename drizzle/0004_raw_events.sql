CREATE TABLE "raw_events" (
	"event_id" text PRIMARY KEY NOT NULL,
	"event_type" text NOT NULL,
	"event_timestamp" timestamp with time zone NOT NULL,
	"entities" jsonb NOT NULL,
	"fields" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "raw_events_type_time_idx" ON "raw_events" USING btree ("event_type","event_timestamp");