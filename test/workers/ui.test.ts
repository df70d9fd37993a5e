// The console under /ui in workerd (the Worker itself, SELF): sign-in and cookie flags, no data without a session, CSRF
// and scope refusals, no key in any page, 404s and bad input. The browser flows are test/browser (npm run ui:test).
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { FAKE_DEAD_LETTER_ID } from "../support/fake-ingest";
import { API_KEY, publishRegistry, SERVE_ONLY_KEY } from "./support";

const FEATURE = "listening_hours_weekly";

async function signIn(key: string, origin = "http://fs"): Promise<Response> {
  return SELF.fetch(`${origin}/ui/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin },
    body: new URLSearchParams({ key, next: "/ui" }).toString(),
  });
}

async function cookieOf(key: string): Promise<string> {
  const res = await signIn(key);
  expect(res.status).toBe(303);
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

function page(path: string, cookie?: string): Promise<Response> {
  return SELF.fetch(`http://fs${path}`, { redirect: "manual", headers: cookie ? { cookie } : {} });
}

function form(path: string, cookie: string, fields: Record<string, string>, origin = "http://fs"): Promise<Response> {
  return SELF.fetch(`http://fs${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie, origin, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
}

const csrfIn = (html: string) => /name="_csrf" value="([0-9a-f]{64})"/.exec(html)?.[1] ?? "";

describe("console /ui", () => {
  let admin = "";
  let serve = "";
  beforeAll(async () => {
    await publishRegistry();
    admin = await cookieOf(API_KEY);
    serve = await cookieOf(SERVE_ONLY_KEY);
  });

  it("shows no data without a session: every page redirects to the sign-in", async () => {
    for (const path of ["/ui", `/ui/features/${FEATURE}`, "/ui/entities?entity_id=user_1", "/ui/operations", "/ui/recommend"]) {
      const res = await page(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get("location"), path).toBe(`/ui/login?next=${encodeURIComponent(path)}`);
    }
    const login = await page("/ui/login");
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('type="password"');
  });

  it("signs in with a known key into an HttpOnly, SameSite=Strict cookie, Secure except on localhost; refuses unknown keys and other origins", async () => {
    const res = await signIn(API_KEY);
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^fs_console=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/Path=\/ui/);
    const local = (await signIn(API_KEY, "http://localhost")).headers.get("set-cookie")!;
    expect(local).toMatch(/HttpOnly/);
    expect(local).not.toMatch(/Secure/);

    const unknown = await signIn("not-a-key");
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get("set-cookie")).toBeNull();
    const crossSite = await SELF.fetch("http://fs/ui/login", {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
      body: new URLSearchParams({ key: API_KEY }).toString(),
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get("set-cookie")).toBeNull();
    const crossSiteFetch = await SELF.fetch("http://fs/ui/login", {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site" },
      body: new URLSearchParams({ key: API_KEY }).toString(),
    });
    expect(crossSiteFetch.status).toBe(403);
    // An open redirect is not possible: `next` outside /ui goes to /ui.
    const next = await SELF.fetch("http://fs/ui/login", {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ key: API_KEY, next: "//evil.example/ui" }).toString(),
    });
    expect(next.headers.get("location")).toBe("/ui");
  });

  it("renders every page without the key in it, with a strict CSP and a server time", async () => {
    const paths = ["/ui", "/ui?q=listening", `/ui/features/${FEATURE}`, "/ui/entities?entity_id=user_1", "/ui/operations", "/ui/recommend"];
    for (const path of paths) {
      const res = await page(path, admin);
      const html = await res.text();
      expect(res.status, path).toBe(200);
      expect(html, path).not.toContain(API_KEY);
      expect(res.headers.get("content-security-policy"), path).toContain("default-src 'none'");
      expect(res.headers.get("server-timing"), path).toMatch(/^app;dur=\d/);
    }
    const serveHtml = await (await page("/ui/entities?entity_id=user_1", serve)).text();
    expect(serveHtml).not.toContain(SERVE_ONLY_KEY);
  });

  it("catalog searches and filters; the feature page draws the lineage; the entity lookup lists values with tiers and a curl without the key", async () => {
    const all = await (await page("/ui", admin)).text();
    const some = await (await page("/ui?q=listening+hours", admin)).text();
    const count = (html: string) => Number(/data-testid="catalog-count">(\d+)/.exec(html)?.[1]);
    expect(count(some)).toBeGreaterThan(0);
    expect(count(some)).toBeLessThan(count(all));
    expect(some).toContain(`/ui/features/${FEATURE}`);
    const none = await (await page("/ui?entity_type=no_such_type", admin)).text();
    expect(count(none)).toBe(0);

    const feature = await (await page(`/ui/features/${FEATURE}`, admin)).text();
    expect(feature).toContain('data-testid="lineage"');
    expect(feature).toContain(`Lineage of ${FEATURE}`);

    const lookup = await (await page("/ui/entities?entity_id=user_1", admin)).text();
    expect(lookup).toContain('data-testid="entity-values"');
    expect(lookup).toContain("get-online-features");
    expect(lookup).toContain("$FEATURE_STORE_API_KEY");
    const bypass = await (await page("/ui/entities?entity_id=user_1&bypass=1", admin)).text();
    expect(bypass).toContain("(caches bypassed)");
    expect(bypass).not.toMatch(/data-tier="(memory|kv)"/);
  });

  it("404s and bad input answer pages with the right status, never a 500", async () => {
    expect((await page("/ui/features/no_such_feature", admin)).status).toBe(404);
    expect((await page("/ui/no/such/page", admin)).status).toBe(404);
    expect((await page(`/ui?q=${"x".repeat(300)}`, admin)).status).toBe(400);
    expect((await page(`/ui/entities?entity_id=${"x".repeat(300)}`, admin)).status).toBe(400);
    expect((await page("/ui/entities?entity_id=nobody_knows_my_type", admin)).status).toBe(400);
    const html = await (await page("/ui/recommend", admin)).text();
    const bad = await form("/ui/recommend", admin, { _csrf: csrfIn(html), spine: "just,one,line", label: "label" });
    expect(bad.status).toBe(400);
  });

  it("refuses form posts without the CSRF token or from another origin, and admin actions for a serve-only key", async () => {
    const ops = await (await page("/ui/operations", admin)).text();
    expect(ops).toContain('data-testid="dead-letters"');
    const token = csrfIn(ops);
    expect(token).toHaveLength(64);
    expect((await form("/ui/operations/replay", admin, { id: String(FAKE_DEAD_LETTER_ID) })).status).toBe(403);
    expect((await form("/ui/operations/replay", admin, { id: "7", _csrf: "0".repeat(64) })).status).toBe(403);
    expect((await form("/ui/operations/replay", admin, { id: "7", _csrf: token }, "https://evil.example")).status).toBe(403);
    expect((await form("/ui/logout", admin, {})).status).toBe(403);

    const replayed = await form("/ui/operations/replay", admin, { id: String(FAKE_DEAD_LETTER_ID), _csrf: token });
    expect(replayed.status).toBe(303);
    expect(replayed.headers.get("location")).toBe(`/ui/operations?replayed=${FAKE_DEAD_LETTER_ID}&outcome=replayed`);
    expect((await form("/ui/operations/replay", admin, { id: "abc", _csrf: token })).status).toBe(400);

    const serveOps = await (await page("/ui/operations", serve)).text();
    expect(serveOps).not.toContain('data-testid="dead-letters"');
    expect(serveOps).not.toContain("Replay");
    expect(serveOps).toContain('data-testid="admin-only"');
    expect(serveOps).not.toContain('href="/ui/recommend"');
    const serveToken = csrfIn(serveOps);
    expect((await form("/ui/operations/replay", serve, { id: "7", _csrf: serveToken })).status).toBe(403);
    expect((await page("/ui/recommend", serve)).status).toBe(403);
  });

  it("signs out: the cookie is cleared", async () => {
    const cookie = await cookieOf(API_KEY);
    const token = csrfIn(await (await page("/ui", cookie)).text());
    const out = await form("/ui/logout", cookie, { _csrf: token });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toMatch(/fs_console=;/);
  });
});
