// Bench-only Worker: bulk-loads FEATURES_KV rows and EntityState Durable Objects from inside workerd
// (about twice as fast as Miniflare's Node-side binding proxy), reads a Durable Object without L0, and
// times bare KV and Upstash reads (the runtime floors of kv-hit, redis-hit and the batch scenarios).
// Only bench/run.ts starts it, on a random loopback port, in its own throwaway Miniflare.

/** The slices of the KV and Durable Object bindings this Worker uses (bench/ is typechecked for Node). */
interface KvBinding {
  put(key: string, value: string): Promise<void>;
  get(key: string, options: { type: "json"; cacheTtl?: number }): Promise<unknown>;
  get(keys: string[], options: { type: "json"; cacheTtl?: number }): Promise<Map<string, unknown>>;
}
interface FeatureWrite {
  name: string;
  value: unknown;
  eventTimestamp: number;
}
interface EntityStateStub {
  putFeatures(writes: FeatureWrite[]): Promise<unknown>;
  foldEvents(events: unknown[], plans: unknown[]): Promise<{ applied: number; duplicate: number }>;
  getFeatures(names: string[]): Promise<Record<string, { value: unknown; eventTimestamp: number }>>;
}
interface EntityStateNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): EntityStateStub;
}
interface LoaderEnv {
  FEATURES_KV: KvBinding;
  ENTITY_STATE: EntityStateNamespace;
}

interface KvRows {
  rows: [key: string, value: string][];
}
interface DoWrites {
  objects: { name: string; writes: FeatureWrite[] }[];
}
interface KvRead {
  keys: string[];
  timerMs?: number;
}
interface UpstashRead {
  url: string;
  token: string;
  key: string;
  fields: string[];
}
/** stream-hot-object: batches folded one after the other into one object (src/core/aggregation.ts AggregationEvent/Plan). */
interface DoFold {
  name: string;
  batches: unknown[][];
  plans: unknown[];
}
interface DoRead {
  name: string;
  features: string[];
}

/** Same as the serving Worker's KV reads (src/stores/kv-store.ts). */
const KV_CACHE_TTL_SECONDS = 60;

const stub = (env: LoaderEnv, name: string) => env.ENTITY_STATE.get(env.ENTITY_STATE.idFromName(name));

export default {
  async fetch(request: Request, env: LoaderEnv): Promise<Response> {
    const { pathname } = new URL(request.url);
    try {
      if (request.method === "POST" && pathname === "/kv") {
        const { rows } = (await request.json()) as KvRows;
        await Promise.all(rows.map(([key, value]) => env.FEATURES_KV.put(key, value)));
        return Response.json({ written: rows.length });
      }
      if (request.method === "POST" && pathname === "/do") {
        const { objects } = (await request.json()) as DoWrites;
        await Promise.all(objects.map((o) => stub(env, o.name).putFeatures(o.writes)));
        return Response.json({ written: objects.length });
      }
      // Runtime floors: what one KV read costs in this workerd, without the feature store around it.
      if (request.method === "POST" && pathname === "/kv/get") {
        const { keys, timerMs } = (await request.json()) as KvRead;
        // With timerMs: did a timer of that many ms, set as the read starts, fire before the read answered?
        // (A hedge is such a timer: on one workerd thread the KV simulator's work can hold it back.)
        let timerFired = false;
        const timer = timerMs === undefined ? undefined : setTimeout(() => (timerFired = true), timerMs);
        const found =
          keys.length === 1
            ? (await env.FEATURES_KV.get(keys[0]!, { type: "json", cacheTtl: KV_CACHE_TTL_SECONDS })) === null
              ? 0
              : 1
            : [...(await env.FEATURES_KV.get(keys, { type: "json", cacheTtl: KV_CACHE_TTL_SECONDS })).values()].filter((v) => v !== null)
                .length;
        const timerFirst = timer === undefined ? undefined : timerFired;
        clearTimeout(timer);
        return Response.json({ found, ...(timerFirst === undefined ? {} : { timer_first: timerFirst }) });
      }
      // The Redis tier's floor: one HMGET through the Upstash REST /pipeline endpoint, as @upstash/redis sends it.
      if (request.method === "POST" && pathname === "/upstash/hmget") {
        const read = (await request.json()) as UpstashRead;
        const res = await fetch(`${read.url}/pipeline`, {
          method: "POST",
          headers: { authorization: `Bearer ${read.token}`, "content-type": "application/json" },
          body: JSON.stringify([["HMGET", read.key, ...read.fields]]),
        });
        const replies = (await res.json()) as { result?: (string | null)[] }[];
        return Response.json({ found: (replies[0]?.result ?? []).filter((v) => v !== null).length });
      }
      // The per-object fold limit: timed inside workerd, so the bench's HTTP round trip is not in it.
      if (request.method === "POST" && pathname === "/do/fold") {
        const fold = (await request.json()) as DoFold;
        const target = stub(env, fold.name);
        let applied = 0;
        let duplicate = 0;
        const started = Date.now();
        for (const batch of fold.batches) {
          const r = await target.foldEvents(batch, fold.plans);
          applied += r.applied;
          duplicate += r.duplicate;
        }
        return Response.json({ ms: Date.now() - started, applied, duplicate });
      }
      if (request.method === "POST" && pathname === "/do/get") {
        const read = (await request.json()) as DoRead;
        return Response.json(await stub(env, read.name).getFeatures(read.features));
      }
      return new Response("not found", { status: 404 });
    } catch (err) {
      return new Response(err instanceof Error ? err.message : String(err), { status: 500 });
    }
  },
};
