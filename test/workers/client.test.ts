// The TypeScript client inside workerd, Worker to Worker over a service binding (here SELF): no network hop.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { FeatureStoreClient, FeatureStoreClientError } from "../../packages/client/src/index";
import { API_KEY, publishRegistry, putLatest, uniqueId } from "./support";

const client = new FeatureStoreClient({ url: "http://fs", apiKey: API_KEY, fetcher: SELF });

beforeAll(async () => {
  await publishRegistry();
});

describe("FeatureStoreClient over a service binding", () => {
  it("reads a vector, a batch and the Feast shape from the serving Worker", async () => {
    const user = uniqueId("user_");
    await putLatest("user", user, "listening_hours_weekly", 0.7, Date.now() - 60_000);
    const one = await client.get({ entity_id: user, feature_names: ["listening_hours_weekly"], include_metadata: true });
    expect(one.features.listening_hours_weekly).toBe(0.7);
    const batch = await client.getBatch([{ entity_id: user, feature_names: ["listening_hours_weekly"] }]);
    expect(batch[0]).toMatchObject({ entity_id: user, features: { listening_hours_weekly: 0.7 } });
    const feast = await client.getOnlineFeatures({
      entities: { user_id: [user] },
      features: ["user_profile_features:listening_hours_weekly"],
    });
    expect(feast.results[1]!.values).toEqual([0.7]);
  });

  it("rejects with the Worker's error code (not retried)", async () => {
    const err = await client.get({ entity_id: "user_1", feature_names: ["no_such_feature"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FeatureStoreClientError);
    expect(err).toMatchObject({ status: 404, code: "not_found" });
  });

  it("asks for related features and for a recommendation", async () => {
    const related = await client.relatedFeatures("skip_rate_7d", { limit: 3 });
    expect(related.feature).toBe("skip_rate_7d");
    expect(related.related).toHaveLength(3);
    const user = uniqueId("user_");
    const now = new Date().toISOString();
    const answer = await client.recommendFeatures({
      spine: [
        { entity_id: user, event_timestamp: now, clicked: true },
        { entity_id: uniqueId("user_"), event_timestamp: now, clicked: false },
      ],
      label: "clicked",
      candidates: ["user_profile_features:listening_hours_weekly"],
    });
    expect(answer).toMatchObject({ label: "clicked", rows: 2, binary: true, positive_label: true });
    expect(answer.ranking.map((r) => r.feature)).toEqual(["user_profile_features:listening_hours_weekly"]);
    const err = await client.recommendFeatures({ spine: [], label: "clicked" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: "bad_request" });
  });
});
