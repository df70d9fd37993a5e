// The route-by-route scope check of both Workers' tests: no key, an unknown key, and a key of each scope.
import { expect } from "vitest";
import { parseApiKeys } from "../src/core/auth";
import { sha256Hex } from "../src/core/hash";

export const SCOPE_TEST_KEYS = { serve: "scope-test-serve", ingest: "scope-test-ingest", admin: "scope-test-admin" } as const;
export type RouteScope = "public" | "serve" | "ingest" | "admin";

/** The API keys of SCOPE_TEST_KEYS, one scope each, as a Worker's API_KEYS would hold them. */
export async function scopeTestApiKeys() {
  const k = SCOPE_TEST_KEYS;
  return parseApiKeys(`${await sha256Hex(k.serve)}:serve,${await sha256Hex(k.ingest)}:ingest,${await sha256Hex(k.admin)}:admin`);
}

/**
 * Every route of `app` (a route missing from `required` fails) answers 401 without a key or with an
 * unknown one, 403 with a key lacking its scope, and gets past auth with its scope or admin. `{}` is
 * refused by every body schema after auth, so a 400 proves the key passed without running the route.
 */
export async function expectScopesRouteByRoute(
  app: { routes: { method: string; path: string }[]; request(path: string, init: RequestInit, env: unknown): Response | Promise<Response> },
  env: unknown,
  required: Readonly<Record<string, RouteScope>>,
  pathFor: (pattern: string) => string = (p) => p,
): Promise<void> {
  const routes = [...new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`))];
  expect(routes.length).toBeGreaterThan(3);
  expect(routes.filter((r) => !(r in required))).toEqual([]);
  for (const route of routes) {
    const [method, pattern] = route.split(" ") as [string, string];
    const call = (key?: string) =>
      app.request(
        pathFor(pattern),
        { method, headers: key ? { authorization: `Bearer ${key}` } : {}, ...(method === "POST" ? { body: "{}" } : {}) },
        env,
      );
    const scope = required[route]!;
    const none = await call();
    if (scope === "public") {
      expect(none.status, route).toBeLessThan(400);
      continue;
    }
    expect(none.status, route).toBe(401);
    expect((await call("not-a-key")).status, route).toBe(401);
    for (const keyScope of ["serve", "ingest", "admin"] as const) {
      const res = await call(SCOPE_TEST_KEYS[keyScope]);
      const allowed = keyScope === scope || keyScope === "admin";
      if (allowed) expect([401, 403], `${route} with ${keyScope}`).not.toContain(res.status);
      else expect(res.status, `${route} with ${keyScope}`).toBe(403);
      expect(res.status, `${route} with ${keyScope}`).toBeLessThan(500);
    }
  }
}
