// Bench-only: the serving app over KV (a slow-for-a-seeded-share in-memory KV, or the local KV
// simulator) with Redis below it, each with hedging on and off, so hedged-batch-100 compares them in
// one run on one workerd. Mounted by memory-kv-worker.ts under /hedged/<variant>/.
import type { ComputationType } from "../../src/core/definitions";
import type { EntityRef, OnlineStoreReader } from "../../src/core/online-store";
import type { CompiledRegistry } from "../../src/core/registry";
import { createServingApp, type ServingApp } from "../../src/serving/app";
import { buildServingContext } from "../../src/serving/context";
import { KvFeatureStore } from "../../src/stores/kv-store";
import { MemoryCache } from "../../src/stores/memory-cache";
import { RedisFeatureStore } from "../../src/stores/redis-store";
import { TieredFeatureStore } from "../../src/stores/tiered-feature-store";
import { prng } from "../lib/dataset";

/** The variants: `<kv>-<hedge>`, kv = slow (in-memory, slow for a seeded share) or sim (Miniflare's KV). */
export const HEDGED_VARIANTS = ["slow-on", "slow-off", "sim-on", "sim-off"] as const;
export type HedgedVariant = (typeof HEDGED_VARIANTS)[number];

export interface HedgedSetup {
  /** Share of KV reads made slow (seeded, the same sequence for the on and off variants). */
  slowShare: number;
  slowMs: number;
  seed: number;
  redis: { url: string; token: string; keyPrefix: string };
}

type KvGet = (key: string | string[], options?: unknown) => Promise<unknown>;

/**
 * The slow variants' KV deadline: long enough that without hedging a slow read is waited for (as a
 * production KV cold read of ~250 ms would be by a deployment with a longer deadline), not cut off at
 * KV_DEADLINE_MS and passed to Redis, which would itself be a hedge at the deadline.
 */
export const SLOW_KV_DEADLINE_MS = 1_000;

/** The KV tier as it is, with SLOW_KV_DEADLINE_MS (read-only: the variants write nothing back). */
class SlowKvStore implements OnlineStoreReader {
  private readonly inner: KvFeatureStore;
  readonly tier = "kv";
  readonly serves: ReadonlySet<ComputationType>;
  readonly deadlineMs = SLOW_KV_DEADLINE_MS;

  constructor(kv: KVNamespace) {
    this.inner = new KvFeatureStore(kv);
    this.serves = this.inner.serves;
  }

  read(refs: readonly EntityRef[], features: readonly (readonly string[])[]) {
    return this.inner.read(refs, features);
  }

  ping() {
    return this.inner.ping();
  }
}

/** A KV whose reads are delayed by `slowMs` for a seeded share of them: the injected tail. */
function slowKv(inner: { get: KvGet }, setup: HedgedSetup): KVNamespace {
  const random = prng(setup.seed);
  const kv = {
    async get(key: string | string[], options?: unknown): Promise<unknown> {
      if (random() < setup.slowShare) await new Promise((r) => setTimeout(r, setup.slowMs));
      return inner.get(key, options);
    },
  };
  return kv as unknown as KVNamespace;
}

export function buildHedgedVariants(
  setup: HedgedSetup,
  memoryKv: { get: KvGet },
  simKv: KVNamespace | undefined,
  registry: CompiledRegistry,
  apiKeys: string | undefined,
): Partial<Record<HedgedVariant, ServingApp>> {
  const apps: Partial<Record<HedgedVariant, ServingApp>> = {};
  for (const variant of HEDGED_VARIANTS) {
    const [kvKind, hedge] = variant.split("-") as ["slow" | "sim", "on" | "off"];
    // Each variant its own slow sequence from the same seed: on and off see the same slow reads.
    const kv = kvKind === "slow" ? slowKv(memoryKv, setup) : simKv;
    if (!kv) continue;
    const redis = new RedisFeatureStore(setup.redis);
    // No write-backs: the variants share Redis and the simulator's KV, and must not change each other's data.
    const kvStore = kvKind === "slow" ? new SlowKvStore(kv) : new KvFeatureStore(kv);
    const store = new TieredFeatureStore([[kvStore], [redis]], new MemoryCache(), {
      kvWriteBack: "off",
      ...(hedge === "off" ? { hedge: false as const } : {}),
    });
    const context = buildServingContext(
      { API_KEYS: apiKeys },
      { store, registry: async () => registry, registryVersion: () => registry.version },
    );
    apps[variant] = createServingApp(() => context);
  }
  return apps;
}
