// Test-only view of the serving Worker's env: its generated bindings plus the secrets tests inject.
import type { WorkerSecrets } from "../src/config/secrets";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerSecrets {
      /** Miniflare's rate-limiting binding (vitest.config.ts), for test/workers/rate-limit.test.ts. */
      RATE_LIMITER_TEST?: RateLimit;
    }
  }
}
