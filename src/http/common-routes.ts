// Declarations both Workers serve alike: GET /health and GET /openapi.json.
import { createRoute, z } from "@hono/zod-openapi";
import { component, errors, json } from "./openapi-routes";

const TierHealth = z.object({
  status: z.enum(["ok", "off", "down"]),
  latency_ms: z.number().optional(),
  detail: z.string().optional(),
});

export const HealthReport = component(
  z.object({
    status: z.enum(["ok", "degraded", "down"]),
    worker: z.string(),
    registry_version: z.string().nullable(),
    tiers: z.record(z.string(), TierHealth),
  }),
  "HealthReport",
);

export const healthRoute = createRoute({
  method: "get",
  path: "/health",
  summary: "State of every tier the Worker uses, probed in parallel",
  security: [],
  responses: {
    200: json(HealthReport, "ok: every configured tier answers; degraded: some do not"),
    503: json(HealthReport, "down: no tier answers"),
    ...errors([]),
  },
});

export const openApiJsonRoute = createRoute({
  method: "get",
  path: "/openapi.json",
  summary: "This document (OpenAPI 3.1)",
  security: [],
  responses: { 200: json(z.record(z.string(), z.unknown()), "The OpenAPI 3.1 document of this Worker"), ...errors([]) },
});
