// Feast's POST /materialize and /materialize-incremental on the serving Worker (the SDK has one URL),
// handed over a service binding to the ingest Worker's /admin/materialize, which owns materialization.
import { createRoute, OpenAPIHono, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { FeatureDefinition } from "../core/definitions";
import { FeatureStoreError, listedSnippets } from "../core/errors";
import {
  FeastMaterializeIncrementalRequest,
  FeastMaterializeQuery,
  FeastMaterializeRequest,
  FeastMaterializeResult,
} from "../core/feast-materialize";
import { MAX_BODY_BYTES } from "../core/feature-request";
import { log } from "../core/log";
import type { CompiledRegistry } from "../core/registry";
import { BEARER, component, errors, json, jsonBody, openapiRoute } from "../http/openapi-routes";
import type { MaterializeEvent, RunSummary } from "../materialize/events";
import { requireScope, type ServingHonoEnv } from "./context";
import { FEAST_ON_DEMAND_SUFFIX } from "./feast";
import { feastTimeOf } from "./feast-write";

const Result = component(FeastMaterializeResult, "FeastMaterializeResult");
const MATERIALIZE_ERRORS = {
  400: "Bad timestamps (unparseable, or start_ts not before end_ts), or a view that is on demand",
  404: "A feature view that is not a feature group of the registry",
  503: "No INGEST service binding, or a run failed (`details.runs`)",
} as const;
const DESCRIPTION =
  "Our batch features are computed by their `source_query` when they run, so a run always ends now: `end_ts` is accepted and not used. " +
  "Feature views are feature groups; their batch features with a source query run, stream and aggregation features are fed by pushes and events. " +
  "Without `?async=true` the answer waits for every run (as Feast's server does); with it, 202 at once and the runs go on.";

/** Both routes: admin scope, `?async=`, a Feast body, 200 when every run finished or 202 when accepted. */
function materializeRouteOf<P extends string, B extends z.ZodType>(path: P, summary: string, body: B, name: string) {
  return createRoute({
    method: "post",
    path,
    summary,
    description: DESCRIPTION,
    security: BEARER,
    middleware: [requireScope("admin")] as const,
    request: {
      query: FeastMaterializeQuery,
      body: jsonBody(component(body, name), { subject: `${path.slice(1)} request`, maxBytes: MAX_BODY_BYTES }),
    },
    responses: {
      200: json(Result, "Every run finished"),
      202: json(Result, "Accepted (?async=true); follow the runs with GET /admin/materialize/runs on the ingest Worker"),
      ...errors([400, 401, 403, 404, 413, 503], MATERIALIZE_ERRORS),
    },
  });
}

export const feastMaterializeRoute = materializeRouteOf(
  "/materialize",
  "Feast's materialize through the remote online store: run the views' batch features (start_ts = interval start)",
  FeastMaterializeRequest,
  "FeastMaterializeRequest",
);

export const feastMaterializeIncrementalRoute = materializeRouteOf(
  "/materialize-incremental",
  "Feast's materialize-incremental: each batch feature from the end of its last successful run",
  FeastMaterializeIncrementalRequest,
  "FeastMaterializeIncrementalRequest",
);

const runnable = (f: FeatureDefinition) => f.computation_type === "batch" && Boolean(f.source_query);

/** The batch features of the named views (feature groups); every batch feature when none are named. */
export function featuresOfViews(registry: CompiledRegistry, views: readonly string[] | null | undefined): FeatureDefinition[] {
  if (!views || views.length === 0) return registry.features.filter(runnable);
  const groups = new Set(registry.features.map((f) => f.group));
  const onDemand = views.filter((v) => v.endsWith(FEAST_ON_DEMAND_SUFFIX) && groups.has(v.slice(0, -FEAST_ON_DEMAND_SUFFIX.length)));
  if (onDemand.length)
    throw new FeatureStoreError("bad_request", `On-demand views are computed at request time, not materialized: ${onDemand.join(", ")}`);
  const unknown = views.filter((v) => !groups.has(v));
  if (unknown.length)
    throw new FeatureStoreError("not_found", `Unknown feature view${unknown.length > 1 ? "s" : ""}: ${listedSnippets(unknown)}`, {
      known: [...groups].sort(),
    });
  const wanted = new Set(views);
  return registry.features.filter((f) => wanted.has(f.group) && runnable(f));
}

/** Epoch ms of a Feast timestamp field (Python's isoformat; a naive one is UTC, as Feast's make_tzaware reads it). */
function feastTimeMs(field: string, value: string): number {
  const ms = feastTimeOf(value);
  if (ms === undefined) throw new FeatureStoreError("bad_request", `${field} is not an ISO-8601 date-time`, { field });
  return ms;
}

type Ctx = Context<ServingHonoEnv>;

/** POSTs to the ingest Worker's /admin/materialize with the caller's key (the ingest Worker checks admin scope again). */
async function startRuns(c: Ctx, features: FeatureDefinition[], since: number | undefined): Promise<Response> {
  const ingest = c.env.INGEST;
  if (!ingest) throw new FeatureStoreError("unavailable", "No INGEST service binding: this Worker cannot reach materialization");
  const body = {
    features: features.map((f) => f.name),
    trigger: "api",
    ...(since === undefined ? {} : { since: new Date(since).toISOString() }),
  };
  const res = await ingest.fetch("https://feature-ingest/admin/materialize", {
    method: "POST",
    headers: { authorization: c.req.header("authorization") ?? "", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) {
    // The ingest Worker's own JSON error (same shape, same codes) is the answer.
    const text = await res.text();
    throw new FeatureStoreError("unavailable", `The ingest Worker refused the materialization (${res.status})`, {
      status: res.status,
      answer: text.slice(0, 500),
    });
  }
  return res;
}

/** Reads the NDJSON progress stream to its end: the finished runs and any errors. */
async function finishedRuns(res: Response): Promise<{ runs: RunSummary[]; errors: string[] }> {
  const runs: RunSummary[] = [];
  const errs: string[] = [];
  const text = await res.text();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let event: MaterializeEvent;
    try {
      event = JSON.parse(line) as MaterializeEvent;
    } catch {
      errs.push(`the ingest Worker sent a progress line that is not JSON: ${line.slice(0, 100)}`);
      continue;
    }
    if (event.type === "run_finished") runs.push(event.run);
    else if (event.type === "error") errs.push(`${event.feature}: ${event.message}`);
  }
  return { runs, errors: errs };
}

async function materialize(c: Ctx, views: readonly string[] | null | undefined, since: number | undefined, async: boolean) {
  const registry = await c.get("deps").registry();
  const features = featuresOfViews(registry, views);
  const viewNames = [...new Set(features.map((f) => f.group))];
  const names = features.map((f) => f.name);
  if (features.length === 0) return c.json({ status: "nothing_to_materialize" as const, feature_views: viewNames, features: names }, 200);
  const res = await startRuns(c, features, since);
  if (async) {
    const work = finishedRuns(res).then((r) => {
      if (r.errors.length) log("warn", "feast_materialize_failed", { errors: r.errors });
    });
    try {
      c.executionCtx.waitUntil(work);
    } catch {
      // No execution context (app.request in a unit test): the read runs unattended.
    }
    return c.json({ status: "accepted" as const, feature_views: viewNames, features: names }, 202);
  }
  const { runs, errors: errs } = await finishedRuns(res);
  const failed = runs.filter((r) => r.status !== "succeeded");
  if (errs.length || failed.length)
    throw new FeatureStoreError(
      "unavailable",
      `Materialization failed: ${[...errs, ...failed.map((r) => `${r.feature}: ${r.error ?? r.status}`)].join("; ").slice(0, 500)}`,
      {
        runs: runs.map((r) => ({ feature: r.feature, run_id: r.id, status: r.status })),
      },
    );
  return c.json(
    {
      status: "succeeded" as const,
      feature_views: viewNames,
      features: names,
      runs: runs.map((r) => ({ feature: r.feature, run_id: r.id, status: r.status, rows_written: r.rows_written, rejects: r.rejects })),
    },
    200,
  );
}

export function feastMaterializeRoutes(): OpenAPIHono<ServingHonoEnv> {
  const r = new OpenAPIHono<ServingHonoEnv>();

  openapiRoute(r, feastMaterializeRoute, async (c) => {
    const body = c.req.valid("json");
    const query = c.req.valid("query");
    let since: number | undefined;
    if (body.disable_event_timestamp) since = 0;
    else {
      if (!body.start_ts || !body.end_ts)
        throw new FeatureStoreError("bad_request", "start_ts and end_ts are required when disable_event_timestamp is false", {
          field: body.start_ts ? "end_ts" : "start_ts",
        });
      since = feastTimeMs("start_ts", body.start_ts);
      if (since >= feastTimeMs("end_ts", body.end_ts))
        throw new FeatureStoreError("bad_request", "start_ts must be before end_ts", { field: "start_ts" });
    }
    return materialize(c, body.feature_views, since, query.async === "true");
  });

  openapiRoute(r, feastMaterializeIncrementalRoute, async (c) => {
    const body = c.req.valid("json");
    feastTimeMs("end_ts", body.end_ts);
    return materialize(c, body.feature_views, undefined, c.req.valid("query").async === "true");
  });

  return r;
}
