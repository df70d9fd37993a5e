// Test-only view of the ingest Worker's env: its generated bindings plus the secrets tests inject.
/// <reference path="../provided-context.d.ts" />
import type { WorkerSecrets } from "../../src/config/secrets";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerSecrets {}
  }
}
