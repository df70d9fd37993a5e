// The backfill client (npm run stream -- backfill): pages to the end, and after a failed page resumes from its saved cursor.
import { mkdtempSync, readdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackfill } from "../../tools/stream/backfill";

const IDS = Array.from({ length: 7 }, (_, i) => `user_${i + 1}`);
let server: Server;
let url = "";
const seen: { after: string | null; limit: number }[] = [];
/** The ingest Worker fails this many requests from now on (a Durable Object or Postgres down for a moment). */
let failNext = 0;
let failAfter = Number.POSITIVE_INFINITY;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const { after, limit } = JSON.parse(body) as { after?: string; limit: number };
      seen.push({ after: after ?? null, limit });
      if (seen.length > failAfter && failNext > 0) {
        failNext--;
        res.writeHead(503, { "content-type": "application/json" }).end('{"error":{"code":"unavailable","message":"object down"}}');
        return;
      }
      const rest = IDS.filter((id) => after === undefined || id > after);
      const page = rest.slice(0, limit);
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          feature: "skips_1h",
          entity_type: "user",
          from: "2026-12-01T00:00:00.000Z",
          total_entities: IDS.length,
          entities: page.length,
          events: page.length * 3,
          replaced_tiles: page.length,
          next_after: page.length < limit ? null : (page.at(-1) ?? null),
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("runBackfill", () => {
  it("pages through every entity with progress, then resumes after the last good page when one failed", async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), "backfill-"));
    const ep = { url, key: "k", from: "test" };
    const progress: [number, number][] = [];
    const full = await runBackfill(ep, { feature: "skips_1h", pageSize: 2, stateDir, onPage: (d, t) => progress.push([d, t]) });
    expect(full).toMatchObject({ entities: 7, events: 21, pages: 4, resumedAfter: undefined });
    expect(progress).toEqual([
      [2, 7],
      [4, 7],
      [6, 7],
      [7, 7],
    ]);
    expect(readdirSync(stateDir)).toEqual([]);

    seen.length = 0;
    failAfter = 2;
    failNext = 1;
    await expect(runBackfill(ep, { feature: "skips_1h", pageSize: 2, stateDir })).rejects.toThrow(/503: object down/);
    expect(readdirSync(stateDir)).toEqual(["backfill-skips_1h.json"]);
    seen.length = 0;
    const resumed = await runBackfill(ep, { feature: "skips_1h", pageSize: 2, stateDir });
    expect(seen[0]?.after).toBe("user_4");
    expect(resumed).toMatchObject({ entities: 3, resumedAfter: "user_4" });
    expect(readdirSync(stateDir)).toEqual([]);
  });
});
