// The ingest Worker's Hono app: push endpoint, admin materialization API and health.
import { type Context, Hono } from "hono";
import { authorize, type Scope } from "../core/auth";
import { FeatureStoreError } from "../core/errors";
import { notFound, onError } from "../http/error-handler";
import { checkTiers } from "../stores/tier-health";
import { parseMaterializeRequest, queryRuns, selectFeatures, streamMaterialization } from "./admin";
import type { IngestDeps } from "./deps";
import { checkPushSize, parseSource, pushUpdates } from "./push";

export type IngestContext = IngestDeps;

export type IngestApp = Hono<{ Variables: { deps: IngestContext } }>;

type Ctx = Context<{ Variables: { deps: IngestContext } }>;

async function requireScope(c: Ctx, scope: Scope): Promise<void> {
  await authorize(c.req.header("authorization"), c.get("deps").apiKeys(), scope);
}

/** waitUntil when there is an execution context (always in a Worker; not in app.request tests). */
function keepAlive(c: Ctx): (p: Promise<unknown>) => void {
  return (p) => {
    try {
      c.executionCtx.waitUntil(p);
    } catch (err) {
      // Hono throws when no ExecutionContext was passed (handler tests): the stream alone keeps the work alive.
      if (!(err instanceof Error)) throw err;
    }
  };
}

export function createIngestApp(getDeps: (c: { env: unknown }) => IngestContext): IngestApp {
  const app: IngestApp = new Hono();
  app.onError(onError);
  app.notFound(notFound);
  app.use(async (c, next) => {
    c.set("deps", getDeps(c));
    await next();
  });

  app.get("/health", async (c) => {
    const deps = c.get("deps");
    // Loads the registry (cached for a few seconds) so a fresh isolate reports its version too.
    const registryVersion = await deps.registry().then(
      (r) => r.version,
      () => deps.registryVersion(),
    );
    const report = await checkTiers("feature-ingest", deps.tiers, { memory: () => "not used by ingest", registryVersion });
    return c.json(report, report.status === "down" ? 503 : 200);
  });

  app.post("/ingest/push", async (c) => {
    await requireScope(c, "ingest");
    checkPushSize(c.req.header("content-length"));
    const source = parseSource(c.req.query("source"));
    const text = await c.req.text();
    // Chunked uploads carry no content-length: check what actually arrived too.
    checkPushSize(undefined, new TextEncoder().encode(text).byteLength);
    if (text.trim() === "")
      throw new FeatureStoreError("bad_request", "Request body is empty; expected JSON: one update or an array of updates");
    const body = parseJsonText(text);
    const deps = c.get("deps");
    const result = await pushUpdates(body, source, { queue: deps.ingestQueue, registry: deps.registry, now: deps.now, log: deps.log });
    return c.json(result, 202);
  });

  app.post("/admin/materialize", async (c) => {
    await requireScope(c, "admin");
    const deps = c.get("deps");
    const text = await c.req.text();
    const req = parseMaterializeRequest(text.trim() === "" ? {} : parseJsonText(text));
    if (!deps.materializer) throw new FeatureStoreError("unavailable", "Materialization needs DATABASE_URL and the INGEST_QUEUE binding");
    const features = selectFeatures(await deps.registry(), req);
    return streamMaterialization(features, req, deps.materializer, keepAlive(c));
  });

  app.get("/admin/materialize/runs", async (c) => {
    await requireScope(c, "admin");
    const deps = c.get("deps");
    if (!deps.materializer) throw new FeatureStoreError("unavailable", "Materialization runs live in Postgres; DATABASE_URL is not set");
    return c.json({ runs: await queryRuns(c.req.query(), deps.materializer) });
  });

  return app;
}

/** An empty body means "no options"; anything else must be JSON. */
function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new FeatureStoreError("bad_request", `Malformed JSON body: ${err instanceof Error ? err.message : String(err)}`);
  }
}
