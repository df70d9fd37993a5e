// Scopes route by route on the ingest Worker (issue 13): no key, an unknown key, and a key of each scope.
import { env } from "cloudflare:test";
import { describe, it } from "vitest";
import { createIngestApp } from "../../src/ingest/app";
import { buildIngestContext } from "../../src/ingest/context";
import { expectScopesRouteByRoute, type RouteScope, scopeTestApiKeys } from "../scope-check";
import { ingestEnv } from "./support";

/** What each route requires; public routes need no key. A route missing here fails the test. */
const REQUIRED: Record<string, RouteScope> = {
  "GET /health": "public",
  "GET /openapi.json": "public",
  "POST /ingest/push": "ingest",
  "POST /ingest/events": "ingest",
  "POST /admin/materialize": "admin",
  "GET /admin/materialize/runs": "admin",
  "POST /admin/backfill": "admin",
  "GET /admin/dead-letters": "admin",
  "POST /admin/dead-letters/replay": "admin",
};

describe("scopes, route by route", () => {
  it("every route of the ingest Worker answers 401 without a key, 403 with a key lacking its scope, and passes auth with it", async () => {
    const keys = await scopeTestApiKeys();
    const deps = buildIngestContext(ingestEnv(), { apiKeys: () => keys });
    await expectScopesRouteByRoute(
      createIngestApp(() => deps),
      env,
      REQUIRED,
    );
  });
});
