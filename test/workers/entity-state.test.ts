// EntityState (one SQLite Durable Object per entity): last-write-wins with the tiebreak, and the
// in-place upgrade of objects created before the tiebreak column existed.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { EntityState } from "../../src/durable/entity-state";
import { entityStub, uniqueId } from "./support";

describe("EntityState", () => {
  it("keeps the newer value, and on equal event times the greater tiebreak, whatever the order", async () => {
    for (const order of [
      ["a", "b"],
      ["b", "a"],
    ]) {
      const stub = entityStub("user", uniqueId("user_do_tie_"));
      const writes = {
        a: { name: "f", value: "A", eventTimestamp: 1_000, tiebreak: "aaaa" },
        b: { name: "f", value: "B", eventTimestamp: 1_000, tiebreak: "bbbb" },
      };
      for (const k of order) await stub.putFeatures([writes[k as "a" | "b"]]);
      // Older event time loses even with a greater tiebreak.
      const stale = await stub.putFeatures([{ name: "f", value: "old", eventTimestamp: 999, tiebreak: "ffff" }]);
      expect(stale).toEqual({ applied: [], stale: ["f"] });
      expect(await stub.getFeatures(["f"])).toEqual({ f: { value: "B", eventTimestamp: 1_000, tiebreak: "bbbb" } });
    }
  });

  it("adds the tiebreak column to an object created with the first schema, keeping its values", async () => {
    const stub = entityStub("user", uniqueId("user_do_upgrade_"));
    await runInDurableObject(stub, async (_instance: EntityState, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE feature_state");
      sql.exec(
        "CREATE TABLE feature_state (name TEXT PRIMARY KEY, value TEXT NOT NULL, event_ts INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
      );
      sql.exec("INSERT INTO feature_state VALUES ('f', '1', 1000, 0)");
      // A new instance over the same storage runs the constructor's upgrade, as after a deploy.
      const upgraded = new EntityState(state, env as unknown as Cloudflare.Env);
      expect(upgraded.getFeatures(["f"])).toEqual({ f: { value: 1, eventTimestamp: 1_000 } });
      // The old value has no tiebreak, so it ranks lowest: a different value at the same time replaces it.
      expect(upgraded.putFeatures([{ name: "f", value: 2, eventTimestamp: 1_000, tiebreak: "0000" }])).toEqual({
        applied: ["f"],
        stale: [],
      });
      expect(upgraded.getFeatures(["f"])).toEqual({ f: { value: 2, eventTimestamp: 1_000, tiebreak: "0000" } });
      // Constructing again over the upgraded table changes nothing.
      expect(new EntityState(state, env as unknown as Cloudflare.Env).getFeatures(["f"])).toEqual({
        f: { value: 2, eventTimestamp: 1_000, tiebreak: "0000" },
      });
    });
  });
});
