// An ENTITY_STATE for consumer tests: counts foldEvents calls per object name, and fails the named ones.
import { env } from "cloudflare:test";
import type { EntityState } from "../../src/durable/entity-state";

/** An ENTITY_STATE whose objects for `down` entity names fail every call, and that counts foldEvents calls per name. */
export function flakyNamespace(down: ReadonlySet<string> = new Set()) {
  const real = env.ENTITY_STATE;
  const calls = new Map<string, number>();
  const ns = {
    idFromName: (name: string) => ({ name }) as unknown as DurableObjectId,
    get: (id: DurableObjectId) => {
      const name = (id as unknown as { name: string }).name;
      const stub = real.get(real.idFromName(name));
      return {
        foldEvents: (...args: Parameters<EntityState["foldEvents"]>) => {
          calls.set(name, (calls.get(name) ?? 0) + 1);
          return down.has(name) ? Promise.reject(new Error(`object ${name} is down`)) : stub.foldEvents(...args);
        },
      };
    },
  } as unknown as DurableObjectNamespace<EntityState>;
  return { ns, calls };
}
