// POST /datasets/training: point-in-time training sets over HTTP (admin scope), streamed as CSV or JSONL.
//
// For moderate sizes: at most MAX_HTTP_TRAINING_ROWS output rows (413 beyond, naming the CLI).
// The same core as `npm run dataset` (src/training) runs against Postgres through the Neon driver;
// the as-of join completes before the response starts, so a database failure is still a 503, and
// the rows then stream out chunk by chunk without sitting in the isolate's memory.
import { type Context, Hono } from "hono";
import { z } from "zod";
import { authorize } from "../core/auth";
import { EntityTypeName } from "../core/definitions";
import { errorMessage, FeatureStoreError, invalidInput } from "../core/errors";
import { MAX_FEATURES_PER_REQUEST } from "../core/feature-request";
import { type PostgresConfig, withPostgresClient } from "../db/postgres";
import { readJson } from "../http/error-handler";
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
import type { ServingEnvVars } from "./app";
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
    features: z.array(z.string().min(1)).min(1).max(MAX_FEATURES_PER_REQUEST),
    format: z.enum(DATASET_FORMATS).default("csv"),
    include_event_timestamps: z.boolean().default(false),
    /** Spine mode: rows with event_timestamp and entity ids (entity_id and/or user_id, track_id, ...). */
    spine: z.array(z.record(z.string(), z.unknown())).min(1).optional(),
    /** Range mode: every observation of the features for these entities in [start, end). */
    entity_ids: z.array(z.string().min(1)).min(1).max(MAX_RANGE_ENTITIES).optional(),
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

export function trainingRoutes(): Hono<ServingEnvVars> {
  const r = new Hono<ServingEnvVars>();

  r.post("/training", async (c) => {
    const deps = c.get("deps");
    await authorize(c.req.header("authorization"), deps.apiKeys, "admin");
    const raw = await readTrainingBody(c);
    // Counted before validation: a spine far over the limit is refused without checking every row.
    const spineRows =
      raw && typeof raw === "object" && Array.isArray((raw as { spine?: unknown }).spine) ? (raw as { spine: unknown[] }).spine.length : 0;
    if (spineRows > MAX_HTTP_TRAINING_ROWS) throw tooLarge(`A spine of ${spineRows} rows`);
    const parsed = TrainingRequestBody.safeParse(raw);
    if (!parsed.success) throw invalidInput("training set request", parsed.error);
    const body = parsed.data;

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

function tooLarge(what: string): FeatureStoreError {
  return new FeatureStoreError("payload_too_large", `${what} exceeds the HTTP limit of ${MAX_HTTP_TRAINING_ROWS} rows; ${CLI_HINT}`, {
    limit: MAX_HTTP_TRAINING_ROWS,
  });
}

async function readTrainingBody(c: Context): Promise<unknown> {
  const length = Number(c.req.header("content-length") ?? 0);
  if (length > MAX_TRAINING_BODY_BYTES)
    throw new FeatureStoreError("payload_too_large", `Body of ${length} bytes exceeds ${MAX_TRAINING_BODY_BYTES} bytes; ${CLI_HINT}`);
  return readJson(c);
}

function postgresConfig(c: Context<ServingEnvVars>): PostgresConfig {
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
        await writer.abort(err).catch((abortErr: unknown) => console.warn(`training stream abort failed: ${errorMessage(abortErr)}`));
        throw err;
      } finally {
        await dataset.close();
      }
    });
    work.catch((err: unknown) => {
      if (responded) {
        console.error(`training set stream failed after the response started: ${errorMessage(err)}`);
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
