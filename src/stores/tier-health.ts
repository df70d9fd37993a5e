// GET /health for either Worker: probes every tier it uses in parallel.
import { durableObjectName } from "../core/keys";
import { off, overallStatus, probe, type TierHealth } from "./health";
import type { Tiers } from "./tiers";

export interface HealthReport {
  status: "ok" | "degraded" | "down";
  worker: string;
  registry_version: string | null;
  tiers: Record<string, TierHealth>;
}

const HEALTH_KV_KEY = "health:probe";
const HEALTH_DO_NAME = durableObjectName("health", "probe");

export async function checkTiers(
  worker: string,
  tiers: Tiers,
  extra: { memory: () => string; registryVersion: string | null },
): Promise<HealthReport> {
  const [kv, durable, redis, postgres] = await Promise.all([
    tiers.featuresKv ? probe(async () => void (await tiers.featuresKv!.get(HEALTH_KV_KEY))) : off("no FEATURES_KV binding"),
    tiers.entityState
      ? probe(async () => void (await tiers.entityState!.get(tiers.entityState!.idFromName(HEALTH_DO_NAME)).ping()))
      : off("no ENTITY_STATE binding"),
    tiers.redis ? probe(() => tiers.redis!.ping()) : off("UPSTASH_REDIS_REST_URL/TOKEN not set"),
    tiers.postgres ? probe(() => tiers.postgres!.ping()) : off("DATABASE_URL not set"),
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
