// Test projects: "unit" runs in Node; "serving" and "ingest" run inside workerd with real Postgres and Redis.
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { fakeIngest } from "./test/support/fake-ingest";

const GLOBAL_SETUP = "./test/support/global-setup.ts";

function workerBindings(inject: <T>(key: string) => T): Record<string, string> {
  return {
    DATABASE_URL: inject<string>("databaseUrl"),
    NEON_WS_PROXY: inject<string>("neonWsProxy"),
    UPSTASH_REDIS_REST_URL: inject<string>("redisRestUrl"),
    UPSTASH_REDIS_REST_TOKEN: inject<string>("redisRestToken"),
    REDIS_KEY_PREFIX: inject<string>("redisKeyPrefix"),
    API_KEYS: inject<string>("testApiKeys"),
  };
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: workerBindings(inject as <T>(key: string) => T),
              // The ingest Worker is not in this runtime: its materialize API is played by a stand-in.
              serviceBindings: { INGEST: fakeIngest },
              // Miniflare's simulation of Cloudflare's rate-limiting binding, under a name of its own so
              // only test/workers/rate-limit.test.ts uses it (the Worker itself keeps its local bucket).
              ratelimits: { RATE_LIMITER_TEST: { namespace_id: "1", simple: { limit: 3, period: 10 } } },
            },
          })),
        ],
        test: {
          name: "serving",
          include: ["test/workers/**/*.test.ts"],
          globalSetup: [GLOBAL_SETUP],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.ingest.toml" },
            miniflare: {
              bindings: workerBindings(inject as <T>(key: string) => T),
              // The ingest Worker reaches EntityState in feature-serving via script_name; in this
              // single-Worker test runtime the classes are re-exported by the ingest entry instead.
              durableObjects: {
                ENTITY_STATE: { className: "EntityState", useSQLite: true },
                METRICS_HUB: { className: "MetricsHub", useSQLite: true },
              },
            },
          })),
        ],
        test: {
          name: "ingest",
          include: ["test/ingest/**/*.test.ts"],
          globalSetup: [GLOBAL_SETUP],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
