// POST /datasets/training: point-in-time training sets over HTTP (admin scope), streamed as CSV or JSONL.
//
// For moderate sizes: at most MAX_HTTP_TRAINING_ROWS output rows (413 beyond, naming the CLI).
// The same core as `npm run dataset` (src/training) runs against Postgres through the Neon driver;
// the as-of join completes before the response starts, so a database failure is still a 503, and
// the rows then stream out chunk by chunk without sitting in the isolate's memory.

import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { EntityTypeName } from "../core/definitions";
import { errorMessage, FeatureStoreError } from "../core/errors";
import { MAX_FEATURES_PER_REQUEST } from "../core/feature-request";
import { EntityId, FeatureRef } from "../core/identifiers";
import { log } from "../core/log";
import { type PostgresConfig, withPostgresClient } from "../db/postgres";
import { BEARER, component, errors, jsonBody, openapiRoute, streamed } from "../http/openapi-routes";
import {
  CONTENT_TYPES,
  DATASET_FORMATS,
  type DatasetFormat,
  encodeHeader,
  encodeRows,
  type PreparedTrainingSet,
  parseEventTimestamp,
  prepareTrainingSet,
  spineFromObjects,
  sqlRunner,
  TrainingDataset,
  type TrainingInput,
} from "../training";
import { requireScope, type ServingHonoEnv } from "./context";
import { resolveFeatureRefs } from "./feature-service";

/** Output rows one HTTP request may produce; bigger sets belong to the CLI, which streams to a file. */
export const MAX_HTTP_TRAINING_ROWS = 50_000;
/** A 50,000-row spine with a few label columns is a few MB; this leaves room for wide rows. */
export const MAX_TRAINING_BODY_BYTES = 32 * 1024 * 1024;
/** Entity ids in one range request. */
export const MAX_RANGE_ENTITIES = 10_000;
const CLI_HINT = "use `npm run dataset` (it streams any size to a file)";

const TimeValue = z.union([z.string(), z.number()]).refine((v) => parseEventTimestamp(v) !== null, {
  message: "must be ISO 8601 or epoch milliseconds",
});

export const TrainingRequestBody = z
  .object({
    features: z.array(FeatureRef).min(1).max(MAX_FEATURES_PER_REQUEST),
    format: z.enum(DATASET_FORMATS).default("csv"),
    include_event_timestamps: z.boolean().default(false),
    /** Spine mode: rows with event_timestamp and entity ids (entity_id and/or user_id, track_id, ...). */
    spine: z.array(z.record(z.string(), z.unknown())).min(1).optional(),
    /** Range mode: every observation of the features for these entities in [start, end). */
    entity_ids: z.array(EntityId).min(1).max(MAX_RANGE_ENTITIES).optional(),
    entity_type: EntityTypeName.optional(),
    start: TimeValue.optional(),
    end: TimeValue.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (b.spine && b.entity_ids) issue("spine", "give either spine (spine mode) or entity_ids with start and end (range mode), not both");
    else if (!b.spine && !b.entity_ids) issue("spine", "required: a spine, or entity_ids with start and end");
    if (b.entity_ids) {
      if (b.start === undefined) issue("start", "range mode needs start");
      if (b.end === undefined) issue("end", "range mode needs end");
    } else {
      for (const key of ["entity_type", "start", "end"] as const)
        if (b[key] !== undefined) issue(key, "only applies to range mode (entity_ids)");
    }
  });
export type TrainingRequestBody = z.infer<typeof TrainingRequestBody>;

export const trainingRoute = createRoute({
  method: "post",
  path: "/training",
  summary: `Point-in-time correct training set (admin scope), streamed as CSV or JSONL; up to ${MAX_HTTP_TRAINING_ROWS} rows`,
  description:
    "Spine mode: `spine` rows with event_timestamp and entity ids. Range mode: `entity_ids` with `start` and `end`. " +
    `Bigger sets: ${CLI_HINT}.`,
  security: BEARER,
  middleware: [requireScope("admin")],
  request: {
    body: jsonBody(component(TrainingRequestBody, "TrainingRequest"), {
      subject: "training set request",
      maxBytes: MAX_TRAINING_BODY_BYTES,
      hint: CLI_HINT,
      precheck: refuseLongSpine,
    }),
  },
  responses: {
    200: streamed(
      "The training set; `x-training-rows` gives its row count",
      { "text/csv": { schema: z.string() }, "application/x-ndjson": { schema: z.string() } },
      z.object({
        "x-training-rows": z.string().meta({ description: "Rows in the set" }),
        "x-feature-store-version": z.string().meta({ description: "Registry version of the definitions used" }),
      }),
    ),
    ...errors([400, 401, 403, 404, 413, 503], {
      413: `Body over ${MAX_TRAINING_BODY_BYTES} bytes or a set over ${MAX_HTTP_TRAINING_ROWS} rows`,
      503: "Postgres (where training sets are built) is not configured or failed",
    }),
  },
});

