// Feature services (features/services.yaml): a named list of features, the unit a model depends on (Feast's FeatureService).
import { z } from "zod";
import { FeatureName } from "./definitions";
import { MAX_FEATURES_PER_REQUEST } from "./feature-request";
import { FeatureRef } from "./identifiers";

export const FeatureServiceDefinition = z
  .object({
    name: FeatureName,
    description: z.string().min(1),
    owner: z.string().min(1),
    tags: z.array(z.string().min(1)).default([]),
    /** Flat (`skip_rate_7d`) or qualified (`user_behavior_features:skip_rate_7d`) references, served in this order. */
    features: z.array(FeatureRef).min(1).max(MAX_FEATURES_PER_REQUEST),
  })
  .strict();
export type FeatureServiceDefinition = z.infer<typeof FeatureServiceDefinition>;

/** features/services.yaml */
export const FeatureServicesFile = z.object({ feature_services: z.array(z.record(z.string(), z.unknown())).min(1) }).strict();

export const SERVICES_FILE = "services.yaml";
