// Feast's POST /materialize and /materialize-incremental on the serving Worker, handed to the ingest
// Worker's materialize API over the INGEST service binding (a stand-in here: test/support/fake-ingest.ts).
import { beforeAll, describe, expect, it } from "vitest";
import { API_KEY, post, publishRegistry, SERVE_ONLY_KEY, snapshot } from "./support";

const VIEW = "track_audio_features";
const batchOf = (group: string) =>
  snapshot()
    .features.filter((f) => f.group === group && f.computation_type === "batch" && f.source_query)
    .map((f) => f.name);

interface Result {
  status: string;
  feature_views: string[];
  features: string[];
  runs?: { feature: string; status: string; rows_written: number }[];
}

beforeAll(async () => {
  await publishRegistry();
});

describe("Feast's materialize on the serving Worker", () => {
  it("runs the batch features of the named views and answers once every run finished", async () => {
    const res = await post("/materialize", {
      start_ts: "2026-11-01T00:00:00+00:00",
      end_ts: "2026-12-01T00:00:00",
      feature_views: [VIEW],
      disable_event_timestamp: false,
      full_feature_names: false,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Result;
    expect(body.status).toBe("succeeded");
    expect(body.feature_views).toEqual([VIEW]);
    expect(body.features).toEqual(batchOf(VIEW));
    expect(body.runs?.map((r) => r.feature)).toEqual(batchOf(VIEW));
  });

  it("materializes every batch feature when no views are named, and answers 202 with ?async=true", async () => {
    const res = await post("/materialize-incremental?async=true", { end_ts: "2026-12-01T00:00:00", feature_views: null });
    expect(res.status).toBe(202);
    const body = (await res.json()) as Result;
    expect(body.status).toBe("accepted");
    const all = snapshot().features.filter((f) => f.computation_type === "batch" && f.source_query);
    expect(body.features).toEqual(all.map((f) => f.name));
  });

  it("refuses bad input: unknown views (404), on-demand views, missing or reversed timestamps (400)", async () => {
    const unknown = await post("/materialize-incremental", { end_ts: "2026-12-01T00:00:00", feature_views: ["driver_stats"] });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { details: { known: string[] } } }).error.details.known).toContain(VIEW);
    const onDemand = await post("/materialize-incremental", {
      end_ts: "2026-12-01T00:00:00",
      feature_views: ["session_features_on_demand"],
    });
    expect(onDemand.status).toBe(400);
    const missing = await post("/materialize", { feature_views: [VIEW] });
    expect(missing.status).toBe(400);
    const reversed = await post("/materialize", { start_ts: "2026-12-02T00:00:00", end_ts: "2026-12-01T00:00:00" });
    expect(reversed.status).toBe(400);
    const garbage = await post("/materialize-incremental", { end_ts: "yesterday" });
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { error: { message: string } }).error.message).toBe("end_ts is not an ISO-8601 date-time");
  });

  it("takes the admin scope only", async () => {
    expect((await post("/materialize-incremental", { end_ts: "2026-12-01T00:00:00" }, SERVE_ONLY_KEY)).status).toBe(403);
    expect((await post("/materialize-incremental", { end_ts: "2026-12-01T00:00:00" }, null)).status).toBe(401);
    expect((await post("/materialize-incremental", { end_ts: "2026-12-01T00:00:00", feature_views: [VIEW] }, API_KEY)).status).toBe(200);
  });
});
