// The read API: one feature vector, a batch of them, and Feast's column-oriented /get-online-features.

import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { FeatureStoreError } from "../core/errors";
import {
  BatchRequest,
  FeastOnlineRequest,
  FeastOnlineResponse,
  FeatureErrorResult,
  FeatureRequest,
  FeatureResponse,
  MAX_BATCH_ENTITIES,
  MAX_BODY_BYTES,
  MAX_FEATURES_PER_REQUEST,
  MAX_VALUES_PER_REQUEST,
  parseBatchRequest,
  parseFeatureRequest,
} from "../core/feature-request";
import { jsonArray } from "../core/json-text";
import { log } from "../core/log";
import { BEARER, component, errors, json, jsonBody, jsonText, openapiRoute } from "../http/openapi-routes";
import { requireScope, type ServingContext, type ServingHonoEnv } from "./context";
import { feastFeatureRefs, feastResponse, feastToRequests, unknownFeastKeys } from "./feast";
import type { ServeOptions } from "./feature-service";

const FeatureRequestSchema = component(FeatureRequest, "FeatureRequest");
const FeatureResponseSchema = component(FeatureResponse, "FeatureResponse");
const FeatureErrorResultSchema = component(FeatureErrorResult, "FeatureErrorResult");

const TOO_LARGE = `Body over ${MAX_BODY_BYTES} bytes, more than ${MAX_FEATURES_PER_REQUEST} features in one request, more than ${MAX_VALUES_PER_REQUEST} entities × features`;

export const getFeaturesRoute = createRoute({
  method: "post",
  path: "/features/get",
  summary: "The feature vector of one entity (the design's FeatureRequest → FeatureResponse)",
  security: BEARER,
  middleware: [requireScope("serve")],
  request: {
    body: jsonBody(FeatureRequestSchema, { subject: "feature request", maxBytes: MAX_BODY_BYTES, parse: parseFeatureRequest }),
  },
  responses: {
    200: json(FeatureResponseSchema, "The vector; `metadata` (status, event time, age, tier per feature) with include_metadata"),
    ...errors([400, 401, 403, 404, 413, 422, 503], {
      404: "Unknown features or feature service (`details.unknown_features`, `details.known`)",
      413: TOO_LARGE,
      503: "No tier could answer, or the writes of `min_write_token` were not visible within the wait (5 s)",
    }),
  },
});

export const batchRoute = createRoute({
  method: "post",
  path: "/features/batch",
  summary: `Feature vectors of up to ${MAX_BATCH_ENTITIES} requests in one pass through the tiers`,
  description: "The body is a bare array of FeatureRequest or `{requests: [...]}`.",
  security: BEARER,
  middleware: [requireScope("serve")],
  request: {
    body: jsonBody(component(BatchRequest, "BatchRequest"), {
      subject: "batch request",
      maxBytes: MAX_BODY_BYTES,
      parse: parseBatchRequest,
    }),
  },
  responses: {
    200: json(
      z.array(z.union([FeatureResponseSchema, FeatureErrorResultSchema])),
      "One item per request, in order: a vector, or `{entity_id, error}` for a request that failed alone (null_policy reject)",
    ),
    ...errors([400, 401, 403, 404, 413, 503], { 413: `${TOO_LARGE}, more than ${MAX_BATCH_ENTITIES} requests` }),
  },
});

export const onlineFeaturesRoute = createRoute({
  method: "post",
  path: "/get-online-features",
  summary: "Feast-compatible column-oriented read (what Feast's remote online store sends)",
  security: BEARER,
  middleware: [requireScope("serve")],
  request: {
    body: jsonBody(component(FeastOnlineRequest, "FeastOnlineRequest"), {
      subject: "get-online-features request",
      maxBytes: MAX_BODY_BYTES,
    }),
  },
  responses: {
    200: json(component(FeastOnlineResponse, "FeastOnlineResponse"), "Entity key columns, then one column per feature"),
    ...errors([400, 401, 403, 404, 413, 503], {
      413: `Body over ${MAX_BODY_BYTES} bytes, more than ${MAX_BATCH_ENTITIES} entities, ${MAX_FEATURES_PER_REQUEST} features or ${MAX_VALUES_PER_REQUEST} entities × features`,
    }),
  },
});

export function featureRoutes(): OpenAPIHono<ServingHonoEnv> {
  const r = new OpenAPIHono<ServingHonoEnv>();

  openapiRoute(r, getFeaturesRoute, async (c) => {
    const deps = c.get("deps");
    const request = c.req.valid("json");
    const registry = await deps.registry();
    const result = (await deps.service.serveJson(registry, [request], serveOptions(c, deps)))[0]!;
    if (typeof result !== "string") throw new FeatureStoreError("value_required", result.error.message, result.error.details);
    return jsonText(c, result, 200);
  });

  openapiRoute(r, batchRoute, async (c) => {
    const deps = c.get("deps");
    const body = c.req.valid("json");
    const requests = Array.isArray(body) ? body : body.requests;
    if (requests.length > MAX_BATCH_ENTITIES)
      throw new FeatureStoreError(
        "payload_too_large",
        `Batch of ${requests.length} requests exceeds the limit of ${MAX_BATCH_ENTITIES}; split it`,
        {
          limit: MAX_BATCH_ENTITIES,
        },
      );
    const registry = await deps.registry();
    return jsonText(c, jsonArray(await deps.service.serveJson(registry, requests, serveOptions(c, deps))), 200);
  });

  openapiRoute(r, onlineFeaturesRoute, async (c) => {
    const deps = c.get("deps");
    const body = c.req.valid("json");
    const registry = await deps.registry();
    const unknownKeys = unknownFeastKeys(body);
    if (unknownKeys.length) log("info", "feast_request_unknown_keys", { keys: unknownKeys });
    const asked = feastFeatureRefs(registry, body);
    const { requests, entityColumn, entityValues } = feastToRequests(registry, body, asked);
    if (requests.length > MAX_BATCH_ENTITIES)
      throw new FeatureStoreError(
        "payload_too_large",
        `${requests.length} entities exceed the limit of ${MAX_BATCH_ENTITIES}; split the request`,
      );
    const results = await deps.service.serve(registry, requests, serveOptions(c, deps));
    return c.json(feastResponse(registry, body, asked, entityColumn, entityValues, results), 200);
  });

  return r;
}

function serveOptions(c: Context<ServingHonoEnv>, deps: ServingContext): ServeOptions {
  return {
    now: Date.now(),
    statuses: deps.metrics.featureStatuses,
    waitUntil: (p: Promise<unknown>) => {
      try {
        c.executionCtx.waitUntil(p);
      } catch {
        // No execution context (app.request in a unit test): let the write-back run unattended.
        void p;
      }
    },
  };
}
