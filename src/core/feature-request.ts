// Request and response shapes of the serving API (the design's FeatureRequest/FeatureResponse, and Feast's).
import { z } from "zod";
import { EntityTypeName } from "./definitions";
import { ErrorBody } from "./errors";
import { isPlainFeatureRequest, MAX_FEATURE_SERVICE_CHARS } from "./feature-request-check";
import { EntityId, FeatureRef as FeatureReference } from "./identifiers";
import { MAX_WRITE_TOKENS_PER_REQUEST, WriteToken } from "./write-token";

/** More entities than this in one call is a 413: split the batch. */
export const MAX_BATCH_ENTITIES = 1_000;
/** More features than this in one request is a 413. */
export const MAX_FEATURES_PER_REQUEST = 500;
/**
 * Entities × features of one call (a batch's feature names summed over its requests, Feast's
 * entities × features): a 413 above it. 1,000 × 500 would be half a million values for one caller.
 */
export const MAX_VALUES_PER_REQUEST = 100_000;
export const MAX_BODY_BYTES = 1024 * 1024;

/** A feature service's name (features/services.yaml). */
export const FeatureServiceName = z.string().min(1).max(MAX_FEATURE_SERVICE_CHARS);

export const FeatureRequest = z
  .object({
    entity_id: EntityId,
    /** Optional when the id carries the type's prefix (user_1 → user). */
    entity_type: EntityTypeName.optional(),
    /** Features by flat or qualified name; with feature_service, served in addition to the service's. */
    feature_names: z.array(FeatureReference).min(1).optional(),
    /** A feature service: its features, in its order, keyed by their flat names. */
    feature_service: FeatureServiceName.optional(),
    context: z.record(z.string(), z.unknown()).optional(),
    /** Other entities of the request, for features of another type (a user with a candidate track). */
    entities: z.partialRecord(EntityTypeName, EntityId).optional(),
    include_metadata: z.boolean().optional(),
    /** Tighten the features' own max age for this request. */
    max_staleness_ms: z.number().int().nonnegative().optional(),
    /** Read-your-writes: never answer a value older than the writes this token (from a push) records. */
    min_write_token: z.union([WriteToken, z.array(WriteToken).min(1).max(MAX_WRITE_TOKENS_PER_REQUEST)]).optional(),
  })
  .strict()
  .refine((r) => r.feature_names !== undefined || r.feature_service !== undefined, {
    message: "feature_names (a non-empty list) or feature_service is required",
    path: ["feature_names"],
  });
export type FeatureRequest = z.infer<typeof FeatureRequest>;

const FeatureRequests = z.array(FeatureRequest);
const WrappedFeatureRequests = z.object({ requests: FeatureRequests }).strict();

/** POST /features/batch: the design's List[FeatureRequest], or {requests: [...]}. */
export const BatchRequest = z.union([FeatureRequests, WrappedFeatureRequests]);
export type BatchRequest = z.infer<typeof BatchRequest>;

/** Parses one request as FeatureRequest does: plain ones by hand (feature-request-check.ts), the rest by zod. */
export function parseFeatureRequest(raw: unknown): z.ZodSafeParseResult<FeatureRequest> {
  return isPlainFeatureRequest(raw) ? { success: true, data: raw as FeatureRequest } : FeatureRequest.safeParse(raw);
}

/** The requests when every one of them is plain (feature-request-check.ts), else undefined. */
function plainRequests(raw: unknown[]): FeatureRequest[] | undefined {
  for (const item of raw) if (!isPlainFeatureRequest(item)) return undefined;
  return raw as FeatureRequest[];
}

/**
 * Parses a batch as BatchRequest does, keeping zod's issue paths precise ("3.entity_id",
 * "requests.3.entity_id"): the union alone reports a bad item only as "(root)". A batch of plain
 * requests is checked by hand; any other goes to zod whole.
 */
