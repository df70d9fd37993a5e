// Read-your-writes: a read with min_write_token never answers a value older than the token's writes.
import { beforeAll, describe, expect, it } from "vitest";
import { encodeWriteToken } from "../../src/core/write-token";
import { post, publishRegistry, putKvRow, putLatest, uniqueId } from "./support";

const HOUR = 3_600_000;

interface Vector {
  features: Record<string, unknown>;
  metadata: Record<string, { status: string; tier: string | null; event_timestamp: string | null }>;
}

// listening_hours_weekly: a batch feature of user_profile_features, which a push may write too.
const tokenFor = (entityId: string, eventMs: number, feature = "listening_hours_weekly") =>
  encodeWriteToken([{ entityType: "user", entityId, features: { [feature]: eventMs } }])!;

const read = (entity_id: string, extra: Record<string, unknown> = {}) =>
  post("/features/get", { entity_id, feature_names: ["listening_hours_weekly"], include_metadata: true, ...extra });

beforeAll(async () => {
  await publishRegistry();
});

describe("min_write_token on /features/get", () => {
  it("answers at once when a tier already holds the write (or something newer)", async () => {
    const user = uniqueId("user_");
    const t = Date.now() - HOUR;
    await putLatest("user", user, "listening_hours_weekly", 0.2, t);
    const res = await read(user, { min_write_token: tokenFor(user, t - 1000) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Vector).features.listening_hours_weekly).toBe(0.2);
  });

  it("reads past an older value in KV to the tier that has the write; without the token KV's older value is served", async () => {
    const user = uniqueId("user_");
    const old = Date.now() - 2 * HOUR;
    const fresh = Date.now() - HOUR;
    await putKvRow("user", user, { listening_hours_weekly: [old, 0.1] });
    await putLatest("user", user, "listening_hours_weekly", 0.9, fresh);
    const without = (await (await read(user)).json()) as Vector;
    expect(without.features.listening_hours_weekly).toBe(0.1);
    expect(without.metadata.listening_hours_weekly!.tier).toBe("kv");
    const withToken = (await (await read(user, { min_write_token: tokenFor(user, fresh) })).json()) as Vector;
    expect(withToken.features.listening_hours_weekly).toBe(0.9);
    expect(withToken.metadata.listening_hours_weekly!.event_timestamp).toBe(new Date(fresh).toISOString());
  });

  it("waits for a write that lands during the read", async () => {
    const user = uniqueId("user_");
    const fresh = Date.now() - 1000;
    await putLatest("user", user, "listening_hours_weekly", 0.3, fresh - HOUR);
    const pending = read(user, { min_write_token: tokenFor(user, fresh) });
    await new Promise((r) => setTimeout(r, 300));
    await putLatest("user", user, "listening_hours_weekly", 0.7, fresh);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(((await res.json()) as Vector).features.listening_hours_weekly).toBe(0.7);
  });

  it("answers 503 naming the entity when the write never becomes visible, and other reads are not held up", async () => {
    const user = uniqueId("user_");
    const pending = read(user, { min_write_token: tokenFor(user, Date.now()) });
    const other = await read(uniqueId("user_"));
    expect(other.status).toBe(200);
    const res = await pending;
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toContain(`user ${user}: listening_hours_weekly`);
  });

  it("applies a token's marks only to the entity and features it wrote", async () => {
    const user = uniqueId("user_");
    const res = await read(user, { min_write_token: tokenFor(uniqueId("user_"), Date.now()) });
    expect(res.status).toBe(200);
    const other = await read(user, { min_write_token: tokenFor(user, Date.now(), "country") });
    expect(other.status).toBe(200);
  });

  it("takes a list of tokens (a client session's pushes) and applies those of the entity read", async () => {
    const user = uniqueId("user_");
    const fresh = Date.now() - HOUR;
    await putKvRow("user", user, { listening_hours_weekly: [fresh - HOUR, 0.1] });
    await putLatest("user", user, "listening_hours_weekly", 0.8, fresh);
    const tokens = [tokenFor(uniqueId("user_"), Date.now()), tokenFor(user, fresh)];
    const res = await read(user, { min_write_token: tokens });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Vector).features.listening_hours_weekly).toBe(0.8);
    const bad = await read(user, { min_write_token: [tokens[1], "wt1.bm90LWpzb24"] });
    expect(JSON.stringify(await bad.json())).toContain('"field":"min_write_token.1"');
  });

  it("refuses a malformed token with 400 naming the field, in a batch by its index", async () => {
    const one = await read("user_1", { min_write_token: "wt1.bm90LWpzb24" });
    expect(one.status).toBe(400);
    expect(JSON.stringify(await one.json())).toContain('"field":"min_write_token"');
    const batch = await post("/features/batch", [
      { entity_id: "user_1", feature_names: ["listening_hours_weekly"] },
      { entity_id: "user_2", feature_names: ["listening_hours_weekly"], min_write_token: "wt1.bm90LWpzb24" },
    ]);
    expect(batch.status).toBe(400);
    expect(JSON.stringify(await batch.json())).toContain('"field":"1.min_write_token"');
  });
});
