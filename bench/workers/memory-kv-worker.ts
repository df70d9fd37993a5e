// Bench-only Worker: the serving Worker's own app (Hono routes, auth, zod validation, registry, L0,
// TieredFeatureStore, FeatureService, JSON) with Workers KV replaced by rows held in this isolate.
// It isolates what our code costs on this workerd from Miniflare's KV simulator, which reads a bulk
// get's keys one after another (bench/README.md, "Local-runtime limits"). Only bench/run.ts starts it.
// Under /hedged/<variant>/ it also serves hedged-batch-100's variants (hedged-variants.ts).
import { CompiledRegistry, RegistrySnapshot } from "../../src/core/registry";
import { createServingApp, type ServingApp } from "../../src/serving/app";
import { buildServingContext, type ServingContext } from "../../src/serving/context";
import { KvFeatureStore } from "../../src/stores/kv-store";
import { TieredFeatureStore } from "../../src/stores/tiered-feature-store";
import { kvRow, type VectorName } from "../lib/dataset";
import { buildHedgedVariants, type HedgedSetup, type HedgedVariant } from "./hedged-variants";

interface Env {
  API_KEYS?: string;
  /** The serving Worker's KV namespace (the local simulator), for the hedged `sim-*` variants. */
  FEATURES_KV?: KVNamespace;
}

/** POST /setup: the registry to serve and the entities whose rows to hold (ids `${idPrefix}${n}`, n in 1..count). */
interface Setup {
  registry: unknown;
  loadedAt: number;
  featuresPerVector: number;
  entities: { type: string; idPrefix: string; count: number; vector: VectorName }[];
  /** hedged-batch-100: build its variants too. */
  hedged?: HedgedSetup;
}

/**
 * The subset of KVNamespace the KV tier calls: values are JSON text parsed on every read, as the
 * runtime's `type: "json"` does, so only the simulator's storage round trips are left out.
 */
class InMemoryKv {
  readonly rows = new Map<string, string>();

  async get(key: string | string[], _options?: unknown): Promise<unknown> {
    if (!Array.isArray(key)) return this.parse(key);
    const out = new Map<string, unknown>();
    for (const k of key) out.set(k, this.parse(k));
    return out;
  }

  async put(key: string, value: string): Promise<void> {
    this.rows.set(key, value);
  }

  private parse(key: string): unknown {
    const raw = this.rows.get(key);
    return raw === undefined ? null : (JSON.parse(raw) as unknown);
  }
}

let served: { app: ServingApp; context: ServingContext; hedged: Partial<Record<HedgedVariant, ServingApp>> } | undefined;

/** POST /setup (its allocations are left out of --alloc-profile's bytes per request by this name). */
function setUpMemoryKv(setup: Setup, env: Env): number {
  const kv = new InMemoryKv();
  for (const e of setup.entities) {
    for (let n = 1; n <= e.count; n++) {
      const [key, value] = kvRow({ type: e.type, id: `${e.idPrefix}${n}`, n, vector: e.vector }, setup.featuresPerVector, setup.loadedAt);
      kv.rows.set(key, value);
    }
  }
  const registry = new CompiledRegistry(RegistrySnapshot.parse(setup.registry));
  const store = new TieredFeatureStore([[new KvFeatureStore(kv as unknown as KVNamespace)]]);
  // No other binding: the context's tiers are all off but this isolate's KV rows.
  const context = buildServingContext(
    { API_KEYS: env.API_KEYS },
    { store, registry: async () => registry, registryVersion: () => registry.version },
  );
  const hedged = setup.hedged ? buildHedgedVariants(setup.hedged, kv, env.FEATURES_KV, registry, env.API_KEYS) : {};
  served = { app: createServingApp(() => context), context, hedged };
  return kv.rows.size;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (request.method === "POST" && pathname === "/setup") {
      const rows = setUpMemoryKv((await request.json()) as Setup, env);
      return Response.json({ rows });
    }
    if (!served) return Response.json({ error: { code: "not_ready", message: "POST /setup first" } }, { status: 503 });
    const hedged = /^\/hedged\/([a-z-]+)(\/.*)$/.exec(pathname);
    if (hedged) {
      const app = served.hedged[hedged[1] as HedgedVariant];
      if (!app) return Response.json({ error: { code: "not_found", message: `no hedged variant ${hedged[1]}` } }, { status: 404 });
      const url = new URL(request.url);
      url.pathname = hedged[2]!;
      return app.fetch(new Request(url, request), env, ctx);
    }
    return served.app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
