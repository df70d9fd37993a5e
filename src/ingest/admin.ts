// Admin API of the ingest Worker (admin scope): start materializations (NDJSON progress stream) and list runs.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { FeatureDefinition } from "../core/definitions";
import { FeatureStoreError, listedSnippets, snippet } from "../core/errors";
import { MAX_BODY_BYTES } from "../core/feature-request";
import type { CompiledRegistry } from "../core/registry";
import { withPostgresClient } from "../db/postgres";
import { BEARER, component, errors, json, jsonBody, named, openapiRoute, streamed } from "../http/openapi-routes";
import type { MaterializeEvent, RunStatus } from "../materialize/events";
import { type MaterializerDeps, materializeMany } from "../materialize/materializer";
import { listRuns } from "../materialize/run-store";
import { type IngestHonoEnv, requireScope } from "./context";

export const MaterializeRequest = z
  .object({
    features: z.array(z.string().min(1)).min(1).optional(),
    all: z.boolean().optional(),
    since: z.iso.datetime({ offset: true, message: "must be an ISO-8601 date-time with a zone" }).optional(),
    trigger: z.enum(["cli", "dev", "api"]).default("api"),
  })
  .strict()
  .refine((r) => (r.features !== undefined) !== (r.all === true), { message: 'give either "features" or "all": true', path: ["features"] });
export type MaterializeRequest = z.infer<typeof MaterializeRequest>;

export const DEFAULT_RUNS_LIMIT = 20;
export const MAX_RUNS_LIMIT = 500;

/** The batch features a request names; unknown names are 404, non-batch ones 400. */
export function selectFeatures(registry: CompiledRegistry, req: MaterializeRequest): FeatureDefinition[] {
  const batch = (f: FeatureDefinition) => f.computation_type === "batch" && Boolean(f.source_query);
  if (req.all) return registry.features.filter(batch);
  const unknown = (req.features ?? []).filter((n) => !registry.resolve(n));
  if (unknown.length > 0)
    throw new FeatureStoreError(
      "not_found",
      `Unknown feature${unknown.length > 1 ? "s" : ""}: ${listedSnippets(unknown)} (registry ${registry.version})`,
      { unknown: unknown.slice(0, 100).map((n) => snippet(n)) },
    );
  const defs = (req.features ?? []).map((n) => registry.resolve(n)!);
  const notBatch = defs.filter((d) => !batch(d));
  if (notBatch.length > 0)
    throw new FeatureStoreError(
      "bad_request",
      `Only batch features with a source_query are materialized: ${notBatch.map((d) => `${d.name} is ${d.computation_type}`).join(", ")}`,
      { issues: notBatch.map((d) => ({ path: `features.${d.name}`, message: `is ${d.computation_type}` })) },
    );
  return [...new Map(defs.map((d) => [d.name, d])).values()];
}

/**
 * Runs the materializations while streaming one JSON event per line. The response starts at once;
 * `keepAlive` (waitUntil) keeps the work going even if the client disconnects.
 */
