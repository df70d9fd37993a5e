// Baseline Worker: Hono on the same workerd, answering POST /features/get with a fixed 50-feature vector.
// It parses the body and returns the same response shape as the serving Worker (with metadata), so the
// difference to l0-hit is exactly our read path: auth, validation, registry, L0 lookups and assembly.
import { Hono } from "hono";

const FEATURES = 50;
const CATEGORIES = ["low", "mid", "high", "top"];

function fixedVector(): { features: Record<string, unknown>; metadata: Record<string, unknown> } {
  const features: Record<string, unknown> = {};
  const metadata: Record<string, unknown> = {};
  const ts = new Date(Date.now() - 60_000).toISOString();
  for (let f = 0; f < FEATURES; f++) {
    const name = `ub_${String(f).padStart(2, "0")}`;
    features[name] =
      f === 48 ? ["rock", "pop", "jazz"] : f % 10 === 9 ? CATEGORIES[f % 4] : f % 10 === 4 ? f * 13 : ((f * 17) % 10007) / 100;
    metadata[name] = { status: "PRESENT", event_timestamp: ts, age_ms: 60_000, tier: "memory" };
  }
  return { features, metadata };
}

const vector = fixedVector();
const app = new Hono();

app.post("/features/get", async (c) => {
  const body = await c.req.json<{ entity_id?: string; include_metadata?: boolean }>();
  return c.json({
    entity_id: body.entity_id ?? "",
    features: vector.features,
    timestamp: Math.floor(Date.now() / 1000),
    feature_store_version: "r-bare",
    ...(body.include_metadata ? { metadata: vector.metadata } : {}),
  });
});

// The batch floor: same request and response sizes as /features/batch, nothing looked up.
app.post("/features/batch", async (c) => {
  const body = await c.req.json<{ entity_id?: string; include_metadata?: boolean }[]>();
  const timestamp = Math.floor(Date.now() / 1000);
  return c.json(
    body.map((r) => ({
      entity_id: r.entity_id ?? "",
      features: vector.features,
      timestamp,
      feature_store_version: "r-bare",
      ...(r.include_metadata ? { metadata: vector.metadata } : {}),
    })),
  );
});

export default app;
