// Feast's write routes on the serving Worker (its SDK has one URL for reads and writes): rows onto the ingest Queue.
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { FeatureStoreError } from "../core/errors";
import { FeastPushRequest, FeastWriteToOnlineStoreRequest } from "../core/feast-write";
import { PushResult } from "../core/ingest-message";
import { logRecord } from "../core/log";
import type { CompiledRegistry } from "../core/registry";
import { BEARER, component, errors, json, jsonBody, openapiRoute } from "../http/openapi-routes";
import { MAX_PUSH_BODY_BYTES, pushUpdates } from "../ingest/push";
import { requireScope, type ServingContext, type ServingHonoEnv } from "./context";
import { FEAST_PUSH_SOURCE_SUFFIX, feastFrameToUpdates } from "./feast-write";

const Queued = component(PushResult, "PushResult");
const WRITE_ERRORS = {
  400: "A column that is not a feature of the group, a missing join key or event_timestamp column, ragged columns, or values the push path refuses (`details.issues`)",
  404: "No feature group of that name",
  413: `Body over ${MAX_PUSH_BODY_BYTES} bytes or more rows than one push may hold`,
  503: "No INGEST_QUEUE binding, or the queue refused some batches",
} as const;

export const writeToOnlineStoreRoute = createRoute({
  method: "post",
  path: "/write-to-online-store",
  summary: "Feast's write_to_online_store / push through the remote online store: a feature view's rows, queued like /ingest/push",
  description:
    "`feature_view_name` is a feature group; `df` holds its join key column, `event_timestamp` (naive times are UTC) and feature columns. Answered once queued; the consumer validates and writes every tier.",
  security: BEARER,
  middleware: [requireScope("ingest")],
  request: {
    body: jsonBody(component(FeastWriteToOnlineStoreRequest, "FeastWriteToOnlineStoreRequest"), {
      subject: "write-to-online-store request",
      maxBytes: MAX_PUSH_BODY_BYTES,
    }),
  },
  responses: {
    200: json(Queued, "Queued: one message id per row, in order (Feast's SDK checks only the status)"),
    ...errors([400, 401, 403, 404, 413, 503], WRITE_ERRORS),
  },
});

export const feastPushRoute = createRoute({
  method: "post",
  path: "/push",
  summary: "Feast's feature-server push: a push source's rows (the push source is named after a feature group)",
  description:
    '`to` may be "online" or "online_and_offline" (the same here: every write lands in Postgres, the source of truth, and the online tiers); "offline" alone is refused.',
  security: BEARER,
  middleware: [requireScope("ingest")],
  request: {
    body: jsonBody(component(FeastPushRequest, "FeastPushRequest"), { subject: "push request", maxBytes: MAX_PUSH_BODY_BYTES }),
  },
  responses: {
    200: json(Queued, "Queued: one message id per row, in order"),
    ...errors([400, 401, 403, 404, 413, 503], WRITE_ERRORS),
  },
});

async function queueFrame(
  deps: ServingContext,
  registry: CompiledRegistry,
  group: string,
  df: Record<string, unknown[]>,
  what: string,
): Promise<PushResult> {
  const updates = feastFrameToUpdates(registry, group, df, what);
  return pushUpdates(updates, "push", { queue: deps.tiers.queue, registry: deps.registry, now: Date.now, log: logRecord });
}

export function feastWriteRoutes(): OpenAPIHono<ServingHonoEnv> {
  const r = new OpenAPIHono<ServingHonoEnv>();

  openapiRoute(r, writeToOnlineStoreRoute, async (c) => {
    const body = c.req.valid("json");
    const deps = c.get("deps");
    return c.json(await queueFrame(deps, await deps.registry(), body.feature_view_name, body.df, "feature view"), 200);
  });

  openapiRoute(r, feastPushRoute, async (c) => {
    const body = c.req.valid("json");
    if (body.to === "offline")
      throw new FeatureStoreError("bad_request", 'to: "offline" is not supported: every write is served online; use "online_and_offline"');
    const deps = c.get("deps");
    const registry = await deps.registry();
    const name = body.push_source_name;
    // export-feast names a group's push source `<group>_push`; the group's own name works too.
    const asGroup = name.endsWith(FEAST_PUSH_SOURCE_SUFFIX) ? name.slice(0, -FEAST_PUSH_SOURCE_SUFFIX.length) : name;
    const group = registry.features.some((f) => f.group === asGroup) ? asGroup : name;
    return c.json(await queueFrame(deps, registry, group, body.df, "push source"), 200);
  });

  return r;
}
