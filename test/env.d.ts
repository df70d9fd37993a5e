// Test-only view of the serving Worker's env: its generated bindings plus the secrets tests inject.
import type { WorkerSecrets } from "../src/config/secrets";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerSecrets {}
  }
}
