// npm run drift -- snapshot: a period's hourly histograms merged into one pinned reference, per feature, replaceable.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../tools/migrate";
import { createDatabase, dropDatabase, withPgClient } from "../../tools/postgres";
import { pinDriftReference } from "../../tools/quality/drift-snapshot";
import { DEFAULT_SERVER, probe } from "../support/postgres-server";

const name = `fs_snap_${process.pid}_${randomBytes(3).toString("hex")}`;
let url = "";
const reachable = (await probe(DEFAULT_SERVER)) === null;
if (!reachable) console.warn("!!! SKIPPING drift snapshot tests: no Postgres at 127.0.0.1:5432 !!!");
const H = 3_600_000;
const t0 = Date.UTC(2026, 10, 1);

describe.skipIf(!reachable)("pinDriftReference", () => {
  beforeAll(async () => {
    url = await createDatabase(DEFAULT_SERVER, name);
    await migrateDatabase(url);
    await withPgClient(url, async (db) => {
      const row = (f: string, hour: number, bins: Record<string, number>, nulls: number) =>
        db.query(
          "insert into feature_value_histograms (feature_name, bucket_start, bins, nulls) values ($1, to_timestamp($2 / 1000.0), $3, $4)",
          [f, t0 + hour * H, JSON.stringify(bins), nulls],
        );
      await row("a", 0, { "0": 5, "1": 3 }, 1);
      await row("a", 1, { "1": 2, "2": 4 }, 0);
      await row("a", 5, { "0": 100 }, 0); // outside the period
      await row("b", 0, { free: 7 }, 2);
    });
  });
  afterAll(async () => {
    if (reachable) await dropDatabase(DEFAULT_SERVER, name);
  });

  it("merges the period's bins per feature and can be re-pinned", async () => {
    const pinned = await withPgClient(url, (db) =>
      pinDriftReference(db, { name: "nov", fromMs: t0, toMs: t0 + 2 * H, features: [], source: "test" }),
    );
    expect(pinned).toEqual([
      { feature: "a", values: 15 },
      { feature: "b", values: 9 },
    ]);
    const rows = await withPgClient(
      url,
      async (db) => (await db.query("select feature_name, bins, nulls::int as nulls from feature_drift_references order by 1")).rows,
    );
    expect(rows[0]).toEqual({ feature_name: "a", bins: { "0": 5, "1": 5, "2": 4 }, nulls: 1 });
    const again = await withPgClient(url, (db) =>
      pinDriftReference(db, { name: "nov", fromMs: t0, toMs: t0 + 6 * H, features: ["a"], source: "test" }),
    );
    expect(again).toEqual([{ feature: "a", values: 115 }]);
  });
});
