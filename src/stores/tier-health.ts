// GET /health for either Worker: probes every tier it uses in parallel.
import { off, overallStatus, probe, type TierHealth } from "./health";
import type { Tiers } from "./tiers";

export interface HealthReport {
  status: "ok" | "degraded" | "down";
  worker: string;
  registry_version: string | null;
  tiers: Record<string, TierHealth>;
}

export async function checkTiers(
  worker: string,
  tiers: Tiers,
  extra: { memory: () => string; registryVersion: string | null },
): Promise<HealthReport> {
  const probeOr = (store: { ping(): Promise<string | undefined> } | undefined, offDetail: string) =>
    store ? probe(() => store.ping()) : Promise.resolve(off(offDetail));
  const [kv, durable, redis, postgres] = await Promise.all([
    probeOr(tiers.kv, "no FEATURES_KV binding"),
    probeOr(tiers.durableObject, "no ENTITY_STATE binding"),
    probeOr(tiers.redis, "UPSTASH_REDIS_REST_URL/TOKEN not set"),
    probeOr(tiers.postgres, "DATABASE_URL not set"),
  ]);
  const result: Record<string, TierHealth> = {
    memory: { status: "ok", latency_ms: 0, detail: extra.memory() },
    kv,
    durable_object: durable,
    redis,
    postgres,
    // A producer binding cannot be probed without enqueueing; its presence is what we can check.
    queue: tiers.queue ? { status: "ok", latency_ms: 0, detail: "producer binding present" } : off("no INGEST_QUEUE binding"),
  };
  return { status: overallStatus(result), worker, registry_version: extra.registryVersion, tiers: result };
}
