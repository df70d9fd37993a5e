// The classes behind ENTITY_STATE and METRICS_HUB, which `wrangler types` cannot see: the binding reaches feature-serving's EntityState through script_name.
interface IngestBindings {
  ENTITY_STATE: DurableObjectNamespace<import("../durable/entity-state").EntityState>;
  METRICS_HUB: DurableObjectNamespace<import("../durable/metrics-hub").MetricsHub>;
}

declare namespace Cloudflare {
  interface Env {
    ENTITY_STATE: DurableObjectNamespace<import("../durable/entity-state").EntityState>;
    METRICS_HUB: DurableObjectNamespace<import("../durable/metrics-hub").MetricsHub>;
  }
}
