// Feast's materialize requests (feast-dev/feast sdk/python/feast/feature_server.py 0.66: MaterializeRequest,
// MaterializeIncrementalRequest), as its SDK's remote topology POSTs them to the feature server.
import { z } from "zod";

const Timestamp = z.string().min(1).max(64);
const FeatureViews = z.array(z.string().min(1).max(256)).max(500).nullable().optional();

/** POST /materialize. Keys a newer SDK adds are kept and ignored, as on /get-online-features. */
export const FeastMaterializeRequest = z.looseObject({
  start_ts: Timestamp.nullable().optional(),
  end_ts: Timestamp.nullable().optional(),
  feature_views: FeatureViews,
  disable_event_timestamp: z.boolean().optional(),
  full_feature_names: z.boolean().optional(),
  version: z.string().nullable().optional(),
});
export type FeastMaterializeRequest = z.infer<typeof FeastMaterializeRequest>;

/** POST /materialize-incremental. */
export const FeastMaterializeIncrementalRequest = z.looseObject({
  end_ts: Timestamp,
  feature_views: FeatureViews,
  full_feature_names: z.boolean().optional(),
  version: z.string().nullable().optional(),
});
export type FeastMaterializeIncrementalRequest = z.infer<typeof FeastMaterializeIncrementalRequest>;

/** `?async=true` answers 202 at once (Feast's run_async=True); otherwise the answer waits for every run. */
export const FeastMaterializeQuery = z
  .object({
    async: z.enum(["true", "false"]).optional(),
    force: z.enum(["true", "false"]).optional(),
  })
  .strict();

export const FeastMaterializeResult = z.object({
  status: z.enum(["succeeded", "accepted", "nothing_to_materialize"]),
  feature_views: z.array(z.string()),
  features: z.array(z.string()),
  runs: z
    .array(
      z.object({
        feature: z.string(),
        run_id: z.number().int(),
        status: z.string(),
        rows_written: z.number().int(),
        rejects: z.number().int(),
      }),
    )
    .optional(),
});
export type FeastMaterializeResult = z.infer<typeof FeastMaterializeResult>;
