// Admin API of the ingest Worker: start materializations (NDJSON progress stream) and list runs.
import { z } from "zod";
import type { FeatureDefinition } from "../core/definitions";
import { FeatureStoreError, invalidInput } from "../core/errors";
import type { CompiledRegistry } from "../core/registry";
import { withPostgresClient } from "../db/postgres";
import type { MaterializeEvent, RunSummary } from "../materialize/events";
import { type MaterializerDeps, materializeMany } from "../materialize/materializer";
import { listRuns } from "../materialize/run-store";

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
      `Unknown feature${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")} (registry ${registry.version})`,
      { unknown },
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

export function parseMaterializeRequest(raw: unknown): MaterializeRequest {
  const parsed = MaterializeRequest.safeParse(raw ?? {});
  if (!parsed.success) throw invalidInput("materialize request", parsed.error);
  return parsed.data;
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

const RunsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_RUNS_LIMIT).default(DEFAULT_RUNS_LIMIT),
  feature: z.string().min(1).optional(),
  ids: z
    .string()
    .regex(/^\d+(,\d+)*$/, "must be comma-separated run ids")
    .transform((s) => s.split(",").map(Number))
    .optional(),
});

export async function queryRuns(query: Record<string, string>, deps: MaterializerDeps): Promise<RunSummary[]> {
  const parsed = RunsQuery.safeParse(query);
  if (!parsed.success) throw invalidInput("runs query", parsed.error);
  return withPostgresClient(deps.postgres, (client) => listRuns(client, parsed.data));
}
