// Scopes route by route on the ingest Worker (issue 13): no key, an unknown key, and a key of each scope.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseApiKeys } from "../../src/core/auth";
import { sha256Hex } from "../../src/core/hash";
import { createIngestApp } from "../../src/ingest/app";
import { buildIngestContext } from "../../src/ingest/context";
import { ingestEnv } from "./support";

const KEYS = { serve: "scope-test-serve", ingest: "scope-test-ingest", admin: "scope-test-admin" } as const;
/** What each route requires; public routes need no key. A route missing here fails the test. */
const REQUIRED: Record<string, "public" | "serve" | "ingest" | "admin"> = {
  "GET /health": "public",
  "GET /openapi.json": "public",
  "POST /ingest/push": "ingest",
  "POST /ingest/events": "ingest",
  "POST /admin/materialize": "admin",
  "GET /admin/materialize/runs": "admin",
};

describe("scopes, route by route", () => {
  it("every route of the ingest Worker answers 401 without a key, 403 with a key lacking its scope, and passes auth with it", async () => {
    const spec = `${await sha256Hex(KEYS.serve)}:serve,${await sha256Hex(KEYS.ingest)}:ingest,${await sha256Hex(KEYS.admin)}:admin`;
    const keys = parseApiKeys(spec);
    const deps = buildIngestContext(ingestEnv(), { apiKeys: () => keys });
    const app = createIngestApp(() => deps);
    const routes = [...new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`))];
    expect(routes.length).toBeGreaterThan(3);
    expect(routes.filter((r) => !(r in REQUIRED))).toEqual([]);
    for (const route of routes) {
      const [method, path] = route.split(" ") as [string, string];
      // `{}` is refused by every body schema after auth: a 400 proves the key passed without running a materialization.
      const call = (key?: string) =>
        app.request(
          path,
          { method, headers: key ? { authorization: `Bearer ${key}` } : {}, ...(method === "POST" ? { body: "{}" } : {}) },
          env,
        );
      const required = REQUIRED[route]!;
      const none = await call();
      if (required === "public") {
        expect(none.status, route).toBeLessThan(400);
        continue;
      }
      expect(none.status, route).toBe(401);
      expect((await call("not-a-key")).status, route).toBe(401);
      for (const scope of ["serve", "ingest", "admin"] as const) {
        const res = await call(KEYS[scope]);
        const allowed = scope === required || scope === "admin";
        if (allowed) expect([401, 403], `${route} with ${scope}`).not.toContain(res.status);
        else expect(res.status, `${route} with ${scope}`).toBe(403);
        expect(res.status, `${route} with ${scope}`).toBeLessThan(500);
      }
    }
  });
});