export function parseBatchRequest(raw: unknown): z.ZodSafeParseResult<BatchRequest> {
  if (Array.isArray(raw)) {
    const plain = plainRequests(raw);
    return plain ? { success: true, data: plain } : FeatureRequests.safeParse(raw);
  }
  const wrapped = raw as { requests?: unknown } | null;
  if (
    typeof wrapped === "object" &&
    wrapped !== null &&
    Object.getPrototypeOf(wrapped) === Object.prototype &&
    Object.keys(wrapped).length === 1 &&
    Array.isArray(wrapped.requests)
  ) {
    const plain = plainRequests(wrapped.requests);
    if (plain) return { success: true, data: { requests: plain } };
  }
  return WrappedFeatureRequests.safeParse(raw);
}

export const FeatureStatus = z.enum(["PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE", "DEFAULTED"]);
export type FeatureStatus = z.infer<typeof FeatureStatus>;

export const ServedTier = z.enum(["memory", "kv", "durable_object", "redis", "postgres", "computed"]);
export type ServedTier = z.infer<typeof ServedTier>;

export const FeatureMetadata = z.object({
  status: FeatureStatus,
  event_timestamp: z.string().nullable(),
  age_ms: z.number().nullable(),
  tier: ServedTier.nullable(),
});
export type FeatureMetadata = z.infer<typeof FeatureMetadata>;

export const FeatureResponse = z.object({
  entity_id: z.string(),
  features: z.record(z.string(), z.unknown()),
  /** Seconds since epoch when the vector was assembled (the design's int(time.time())). */
  timestamp: z.number().int(),
  feature_store_version: z.string(),
  metadata: z.record(z.string(), FeatureMetadata).optional(),
});
export type FeatureResponse = z.infer<typeof FeatureResponse>;

/** A per-request failure inside a batch (e.g. a null_policy "reject" feature without a value): the error shape plus the entity. */
export const FeatureErrorResult = z.object({ entity_id: z.string(), error: ErrorBody.shape.error });
export type FeatureErrorResult = z.infer<typeof FeatureErrorResult>;

/** Keys of Feast's GetOnlineFeaturesRequest (feast-dev/feast sdk/python/feast/feature_server.py, 0.66) and our request_context. */
export const FEAST_ONLINE_REQUEST_KEYS = [
  "entities",
  "features",
  "feature_service",
  "full_feature_names",
  "include_feature_view_version_metadata",
  "request_context",
] as const;

/**
 * Feast's POST /get-online-features, as Feast's remote online store sends it. Keys a newer SDK adds
 * are kept and ignored (the handler logs them), not refused: since 0.64 the SDK sends
 * `include_feature_view_version_metadata` on every read, and a strict schema failed them all.
 * Request data for on-demand features comes inside `entities`, as Feast sends it, or in our
 * `request_context`.
 */
export const FeastOnlineRequest = z
  .looseObject({
    features: z.array(FeatureReference).optional(),
    feature_service: FeatureServiceName.optional(),
    entities: z.record(z.string(), z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).min(1)),
    full_feature_names: z.boolean().optional(),
    include_feature_view_version_metadata: z.boolean().optional(),
    request_context: z.record(z.string(), z.array(z.unknown())).optional(),
  })
  .refine((r) => (r.features?.length ?? 0) > 0 || r.feature_service !== undefined, {
    message: "features (a non-empty list) or feature_service is required",
    path: ["features"],
  });
export type FeastOnlineRequest = z.infer<typeof FeastOnlineRequest>;

/**
 * Feast's FieldStatus names (ServingService.proto); the SDK reads any other string as INVALID. Ours
 * map onto them in src/serving/feast.ts (feastStatus).
 */
export const FeastStatus = z.enum(["PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE", "INVALID"]);
export type FeastStatus = z.infer<typeof FeastStatus>;

export const FeastOnlineResponse = z.object({
  metadata: z.object({ feature_names: z.array(z.string()) }),
  results: z.array(
    z.object({
      values: z.array(z.unknown()),
      statuses: z.array(FeastStatus),
      event_timestamps: z.array(z.string()),
    }),
  ),
});
export type FeastOnlineResponse = z.infer<typeof FeastOnlineResponse>;
