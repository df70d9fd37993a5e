// Feast's write requests (feast-dev/feast sdk/python/feast/feature_server.py, 0.66): a feature view's rows as columns.
import { z } from "zod";

/** A pandas DataFrame as Feast's SDK sends it: column name → one value per row. */
export const FeastDataFrame = z.record(z.string().min(1).max(256), z.array(z.unknown()));
export type FeastDataFrame = z.infer<typeof FeastDataFrame>;

/**
 * POST /write-to-online-store: what `store.write_to_online_store(...)` and `store.push(...)` send
 * through Feast's remote online store (RemoteOnlineStore.online_write_batch). Unknown keys of a
 * newer SDK are kept and ignored, as on the read route.
 */
export const FeastWriteToOnlineStoreRequest = z.looseObject({
  feature_view_name: z.string().min(1).max(256),
  df: FeastDataFrame,
  allow_registry_cache: z.boolean().optional(),
  transform_on_write: z.boolean().optional(),
});
export type FeastWriteToOnlineStoreRequest = z.infer<typeof FeastWriteToOnlineStoreRequest>;

/** POST /push: Feast's feature server's push endpoint (a push source's rows). */
export const FeastPushRequest = z.looseObject({
  push_source_name: z.string().min(1).max(256),
  df: FeastDataFrame,
  allow_registry_cache: z.boolean().optional(),
  to: z.enum(["online", "offline", "online_and_offline"]).optional(),
  transform_on_write: z.boolean().optional(),
});
export type FeastPushRequest = z.infer<typeof FeastPushRequest>;

/** Feast's default timestamp column, and the creation-time column its SDK adds (not used: we order by event time). */
export const FEAST_EVENT_TIMESTAMP_COLUMN = "event_timestamp";
export const FEAST_CREATED_COLUMN = "created";
