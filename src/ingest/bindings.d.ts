// The class behind ENTITY_STATE, which `wrangler types` cannot see: the binding reaches feature-serving's EntityState through script_name.
interface IngestBindings {
  ENTITY_STATE: DurableObjectNamespace<import("../durable/entity-state").EntityState>;
}

declare namespace Cloudflare {
  interface Env {
    ENTITY_STATE: DurableObjectNamespace<import("../durable/entity-state").EntityState>;
  }
}
