// GET /openapi.json: the API description, generated from the same zod schemas that validate requests.
import { z } from "zod";
import { FeatureDefinition } from "../core/definitions";
import { FeastOnlineRequest, FeastOnlineResponse, FeatureRequest, FeatureResponse } from "../core/feature-request";
import { TrainingRequestBody } from "./training-routes";

const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

let cached: Record<string, unknown> | undefined;

function schema(s: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}

export function openApiDocument(): Record<string, unknown> {
  if (cached) return cached;
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const json = (name: string) => ({ content: { "application/json": { schema: ref(name) } } });
  const errors = {
    "400": { description: "Bad input; details.issues names each offending field", ...json("Error") },
    "401": { description: "Missing or unknown API key", ...json("Error") },
    "403": { description: "API key lacks the scope", ...json("Error") },
    "404": { description: "Unknown feature(s), listed in details.unknown_features", ...json("Error") },
    "413": { description: "Too many entities or features, or body too large", ...json("Error") },
    "503": { description: "No storage tier could answer", ...json("Error") },
  };
  cached = {
    openapi: "3.1.0",
    info: { title: "EchoTune Feature Store — serving API", version: "1.0.0" },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        FeatureRequest: schema(FeatureRequest),
        FeatureResponse: schema(FeatureResponse),
        FeastOnlineRequest: schema(FeastOnlineRequest),
        FeastOnlineResponse: schema(FeastOnlineResponse),
        FeatureDefinition: schema(FeatureDefinition),
        TrainingRequest: schema(TrainingRequestBody),
        Error: schema(ErrorBody),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      "/features/get": {
        post: {
          summary: "Feature vector for one entity",
          requestBody: json("FeatureRequest"),
          responses: { "200": json("FeatureResponse"), ...errors },
        },
      },
      "/features/batch": {
        post: {
          summary: "Feature vectors for up to 1,000 entities",
          requestBody: { content: { "application/json": { schema: { type: "array", items: ref("FeatureRequest") } } } },
          responses: {
            "200": { content: { "application/json": { schema: { type: "array", items: ref("FeatureResponse") } } } },
            ...errors,
          },
        },
      },
      "/get-online-features": {
        post: {
          summary: "Feast-compatible column-oriented read",
          requestBody: json("FeastOnlineRequest"),
          responses: { "200": json("FeastOnlineResponse"), ...errors },
        },
      },
      "/datasets/training": {
        post: {
          summary:
            "Point-in-time correct training set (admin scope), streamed as CSV or JSONL; up to 50,000 spine rows (npm run dataset for more)",
          requestBody: json("TrainingRequest"),
          responses: { "200": { description: "text/csv or application/x-ndjson" }, ...errors },
        },
      },
      "/registry/features": {
        get: {
          summary: "Search features (q, tag, owner, entity_type, computation_type)",
          responses: { "200": { description: "Matching definitions" } },
        },
      },
      "/registry/features/{name}": {
        get: {
          summary: "A definition with version and lineage",
          responses: { "200": { description: "Definition" }, "404": errors["404"] },
        },
      },
      "/registry/entities": { get: { summary: "Entity types", responses: { "200": { description: "Entity types" } } } },
      "/registry/versions": { get: { summary: "Applied registry versions", responses: { "200": { description: "Versions" } } } },
      "/health": { get: { summary: "State of every tier", security: [], responses: { "200": { description: "Health report" } } } },
      "/metrics": { get: { summary: "Prometheus metrics", security: [], responses: { "200": { description: "text/plain" } } } },
    },
  };
  return cached;
}
