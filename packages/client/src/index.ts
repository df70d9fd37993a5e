// @echotune/feature-store-client: the typed client of the EchoTune Feature Store.
export type {
  FeastOnlineRequest,
  FeastOnlineResponse,
  FeatureErrorResult,
  FeatureRequest,
  FeatureResponse,
} from "../../../src/core/feature-request";
export type { FeatureUpdate, PushResult } from "../../../src/core/ingest-message";
export {
  type CallOptions,
  type ClientOptions,
  DEFAULT_TIMEOUT_MS,
  FeatureStoreClient,
  type Fetcher,
  RECOMMEND_TIMEOUT_MS,
  type RecommendFeaturesRequest,
  type RecommendFeaturesResponse,
  type RelatedFeaturesResponse,
} from "./client";
export { FeatureStoreClientError } from "./errors";
export { RETRYABLE_STATUSES, type RetryOptions, retryDelayMs } from "./retry";