export function trainingRoutes(): OpenAPIHono<ServingHonoEnv> {
  const r = new OpenAPIHono<ServingHonoEnv>();

  openapiRoute(r, trainingRoute, async (c) => {
    const deps = c.get("deps");
    const body = c.req.valid("json");
    const registry = await deps.registry();
    resolveFeatureRefs(registry, body.features);
    const input: TrainingInput = body.spine
      ? { spine: spineFromObjects(body.spine), features: body.features }
      : {
          entityIds: body.entity_ids!,
          features: body.features,
          start: parseEventTimestamp(body.start)!,
          end: parseEventTimestamp(body.end)!,
          ...(body.entity_type ? { entityType: body.entity_type } : {}),
        };
    const prepared = prepareTrainingSet(registry, input, { includeEventTimestamps: body.include_event_timestamps });
    return streamDataset(c, postgresConfig(c), prepared, body.format, registry.version);
  });

  return r;
}

/** Counted before validation: a spine far over the limit is refused without checking every row. */
function refuseLongSpine(raw: unknown): void {
  const spine = raw && typeof raw === "object" && "spine" in raw ? raw.spine : undefined;
  if (Array.isArray(spine) && spine.length > MAX_HTTP_TRAINING_ROWS) throw tooLarge(`A spine of ${spine.length} rows`);
}

function tooLarge(what: string): FeatureStoreError {
  return new FeatureStoreError("payload_too_large", `${what} exceeds the HTTP limit of ${MAX_HTTP_TRAINING_ROWS} rows; ${CLI_HINT}`, {
    limit: MAX_HTTP_TRAINING_ROWS,
  });
}

function postgresConfig(c: Context<ServingHonoEnv>): PostgresConfig {
  const cfg = c.get("deps").postgresConfig;
  if (!cfg) throw new FeatureStoreError("unavailable", "Training sets are built in Postgres, which is not configured for this Worker");
  return cfg;
}

function keepAlive(c: Context, work: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    // No execution context (app.request in a unit test): the promise runs unattended.
    void work;
  }
}

/** Resolves with the streaming response once the as-of join is done; rejects (status intact) if it fails before that. */
function streamDataset(
  c: Context,
  cfg: PostgresConfig,
  prepared: PreparedTrainingSet,
  format: DatasetFormat,
  version: string,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    let responded = false;
    const work = withPostgresClient(cfg, async (client) => {
      const dataset = await TrainingDataset.open(sqlRunner(client), prepared);
      try {
        if (dataset.totalRows > MAX_HTTP_TRAINING_ROWS) throw tooLarge(`A training set of ${dataset.totalRows} rows`);
        await dataset.join();
      } catch (err) {
        await dataset.close();
        throw err;
      }
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      const writer = writable.getWriter();
      const encoder = new TextEncoder();
      responded = true;
      resolve(
        new Response(readable, {
          headers: {
            "content-type": CONTENT_TYPES[format],
            "content-disposition": `attachment; filename="training.${format}"`,
            "cache-control": "no-store",
            "x-training-rows": String(dataset.totalRows),
            "x-feature-store-version": version,
          },
        }),
      );
      try {
        const header = encodeHeader(format, dataset.columns);
        if (header) await writer.write(encoder.encode(header));
        for await (const batch of dataset.batches()) await writer.write(encoder.encode(encodeRows(format, dataset.columns, batch)));
        await writer.close();
      } catch (err) {
        // The status is already sent: aborting makes the client see a failed transfer, not a short file.
        await writer.abort(err).catch((abortErr: unknown) => log("warn", "training_stream_abort_failed", { error: abortErr }));
        throw err;
      } finally {
        await dataset.close();
      }
    });
    work.catch((err: unknown) => {
      if (responded) {
        log("error", "training_stream_failed", { error: err, after: "response started" });
        return;
      }
      reject(
        err instanceof FeatureStoreError
          ? err
          : new FeatureStoreError("unavailable", `Postgres could not build the training set: ${errorMessage(err)}`, undefined, {
              cause: err,
            }),
      );
    });
    keepAlive(c, work);
  });
}
