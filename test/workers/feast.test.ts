// Feast's wire format for online reads, request by request as Feast 0.66's remote online store sends
// them (feast/infra/online_stores/remote.py: get_online_features and online_read), against the Worker.
import { beforeAll, describe, expect, it } from "vitest";
import { feastStatus } from "../../src/serving/feast";
import { INGEST_ONLY_KEY, post, publishRegistry, putLatest, SERVE_ONLY_KEY, uniqueId } from "./support";

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
    await putLatest("user", user, "listening_hours_weekly", 0.25, ts);
    // RemoteOnlineStore.get_online_features: entities, full_feature_names, include_feature_view_version_metadata, features.
    const res = await post("/get-online-features", {
      entities: { user_id: [user] },
      full_feature_names: false,
      include_feature_view_version_metadata: false,
      features: ["user_profile_features:listening_hours_weekly"],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as FeastBody;
    expect(body.metadata.feature_names).toEqual(["user_id", "listening_hours_weekly"]);
    expect(body.results[1]).toEqual({ values: [0.25], statuses: ["PRESENT"], event_timestamps: [new Date(ts).toISOString()] });
  });

  it("answers the per-view form of online_read (features as view:name, one join key column)", async () => {
    const users = [uniqueId("user_"), uniqueId("user_")];
    await putLatest("user", users[1]!, "user_age_group", "25-34", Date.now() - HOUR);
    const res = await post("/get-online-features", { features: ["user_profile_features:user_age_group"], entities: { user_id: users } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as FeastBody;
    expect(body.results[0]!.values).toEqual(users);
    expect(body.results[1]!.statuses).toEqual(["NOT_FOUND", "PRESENT"]);
  });

  it("ignores keys a newer SDK may add instead of failing the read", async () => {
    const res = await post("/get-online-features", {
      entities: { user_id: [uniqueId("user_")] },
      features: ["user_profile_features:listening_hours_weekly"],
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
      features: ["user_profile_features:listening_hours_weekly"],
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

  it("answers 404 naming the known services for an unknown feature service", async () => {
    const res = await post("/get-online-features", { entities: { user_id: ["user_1"] }, feature_service: "ranking_v1", features: [] });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { message: string; details: { known: string[] } } };
    expect(body.error.message).toBe("Unknown feature service: ranking_v1");
    expect(body.error.details.known).toContain("skip_predictor_v1");
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

describe("Feast SDK writes: /write-to-online-store and /push", () => {
  /** RemoteOnlineStore.online_write_batch: join key, feature columns, naive-UTC event_timestamp and created. */
  const frame = (users: string[]) => ({
    user_id: users,
    listening_hours_weekly: users.map((_, i) => i / 10),
    user_age_group: users.map(() => "25-34"),
    event_timestamp: users.map(() => new Date(Date.now() - HOUR).toISOString().replace("Z", "")),
    created: users.map(() => null),
  });
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

  it("queues a feature view's rows as the SDK sends them, one message per row (ingest scope)", async () => {
    const users = [uniqueId("user_"), uniqueId("user_"), uniqueId("user_")];
    const res = await post(
      "/write-to-online-store",
      { feature_view_name: "user_profile_features", df: frame(users), allow_registry_cache: false },
      INGEST_ONLY_KEY,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { accepted: number; message_ids: string[] };
    expect(body.accepted).toBe(3);
    expect(new Set(body.message_ids).size).toBe(3);
  });

  it("takes /push with to online or online_and_offline, and refuses offline alone", async () => {
    const df = frame([uniqueId("user_")]);
    for (const to of ["online", "online_and_offline"]) {
      const res = await post("/push", { push_source_name: "user_profile_features", df, to });
      expect(res.status).toBe(200);
    }
    const offline = await post("/push", { push_source_name: "user_profile_features", df, to: "offline" });
    expect(offline.status).toBe(400);
    expect((await errorOf(offline)).message).toMatch(/offline/);
  });

  it("refuses what the push path would not take, naming it", async () => {
    const users = [uniqueId("user_")];
    const cases: [unknown, number, RegExp][] = [
      [{ feature_view_name: "no_such_view", df: frame(users) }, 404, /^Unknown feature view: no_such_view/],
      [
        { feature_view_name: "user_profile_features", df: { ...frame(users), danceability: [0.5] } },
        400,
        /not features of user_profile_features: danceability/,
      ],
      [{ feature_view_name: "user_profile_features", df: { user_id: users, listening_hours_weekly: [0.1] } }, 400, /event_timestamp/],
      [{ feature_view_name: "user_profile_features", df: { ...frame(users), listening_hours_weekly: [0.1, 0.2] } }, 400, /same length/],
      [
        { feature_view_name: "user_profile_features", df: { ...frame(users), event_timestamp: ["yesterday"] } },
        400,
        /event_timestamp\[0\]/,
      ],
    ];
    for (const [body, status, message] of cases) {
      const res = await post("/write-to-online-store", body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect((await errorOf(res)).message).toMatch(message);
    }
  });

  it("needs the ingest scope", async () => {
    const res = await post(
      "/write-to-online-store",
      { feature_view_name: "user_profile_features", df: frame([uniqueId("user_")]) },
      SERVE_ONLY_KEY,
    );
    expect(res.status).toBe(403);
  });
});

describe("references from an exported Feast repo", () => {
  it("serves <group>_on_demand:<name> (a group with stored features too) as <group>:<name>, named as asked", async () => {
    const res = await post("/get-online-features", {
      entities: { session_id: [uniqueId("session_")], timestamp: ["2026-12-01T08:30:00Z"], timezone: ["UTC"] },
      features: ["session_features_on_demand:time_of_day"],
      full_feature_names: true,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as FeastBody;
    expect(body.metadata.feature_names).toEqual(["session_id", "session_features_on_demand__time_of_day"]);
    expect(body.results[1]!.values).toEqual(["morning"]);
  });
});

describe("the entity id rule in the Feast shape", () => {
  it("answers 400 naming the column and row for an id no tier could store", async () => {
    for (const bad of ["a\u0000b", "\ud800x", "u".repeat(300)]) {
      const res = await post("/get-online-features", {
        entities: { user_id: ["user_1", bad] },
        features: ["user_profile_features:listening_hours_weekly"],
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^entities\.user_id\[1\] must/);
    }
  });
});
