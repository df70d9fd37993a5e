// Feast's wire format for online reads, request by request as Feast 0.66's remote online store sends
// them (feast/infra/online_stores/remote.py: get_online_features and online_read), against the Worker.
import { beforeAll, describe, expect, it } from "vitest";
import { feastStatus } from "../../src/serving/feast";
import { post, publishRegistry, putLatest, uniqueId } from "./support";

const HOUR = 3_600_000;

interface FeastBody {
  metadata: { feature_names: string[] };
  results: { values: unknown[]; statuses: string[]; event_timestamps: string[] }[];
}

beforeAll(async () => {
  await publishRegistry();
});

describe("Feast SDK requests to /get-online-features", () => {
  it("answers the ≥0.64 one-request form, which always carries include_feature_view_version_metadata", async () => {
    const user = uniqueId("user_");
    const ts = Date.now() - HOUR;
    await putLatest("user", user, "skip_rate_7d", 0.25, ts);
    // RemoteOnlineStore.get_online_features: entities, full_feature_names, include_feature_view_version_metadata, features.
    const res = await post("/get-online-features", {
      entities: { user_id: [user] },
      full_feature_names: false,
      include_feature_view_version_metadata: false,
      features: ["user_behavior_features:skip_rate_7d"],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as FeastBody;
    expect(body.metadata.feature_names).toEqual(["user_id", "skip_rate_7d"]);
    expect(body.results[1]).toEqual({ values: [0.25], statuses: ["PRESENT"], event_timestamps: [new Date(ts).toISOString()] });
  });

  it("answers the per-view form of online_read (features as view:name, one join key column)", async () => {
    const users = [uniqueId("user_"), uniqueId("user_")];
    await putLatest("user", users[1]!, "skip_rate_7d", 0.5, Date.now() - HOUR);
    const res = await post("/get-online-features", { features: ["user_behavior_features:skip_rate_7d"], entities: { user_id: users } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as FeastBody;
    expect(body.results[0]!.values).toEqual(users);
    expect(body.results[1]!.statuses).toEqual(["NOT_FOUND", "PRESENT"]);
  });

  it("ignores keys a newer SDK may add instead of failing the read", async () => {
    const res = await post("/get-online-features", {
      entities: { user_id: [uniqueId("user_")] },
      features: ["user_behavior_features:skip_rate_7d"],
      some_future_option: { nested: true },
    });
    expect(res.status).toBe(200);
  });

  it("takes request data for on-demand features inside entities, as Feast sends it", async () => {
    const res = await post("/get-online-features", {
      entities: { user_id: [uniqueId("user_"), uniqueId("user_")], source: ["Discover Weekly", "search"] },
      features: ["interaction_features:listening_source"],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as FeastBody;
    // Join keys only come back as columns; request data does not.
    expect(body.metadata.feature_names).toEqual(["user_id", "listening_source"]);
    expect(body.results[1]!.values).toEqual(["discover", "search"]);
    expect(body.results[1]!.statuses).toEqual(["PRESENT", "PRESENT"]);
  });

  it("refuses an entities column that is neither a join key nor request data of a requested feature", async () => {
    const res = await post("/get-online-features", {
      entities: { user_id: [uniqueId("user_")], source: ["search"] },
      features: ["user_behavior_features:skip_rate_7d"],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; details: { known: string[] } } };
    expect(body.error.message).toBe("Unknown entity key: source");
    expect(body.error.details.known).toContain("user_id");
  });

  it("answers 400, not 500, for entities without any join key column", async () => {
    for (const entities of [{}, { source: ["search"] }]) {
      const res = await post("/get-online-features", { entities, features: ["interaction_features:listening_source"] });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("bad_request");
      expect(body.error.message).toBe("entities needs at least one join key column");
    }
  });

  it("answers a clear 400 for a feature service until they are served", async () => {
    const res = await post("/get-online-features", { entities: { user_id: ["user_1"] }, feature_service: "ranking_v1", features: [] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^Feature services are not served yet/);
  });
});

describe("statuses in Feast's vocabulary", () => {
  it("maps ours onto Feast's FieldStatus names", () => {
    expect(feastStatus("PRESENT", 1)).toBe("PRESENT");
    expect(feastStatus("PRESENT", null)).toBe("NULL_VALUE");
    expect(feastStatus("DEFAULTED", "free")).toBe("PRESENT");
    expect(feastStatus("OUTSIDE_MAX_AGE", null)).toBe("OUTSIDE_MAX_AGE");
    expect(feastStatus("NOT_FOUND", null)).toBe("NOT_FOUND");
    expect(feastStatus(undefined, null)).toBe("NOT_FOUND");
  });
});