export function streamMaterialization(
  features: FeatureDefinition[],
  req: MaterializeRequest,
  deps: MaterializerDeps,
  keepAlive: (p: Promise<unknown>) => void,
): Response {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  let open = true;
  const write = (event: MaterializeEvent) => {
    if (!open) return;
    writer.write(encoder.encode(`${JSON.stringify(event)}\n`)).catch(() => {
      // The client went away; the runs go on and are visible in GET /admin/materialize/runs.
      open = false;
    });
  };
  const work = materializeMany(
    features,
    { trigger: req.trigger, since: req.since ? Date.parse(req.since) : undefined, onEvent: write },
    deps,
  )
    .catch((err: unknown) => write({ type: "error", feature: "*", message: err instanceof Error ? err.message : String(err) }))
    .finally(() => {
      if (open) writer.close().catch((e: unknown) => deps.log({ event: "materialize_stream_close_failed", error: String(e) }));
    });
  keepAlive(work);
  return new Response(readable, {
    status: 200,
    headers: { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store" },
  });
}

const RunsQuery = named(
  z.object({
    limit: z.coerce.number().int().min(1).max(MAX_RUNS_LIMIT).default(DEFAULT_RUNS_LIMIT),
    feature: z.string().min(1).optional(),
    ids: z
      .string()
      .regex(/^\d+(,\d+)*$/, "must be comma-separated run ids")
      .transform((s) => s.split(",").map(Number))
      .optional()
      .meta({ description: "Comma-separated run ids, e.g. 12,13" }),
  }),
  "runs query",
);

const RUN_STATUSES = ["running", "succeeded", "failed"] as const satisfies readonly RunStatus[];

const RunSummarySchema = component(
  z.object({
    id: z.number().int(),
    feature: z.string(),
    status: z.enum(RUN_STATUSES),
    trigger: z.string(),
    interval_start: z.string().nullable(),
    interval_end: z.string(),
    rows_read: z.number().int(),
    rows_written: z.number().int(),
    rejects: z.number().int(),
    cursor: z.string().nullable(),
    error: z.string().nullable(),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    duration_ms: z.number().nullable(),
    complete: z.boolean().meta({ description: "Every row read is accounted for: written by the consumer or rejected" }),
  }),
  "MaterializationRun",
);

const admin = [requireScope("admin")];

export const materializeRoute = createRoute({
  method: "post",
  path: "/admin/materialize",
  summary: "Materialize batch features now: their source_query through the validated write path",
  description: "The answer streams one JSON event per line (start, run_started, progress, run_finished, skipped, error, done).",
  security: BEARER,
  middleware: admin,
  request: {
    body: jsonBody(component(MaterializeRequest, "MaterializeRequest"), { subject: "materialize request", maxBytes: MAX_BODY_BYTES }),
  },
  responses: {
    200: streamed("NDJSON progress events", { "application/x-ndjson": { schema: z.string() } }),
    ...errors([400, 401, 403, 404, 413, 503], {
      400: "Bad input, or a named feature is not a batch feature with a source_query",
      503: "Materialization needs DATABASE_URL and the INGEST_QUEUE binding",
    }),
  },
});

export const runsRoute = createRoute({
  method: "get",
  path: "/admin/materialize/runs",
  summary: "Materialization runs, newest first",
  security: BEARER,
  middleware: admin,
  request: { query: RunsQuery },
  responses: {
    200: json(z.object({ runs: z.array(RunSummarySchema) }), "The runs"),
    ...errors([400, 401, 403, 503], { 503: "Runs live in Postgres; DATABASE_URL is not set or Postgres is not answering" }),
  },
});

/** waitUntil when there is an execution context (always in a Worker; not in app.request tests). */
function keepAlive(c: Pick<Context, "executionCtx">): (p: Promise<unknown>) => void {
  return (p) => {
    try {
      c.executionCtx.waitUntil(p);
    } catch (err) {
      // Hono throws when no ExecutionContext was passed (handler tests): the stream alone keeps the work alive.
      if (!(err instanceof Error)) throw err;
    }
  };
}

export function adminRoutes(): OpenAPIHono<IngestHonoEnv> {
  const r = new OpenAPIHono<IngestHonoEnv>();

  openapiRoute(r, materializeRoute, async (c) => {
    const deps = c.get("deps");
    const req = c.req.valid("json");
    if (!deps.materializer) throw new FeatureStoreError("unavailable", "Materialization needs DATABASE_URL and the INGEST_QUEUE binding");
    const features = selectFeatures(await deps.registry(), req);
    return streamMaterialization(features, req, deps.materializer, keepAlive(c));
  });

  openapiRoute(r, runsRoute, async (c) => {
    const deps = c.get("deps");
    const query = c.req.valid("query");
    if (!deps.materializer) throw new FeatureStoreError("unavailable", "Materialization runs live in Postgres; DATABASE_URL is not set");
    const postgres = deps.materializer.postgres;
    return c.json({ runs: await withPostgresClient(postgres, (client) => listRuns(client, query)) }, 200);
  });

  return r;
}
