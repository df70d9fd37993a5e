// POST /ingest/push inside workerd: auth, envelope errors naming fields, 413, Queue batching, and push → queue → stores.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import {
  type FeatureUpdate,
  MAX_UPDATE_MESSAGE_BYTES,
  MAX_UPDATES_PER_PUSH,
  QUEUE_MAX_BATCH_BYTES,
  QUEUE_MAX_BATCH_MESSAGES,
} from "../../src/core/ingest-message";
import { decodeWriteToken } from "../../src/core/write-token";
import { pushUpdates } from "../../src/ingest/push";
import {
  applyTestRegistry,
  INGEST_ONLY_KEY,
  inDurableObject,
  latestInPostgres,
  recordingQueue,
  SERVE_ONLY_KEY,
  sql,
  TEST_REGISTRY,
  uid,
  waitFor,
} from "./support";

const MINUTE = 60_000;

beforeAll(applyTestRegistry);

interface ErrorBody {
  error: { code: string; message: string; details?: { issues?: { path: string; message: string }[] } & Record<string, unknown> };
}

function push(body: unknown, opts: { key?: string | null; query?: string; raw?: string } = {}): Promise<Response> {
  const key = opts.key === undefined ? inject("testApiKey") : opts.key;
  return SELF.fetch(`http://ingest/ingest/push${opts.query ?? ""}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: opts.raw ?? JSON.stringify(body),
  });
}

const update = (entityId: string, features: Record<string, unknown>, ts = Date.now() - MINUTE): FeatureUpdate => ({
  entity_type: "user",
  entity_id: entityId,
  event_timestamp: new Date(ts).toISOString(),
  features,
});

describe("POST /ingest/push: auth", () => {
  it("answers 401 without a key and with an unknown key, 403 without the ingest scope", async () => {
    const body = update(uid("user_auth"), { tst_plays_1h: 1 });
    const none = await push(body, { key: null });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: "unauthorized" } });
    expect((await push(body, { key: "not-a-key" })).status).toBe(401);
    const serveOnly = await push(body, { key: SERVE_ONLY_KEY });
    expect(serveOnly.status).toBe(403);
    expect(await serveOnly.json()).toMatchObject({ error: { code: "forbidden", details: { required: "ingest" } } });
    expect((await push(body, { key: INGEST_ONLY_KEY })).status).toBe(202);
  });
});

describe("POST /ingest/push: bad input", () => {
  it("answers 400 for malformed JSON", async () => {
    const res = await push(null, { raw: "{not json" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.message).toMatch(/Malformed JSON/);
  });

  it("answers 400 naming every offending field", async () => {
    const res = await push({ entity_type: "user", entity_id: "", event_timestamp: "yesterday", features: {}, extra: 1 });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe("bad_request");
    const paths = body.error.details?.issues?.map((i) => i.path) ?? [];
    expect(paths).toEqual(expect.arrayContaining(["entity_id", "event_timestamp", "features"]));
    expect(body.error.message).toContain("entity_id");
    expect(body.error.message).toContain("event_timestamp");
  });

  it("names the index of the bad update in an array, and refuses epoch seconds", async () => {
    const ok = update(uid("user_arr"), { tst_plays_1h: 1 });
    const res = await push([ok, { ...ok, event_timestamp: 1_764_300_000 }]);
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.details?.issues).toEqual([expect.objectContaining({ path: "1.event_timestamp" })]);
    expect(body.error.message).toMatch(/epoch seconds/);
  });

  it("answers 400 for an unknown entity type", async () => {
    const res = await push({ ...update("p1", { tst_plays_1h: 1 }), entity_type: "playlist" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.details?.issues).toEqual([expect.objectContaining({ path: "entity_type" })]);
  });

  it("refuses unknown, foreign and on_demand feature names early (the registry is loaded)", async () => {
    const res = await push(update(uid("user_names"), { tst_plays_1h: 1, no_such: 2, tst_session_tracks: 3, tst_time_of_day: "night" }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe("validation_failed");
    expect(body.error.details?.issues?.map((i) => i.path).sort()).toEqual([
      "features.no_such",
      "features.tst_session_tracks",
      "features.tst_time_of_day",
    ]);
  });

  it("refuses event times far in the future and sources a client may not claim", async () => {
    const future = await push(update(uid("user_future"), { tst_plays_1h: 1 }, Date.now() + 60 * MINUTE));
    expect(future.status).toBe(400);
    expect(((await future.json()) as ErrorBody).error.details?.issues).toEqual([expect.objectContaining({ path: "event_timestamp" })]);
    const source = await push(update(uid("user_src"), { tst_plays_1h: 1 }), { query: "?source=materialization" });
    expect(source.status).toBe(400);
  });

  it("answers 400 for an empty body and 413 for more updates than one push may hold", async () => {
    expect((await push(null, { raw: "" })).status).toBe(400);
    const tooMany = Array.from({ length: MAX_UPDATES_PER_PUSH + 1 }, (_, i) => update(`user_many_${i}`, { tst_plays_1h: i }));
    const res = await push(tooMany);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: "payload_too_large", details: { limit: MAX_UPDATES_PER_PUSH } } });
  });

  it("answers 413 for an update too big for one queue message", async () => {
    const huge = Array.from({ length: 20_000 }, (_, i) => i + 0.123456789);
    const res = await push([update(uid("user_ok"), { tst_plays_1h: 1 }), update(uid("user_huge"), { tst_embedding: huge })]);
    expect(res.status).toBe(413);
    const body = (await res.json()) as ErrorBody;
    expect(body.error).toMatchObject({ code: "payload_too_large", details: { index: 1, limit: MAX_UPDATE_MESSAGE_BYTES } });
  });
});

describe("POST /ingest/push: queueing", () => {
  it("answers 202 with one id per update, and the consumer writes them", async () => {
    const ids = [uid("user_push"), uid("user_push")];
    const ts = Date.now() - 2 * MINUTE;
    const res = await push([
      update(ids[0]!, { tst_plays_1h: 11, tst_affinity: 0.25 }, ts),
      update(ids[1]!, { "tst_user_stream:tst_last_genre": "jazz" }, ts),
    ]);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; message_ids: string[]; batches: number; write_token: string };
    expect(body.accepted).toBe(2);
    expect(body.batches).toBe(1);
    expect(new Set(body.message_ids).size).toBe(2);
    for (const id of body.message_ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // The read-your-writes token names each entity's features (flat) at their event time.
    expect(decodeWriteToken(body.write_token)).toEqual([
      { entityType: "user", entityId: ids[0], features: { tst_plays_1h: ts, tst_affinity: ts } },
      { entityType: "user", entityId: ids[1], features: { tst_last_genre: ts } },
    ]);

    const first = await waitFor("pushed values in Postgres", async () => {
      const got = await latestInPostgres("user", ids[0]!);
      return Object.keys(got).length === 2 ? got : undefined;
    });
    expect(first).toEqual({ tst_plays_1h: { value: 11, eventTimestamp: ts }, tst_affinity: { value: 0.25, eventTimestamp: ts } });
    await waitFor("stream value in the Durable Object", async () => {
      const got = await inDurableObject({ entityType: "user", entityId: ids[1]! }, ["tst_last_genre"]);
      return got.tst_last_genre?.value === "jazz" ? got : undefined;
    });
  });

  it("splits more than 100 updates into several sendBatch calls, all of them written", async () => {
    const prefix = uid("user_many");
    const updates = Array.from({ length: 150 }, (_, i) => update(`${prefix}_${i}`, { tst_plays_1h: i }));
    const res = await push(updates);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; batches: number };
    expect(body).toMatchObject({ accepted: 150, batches: 2 });
    await waitFor("150 pushed entities in Postgres", async () => {
      const rows = await sql<{ n: number }>("select count(*)::int as n from feature_latest where entity_id like $1", [`${prefix}\\_%`]);
      return rows[0]?.n === 150 ? true : undefined;
    });
  });

  it("keeps every sendBatch within 100 messages and 256 KB", async () => {
    const queue = recordingQueue();
    const deps = { queue, registry: async () => TEST_REGISTRY, now: Date.now, log: () => undefined };
    const many = Array.from({ length: 250 }, (_, i) => update(`user_count_${i}`, { tst_plays_1h: i }));
    expect((await pushUpdates(many, "push", deps)).batches).toBe(3);
    expect(queue.batches).toEqual([QUEUE_MAX_BATCH_MESSAGES, QUEUE_MAX_BATCH_MESSAGES, 50]);

    const bytesQueue = recordingQueue();
    const big = Array.from({ length: 7_000 }, () => "x").join("");
    const heavy = Array.from({ length: 10 }, (_, i) => update(`user_big_${i}`, { tst_top_genres: Array.from({ length: 9 }, () => big) }));
    const result = await pushUpdates(heavy, "push", { ...deps, queue: bytesQueue });
    expect(result.accepted).toBe(10);
    expect(bytesQueue.batches).toEqual([4, 4, 2]);
    const sizes = bytesQueue.sent.map((m) => new TextEncoder().encode(JSON.stringify(m)).byteLength);
    let offset = 0;
    for (const n of bytesQueue.batches) {
      expect(sizes.slice(offset, offset + n).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(QUEUE_MAX_BATCH_BYTES);
      offset += n;
    }
  });

  it("refuses invalid values with 400 when the registry is loaded, naming feature and rule", async () => {
    const res = await push(update(uid("user_values"), { tst_affinity: 7, tst_plays_1h: -1 }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; details: { issues: { path: string; rule: string }[] } } };
    expect(body.error.code).toBe("validation_failed");
    expect(body.error.details.issues.map((i) => `${i.path}/${i.rule}`).sort()).toEqual([
      "features.tst_affinity/max_value",
      "features.tst_plays_1h/min_value",
    ]);
  });

  it("without a registry accepts invalid values (the consumer validates them) and they land in dead_letters with reasons", async () => {
    const id = uid("user_dlq_e2e");
    // The registry unreachable at push time: the queue is the durable buffer, the consumer judges the values.
    const res = await pushUpdates(update(id, { tst_affinity: 7, tst_plays_1h: -1 }), "push", {
      queue: env.INGEST_QUEUE,
      registry: () => Promise.reject(new Error("registry unreachable")),
      now: Date.now,
      log: () => undefined,
    });
    expect(res.accepted).toBe(1);
    const { message_ids } = res;
    const rows = await waitFor(
      "the dead letter in Postgres",
      async () => {
        const got = await sql<{ source: string; reasons: { feature: string; rule: string }[] }>(
          "select source, reasons from dead_letters where message_id = $1",
          [message_ids[0]],
        );
        return got.length > 0 ? got : undefined;
      },
      30_000,
    );
    expect(rows[0]!.source).toBe("validation");
    expect(rows[0]!.reasons.map((r) => `${r.feature}/${r.rule}`).sort()).toEqual(["tst_affinity/max_value", "tst_plays_1h/min_value"]);
    expect(await latestInPostgres("user", id)).toEqual({});
  });

  it("marks replays as such", async () => {
    const queue = recordingQueue();
    await pushUpdates(update("user_replay", { tst_plays_1h: 1 }), "replay", {
      queue,
      registry: async () => TEST_REGISTRY,
      now: Date.now,
      log: () => undefined,
    });
    expect(queue.sent[0]).toMatchObject({ source: "replay", entity_id: "user_replay" });
    const res = await push(update(uid("user_replay"), { tst_plays_1h: 1 }), { query: "?source=replay" });
    expect(res.status).toBe(202);
  });
});

describe("POST /ingest/push: hostile input (issue 13)", () => {
  const issuesOf = async (res: Response) =>
    ((await res.json()) as { error: { details: { issues: { path: string; message: string; rule?: string }[] } } }).error.details.issues;

  it("refuses entity ids a tier cannot key (NUL, lone surrogate, over 256 UTF-8 bytes) with 400 naming entity_id", async () => {
    for (const id of ["user_\u0000x", "user_\ud800", `user_${"é".repeat(130)}`]) {
      const res = await push(update(id, { tst_plays_1h: 1 }));
      expect(res.status, JSON.stringify(id)).toBe(400);
      const issues = await issuesOf(res);
      expect(issues).toEqual([expect.objectContaining({ path: "entity_id" })]);
    }
  });

  it("refuses a track id pushed as a user entity (the registry knows the prefixes)", async () => {
    const res = await push(update("session_42", { tst_plays_1h: 1 }));
    expect(res.status).toBe(400);
    expect(await issuesOf(res)).toEqual([expect.objectContaining({ path: "entity_id", rule: "entity_id_prefix" })]);
  });

  it("refuses 1e309 (Infinity after JSON.parse) with 400 even without a registry, never queueing it as null", async () => {
    const raw = `{"entity_type":"user","entity_id":"user_inf","event_timestamp":"${new Date(Date.now() - MINUTE).toISOString()}","features":{"tst_plays_1h":1e309}}`;
    const res = await push(null, { raw });
    expect(res.status).toBe(400);
    expect(await issuesOf(res)).toEqual([expect.objectContaining({ path: "features.tst_plays_1h", rule: "finite" })]);
    const queue = recordingQueue();
    await expect(
      pushUpdates([update("user_inf", { tst_embedding: [1, Number.NEGATIVE_INFINITY, 0] })], "push", {
        queue,
        registry: () => Promise.reject(new Error("registry unreachable")),
        now: Date.now,
        log: () => undefined,
      }),
    ).rejects.toMatchObject({ status: 400, details: { issues: [expect.objectContaining({ path: "0.features.tst_embedding.1" })] } });
    expect(queue.sent).toEqual([]);
  });
});
