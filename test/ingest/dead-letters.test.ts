// GET /admin/dead-letters and POST /admin/dead-letters/replay in workerd with the real Postgres: a valid letter is queued
// again with source "replay" and marked, one still invalid is refused, one with no update is unusable; admin scope only.
import { describe, expect, inject, it } from "vitest";
import { createIngestApp } from "../../src/ingest/app";
import { buildIngestContext } from "../../src/ingest/context";
import { ingestEnv, message, recordingQueue, SERVE_ONLY_KEY, sql, TEST_REGISTRY, uid } from "./support";

const queue = recordingQueue();
const app = createIngestApp(() =>
  buildIngestContext(ingestEnv(), { registry: async () => TEST_REGISTRY, ingestQueue: queue, log: () => undefined }),
);
const admin = () => ({ authorization: `Bearer ${inject("testApiKey")}`, "content-type": "application/json" });

async function deadLetter(body: unknown, reasons: unknown[], source = "validation"): Promise<number> {
  const rows = await sql<{ id: number }>(
    "insert into dead_letters (message_id, message, reasons, source, attempts) values ($1, $2::jsonb, $3::jsonb, $4, 1) returning id",
    [uid("dl"), JSON.stringify(body), JSON.stringify(reasons), source],
  );
  return rows[0]!.id;
}

describe("dead letter admin routes", () => {
  it("lists dead letters newest first with entity and reasons; pending hides replayed ones", async () => {
    const entity = uid("user_dl_list");
    const id = await deadLetter(message({ id: entity }, Date.now() - 1000, { tst_affinity: 7 }), [
      { feature: "tst_affinity", rule: "max_value", message: "7 is above max_value 1" },
    ]);
    const res = await app.request("/admin/dead-letters?limit=500", { headers: admin() }, ingestEnv());
    expect(res.status).toBe(200);
    const body = (await res.json()) as { dead_letters: { id: number; entity: string; reasons: { rule: string }[] }[] };
    const mine = body.dead_letters.find((d) => d.id === id);
    expect(mine?.entity).toBe(`user:${entity}`);
    expect(mine?.reasons[0]?.rule).toBe("max_value");
    expect(body.dead_letters.map((d) => d.id)).toEqual([...body.dead_letters.map((d) => d.id)].sort((a, b) => b - a));
    await sql("update dead_letters set replayed_at = now() where id = $1", [id]);
    const pending = (await (await app.request("/admin/dead-letters?pending=true&limit=500", { headers: admin() }, ingestEnv())).json()) as {
      dead_letters: { id: number }[];
    };
    expect(pending.dead_letters.some((d) => d.id === id)).toBe(false);
  });

  it("replays a valid letter (queued with source replay, marked), refuses an invalid one, reports unusable and missing ids", async () => {
    const good = await deadLetter(
      message({ id: uid("user_dl_good") }, Date.now() - 1000, { tst_affinity: 0.5 }),
      [{ feature: "*", rule: "retries_exhausted", message: "Postgres was down" }],
      "retries_exhausted",
    );
    const bad = await deadLetter(message({ id: uid("user_dl_bad") }, Date.now() - 1000, { tst_affinity: 7 }), [
      { feature: "tst_affinity", rule: "max_value", message: "7 is above max_value 1" },
    ]);
    const junk = await deadLetter({ not: "an update" }, [{ feature: "*", rule: "parse", message: "bad json" }], "parse");
    const before = queue.sent.length;
    const res = await app.request(
      "/admin/dead-letters/replay",
      { method: "POST", headers: admin(), body: JSON.stringify({ ids: [good, bad, junk, 999_999_999] }) },
      ingestEnv(),
    );
    expect(res.status).toBe(200);
    const report = (await res.json()) as { replayed: number[]; refused: { id: number }[]; unusable: { id: number }[]; missing: number[] };
    expect(report.replayed).toEqual([good]);
    expect(report.refused.map((r) => r.id)).toEqual([bad]);
    expect(report.unusable.map((u) => u.id)).toEqual([junk]);
    expect(report.missing).toEqual([999_999_999]);
    const sent = queue.sent.slice(before) as { source: string; features: Record<string, unknown> }[];
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ source: "replay", features: { tst_affinity: 0.5 } });
    const marked = await sql<{ id: number; replayed: boolean }>(
      "select id, replayed_at is not null as replayed from dead_letters where id = any($1::int[]) order by id",
      [[good, bad, junk]],
    );
    expect(marked).toEqual([
      { id: good, replayed: true },
      { id: bad, replayed: false },
      { id: junk, replayed: false },
    ]);
  });

  it("refuses a serve-only key (403) and bad input (400 JSON errors)", async () => {
    const serve = { authorization: `Bearer ${SERVE_ONLY_KEY}`, "content-type": "application/json" };
    const refused = await app.request("/admin/dead-letters/replay", { method: "POST", headers: serve, body: "{}" }, ingestEnv());
    expect(refused.status).toBe(403);
    expect((await app.request("/admin/dead-letters", { headers: serve }, ingestEnv())).status).toBe(403);
    for (const body of ['{"ids":["x"]}', '{"ids":[]}', '{"extra":1}', "not json"]) {
      const res = await app.request("/admin/dead-letters/replay", { method: "POST", headers: admin(), body }, ingestEnv());
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBeTruthy();
    }
    expect((await app.request("/admin/dead-letters?limit=0", { headers: admin() }, ingestEnv())).status).toBe(400);
  });
});
