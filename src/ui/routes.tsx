// The web console under /ui: server-rendered Hono JSX pages over the serving Worker's own routes, behind a cookie session.

import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { authorize, bearerKeyHash } from "../core/auth";
import {
  type FeatureErrorResult,
  type FeatureMetadata,
  FeatureRequest,
  type FeatureResponse,
  MAX_BATCH_ENTITIES,
} from "../core/feature-request";
import type { ServingContext, ServingEnv, ServingHonoEnv } from "../serving/context";
import { type ApiResult, type AppFetch, consoleApi, executionCtxOf } from "./api";
import { serveBypassingCaches } from "./bypass-read";
import { CONSOLE_CSS } from "./console.css";
import { Layout, type Section } from "./layout";
import { CatalogPage } from "./pages/catalog";
import { EntityPage, type LookupResult } from "./pages/entity";
import { type FeatureDescription, FeaturePage, type Loaded } from "./pages/feature";
import { type DeadLetterRow, type HealthReport, OperationsPage, type RunRow } from "./pages/operations";
import { parseSpineCsv, type Ranking, RecommendPage } from "./pages/recommend";
import { SignInPage } from "./pages/sign-in";
import { csrfTokenOf, endSession, type Session, sameOrigin, scopesOfKey, sessionOf, startSession } from "./session";

type C = Context<ServingHonoEnv>;

/** Form posts larger than this are refused before parsing (a spine of a few thousand rows fits). */
export const MAX_FORM_BYTES = 2 * 1024 * 1024;

/** No script, no external origin, no framing: the pages are HTML and one stylesheet. */
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const text = z.string().max(200).default("");
const CatalogQuery = z.object({ q: text, entity_type: text, group: text, computation_type: text });
const EntityQuery = z.object({
  entity_id: z.string().max(256).default(""),
  entity_type: z.string().max(64).default(""),
  bypass: z.string().max(5).optional(),
});
const OperationsQuery = z.object({
  replayed: z.string().regex(/^\d+$/).optional(),
  outcome: z.enum(["replayed", "refused", "unusable", "missing", "failed"]).optional(),
});

function loaded<T>(r: ApiResult<T>): Loaded<T> {
  return r.ok ? { ok: true, body: r.body } : { ok: false, status: r.status, message: r.message };
}

function page(
  c: C,
  section: Section,
  title: string,
  session: Session | undefined,
  body: unknown,
  status: 200 | 400 | 401 | 403 | 404 | 413 | 503 = 200,
) {
  return c.html(
    <Layout title={title} section={section} session={session}>
      {body as never}
    </Layout>,
    status,
  );
}

function errorPage(c: C, session: Session | undefined, status: 400 | 401 | 403 | 404 | 413 | 503, title: string, message: string) {
  return page(
    c,
    "feature",
    title,
    session,
    <>
      <h1>{title}</h1>
      <p class="error" role="alert">
        {message}
      </p>
      <p>
        <a href="/ui">Back to the catalog</a>
      </p>
    </>,
    status,
  );
}

/** Where to go after signing in: a console path only (no open redirect to another site). */
function safeNext(next: unknown): string {
  return typeof next === "string" && /^\/ui(\/|$|\?)/.test(next) && !next.startsWith("//") ? next : "/ui";
}

async function formOf(c: C): Promise<Record<string, string | File> | undefined> {
  const length = Number(c.req.header("content-length") ?? "0");
  if (length > MAX_FORM_BYTES) return undefined;
  const body = await c.req.parseBody();
  const out: Record<string, string | File> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string" || v instanceof File) out[k] = v;
  return out;
}

const field = (form: Record<string, string | File>, name: string) => (typeof form[name] === "string" ? (form[name] as string) : "");

/** Sums a Prometheus counter's samples by one label (the lateness drops by reason). */
export function sumByLabel(metrics: string, name: string, label: string): { reason: string; count: number }[] {
  const sums = new Map<string, number>();
  for (const line of metrics.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    const key = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? "unlabelled";
    if (Number.isFinite(value)) sums.set(key, (sums.get(key) ?? 0) + value);
  }
  return [...sums].map(([reason, count]) => ({ reason, count })).filter((x) => x.count > 0);
}

/** The origin the browser used (a local proxy may rewrite the request URL's host, not its Host header). */
function publicOrigin(c: C): string {
  const url = new URL(c.req.url);
  return `${url.protocol}//${c.req.header("host") ?? url.host}`;
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** /ui and everything under it. */
export const isConsolePath = (path: string) => path === "/ui" || path.startsWith("/ui/");

/** The console as an app of its own (mounted by src/serving/app.ts ahead of the API routes), with the Worker's context. */
export function consoleApp(contextFor: (env: ServingEnv) => ServingContext, appFetch: AppFetch): Hono<ServingHonoEnv> {
  const app = new Hono<ServingHonoEnv>();
  app.use(async (c, next) => {
    c.set("deps", contextFor(c.env));
    await next();
  });
  app.route("/ui", consoleRoutes(appFetch));
  return app;
}

function consoleRoutes(appFetch: AppFetch): Hono<ServingHonoEnv> {
  const ui = new Hono<ServingHonoEnv>();

  ui.use(async (c, next) => {
    const started = performance.now();
    await next();
    c.header("content-security-policy", CSP);
    c.header("x-content-type-options", "nosniff");
    c.header("referrer-policy", "no-referrer");
    c.header("x-frame-options", "DENY");
    if (!c.req.path.startsWith("/ui/assets/")) c.header("cache-control", "no-store");
    // Server time of the page (README "Console"): what the < 100 ms target is measured by.
    c.header("server-timing", `app;dur=${(performance.now() - started).toFixed(1)}`);
  });

  ui.get("/assets/console.css", (c) =>
    c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=300" }),
  );

  ui.get("/login", async (c) => {
    if (await sessionOf(c)) return c.redirect("/ui", 303);
    return page(c, "sign-in", "Sign in", undefined, <SignInPage next={safeNext(c.req.query("next"))} />);
  });

  ui.post("/login", async (c) => {
    if (!sameOrigin(c)) return errorPage(c, undefined, 403, "Refused", "A sign-in from another site is refused.");
    const form = await formOf(c);
    if (!form) return errorPage(c, undefined, 413, "Too large", "The form is too large.");
    const key = field(form, "key").trim();
    const next = safeNext(field(form, "next"));
    const scopes = await scopesOfKey(c, key);
    if (!scopes) return page(c, "sign-in", "Sign in", undefined, <SignInPage next={next} error="Unknown API key." />, 401);
    startSession(c, key);
    return c.redirect(next, 303);
  });

  // Everything below needs a session; a form post also needs its CSRF token and a same-origin Origin.
  const sessions = new WeakMap<Request, Session>();
  ui.use(async (c, next) => {
    const session = await sessionOf(c);
    if (!session) {
      if (c.req.method !== "GET") return errorPage(c, undefined, 401, "Signed out", "Sign in first.");
      const url = new URL(c.req.url);
      return c.redirect(`/ui/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
    }
    if (c.req.method === "POST") {
      const form = await formOf(c);
      if (!form) return errorPage(c, session, 413, "Too large", `Forms are limited to ${MAX_FORM_BYTES} bytes.`);
      if (!sameOrigin(c) || field(form, "_csrf") !== (await csrfTokenOf(session.key)))
        return errorPage(c, session, 403, "Refused", "This form did not come from this console (missing or wrong CSRF token).");
    }
    sessions.set(c.req.raw, session);
    await next();
  });
  const sessionIn = (c: C) => sessions.get(c.req.raw)!;

  ui.post("/logout", (c) => {
    endSession(c);
    return c.redirect("/ui/login", 303);
  });

  ui.get("/", async (c) => {
    const session = sessionIn(c);
    const query = CatalogQuery.safeParse(c.req.query());
    if (!query.success) return errorPage(c, session, 400, "Bad search", "Search terms are limited to 200 characters.");
    const res = await consoleApi(c, appFetch, session).serving<{ registry_version: string; features: FeatureDescription["definition"][] }>(
      "/registry/features",
    );
    if (!res.ok) return errorPage(c, session, res.status === 403 ? 403 : 503, "Catalog unavailable", res.message);
    return page(
      c,
      "catalog",
      "Catalog",
      session,
      <CatalogPage version={res.body.registry_version} all={res.body.features} query={query.data} />,
    );
  });

  ui.get("/features/:name", async (c) => {
    const session = sessionIn(c);
    const name = c.req.param("name");
    if (name.length > 200) return errorPage(c, session, 400, "Bad name", "Feature names are at most 200 characters.");
    const api = consoleApi(c, appFetch, session);
    const path = encodeURIComponent(name);
    const [desc, versions, quality, related] = await Promise.all([
      api.serving<FeatureDescription>(`/registry/features/${path}`),
      api.serving<{ versions: [] }>("/registry/versions?limit=50"),
      api.serving<{ history: []; latest: null }>(`/quality/features/${path}?limit=500`),
      api.serving<{ related: [] }>(`/registry/features/${path}/related`),
    ]);
    if (!desc.ok)
      return desc.status === 404
        ? errorPage(c, session, 404, "Unknown feature", `No feature is called ${name} in the current registry.`)
        : errorPage(c, session, desc.status === 403 ? 403 : 503, "Feature unavailable", desc.message);
    return page(
      c,
      "feature",
      desc.body.definition.name,
      session,
      <FeaturePage desc={desc.body} versions={loaded(versions)} quality={loaded(quality)} related={loaded(related)} />,
    );
  });

  ui.get("/entities", async (c) => {
    const session = sessionIn(c);
    const query = EntityQuery.safeParse(c.req.query());
    if (!query.success) return errorPage(c, session, 400, "Bad lookup", "The entity id is at most 256 characters.");
    const { entity_id: entityId, entity_type } = query.data;
    const bypass = query.data.bypass === "1";
    const deps = c.get("deps");
    const registry = await deps.registry();
    const entityTypes: string[] = registry.snapshot.entities.map((e) => e.name);
    const render = (
      extra: { result?: LookupResult; error?: { status: number; message: string } },
      status: 200 | 400 | 403 | 404 | 503 = 200,
    ) =>
      page(
        c,
        "entities",
        "Entity lookup",
        session,
        <EntityPage entityId={entityId} entityTypes={entityTypes} entityType={entity_type} bypass={bypass} {...extra} />,
        status,
      );
    if (!entityId) return render({});
    const type = entity_type || registry.entityTypeOf(entityId);
    if (!type || !entityTypes.includes(type))
      return render({ error: { status: 400, message: `Cannot tell the entity type of ${entityId}: choose one` } }, 400);
    // Stored features only: an on-demand feature needs its request context, which a lookup does not have.
    const defs = registry.forEntity(type).filter((d) => d.computation_type !== "on_demand");
    // One request per feature in a batch: a feature that cannot be served (null_policy reject) fails alone.
    const requests = defs.map((d) => ({ entity_id: entityId, entity_type: type, feature_names: [d.name], include_metadata: true }));
    const features: LookupResult["features"] = [];
    for (let i = 0; i < requests.length; i += MAX_BATCH_ENTITIES) {
      const chunk = requests.slice(i, i + MAX_BATCH_ENTITIES);
      let answer: ApiResult<(FeatureResponse | FeatureErrorResult)[]>;
      if (bypass) {
        const parsed = z.array(FeatureRequest).safeParse(chunk);
        if (!parsed.success) return render({ error: { status: 400, message: parsed.error.issues[0]?.message ?? "bad entity id" } }, 400);
        // The same scope as POST /features/batch: a key of another scope sees nothing here either.
        authorize(await bearerKeyHash(`Bearer ${session.key}`), deps.apiKeys, "serve");
        const served = await serveBypassingCaches(deps, registry, parsed.data, (p) => {
          const ctx = executionCtxOf(c);
          if (ctx) ctx.waitUntil(p);
          else void p;
        });
        answer = { ok: true, status: 200, body: served, text: "" };
      } else
        answer = await consoleApi(c, appFetch, session).serving<(FeatureResponse | FeatureErrorResult)[]>("/features/batch", "POST", chunk);
      if (!answer.ok)
        return render(
          { error: { status: answer.status, message: answer.message } },
          answer.status === 403 ? 403 : answer.status === 404 ? 404 : 400,
        );
      answer.body.forEach((item, j) => {
        const name = chunk[j]!.feature_names[0]!;
        if ("error" in item) features.push({ name, value: null, meta: undefined, error: item.error.message });
        else features.push({ name, value: item.features[name], meta: item.metadata?.[name] as FeatureMetadata | undefined });
      });
    }
    const joinKey = registry.snapshot.entities.find((e) => e.name === type)?.join_key ?? `${type}_id`;
    const feastRequest = { features: defs.map((d) => `${d.group}:${d.name}`), entities: { [joinKey]: [entityId] } };
    const curl = `curl -s -H "authorization: Bearer $FEATURE_STORE_API_KEY" -H 'content-type: application/json' \\\n  -d ${shellQuote(JSON.stringify(feastRequest))} \\\n  ${publicOrigin(c)}/get-online-features`;
    return render({ result: { entityType: type, bypass, features, feastRequest, curl } });
  });

  ui.get("/operations", async (c) => {
    const session = sessionIn(c);
    const query = OperationsQuery.safeParse(c.req.query());
    const api = consoleApi(c, appFetch, session);
    const [serving, ingest, deadLetters, runs, metrics] = await Promise.all([
      api.serving<HealthReport>("/health"),
      api.ingest<HealthReport>("/health"),
      session.admin ? api.ingest<{ dead_letters: DeadLetterRow[] }>("/admin/dead-letters?limit=50") : undefined,
      session.admin ? api.ingest<{ runs: RunRow[] }>("/admin/materialize/runs?limit=30") : undefined,
      session.admin ? api.serving<string>("/metrics") : undefined,
    ]);
    // A 503 health answer is still a report (a tier is down): show it.
    const health = (r: ApiResult<HealthReport>): Loaded<HealthReport> =>
      r.ok
        ? { ok: true, body: r.body }
        : r.body && typeof r.body === "object" && "status" in r.body
          ? { ok: true, body: r.body as HealthReport }
          : loaded(r);
    const q = query.success ? query.data : {};
    const flash =
      q.replayed && q.outcome
        ? {
            replayed: `Dead letter ${q.replayed} replayed: queued again with source "replay".`,
            refused: `Dead letter ${q.replayed} was refused again by validation; it stays a dead letter.`,
            unusable: `Dead letter ${q.replayed} holds no valid update and cannot be replayed.`,
            missing: `Dead letter ${q.replayed} does not exist.`,
            failed: `Dead letter ${q.replayed} could not be replayed: the ingest Worker failed.`,
          }[q.outcome]
        : undefined;
    return page(
      c,
      "operations",
      "Operations",
      session,
      <OperationsPage
        session={session}
        flash={flash}
        serving={health(serving)}
        ingest={health(ingest)}
        deadLetters={deadLetters && loaded(deadLetters)}
        runs={runs && loaded(runs)}
        lateness={metrics?.ok ? sumByLabel(metrics.text, "feature_stream_lateness_drops_total", "reason") : undefined}
      />,
    );
  });

  ui.post("/operations/replay", async (c) => {
    const session = sessionIn(c);
    if (!session.admin) return errorPage(c, session, 403, "Refused", "Replaying dead letters needs an admin key.");
    const form = await formOf(c);
    const id = field(form ?? {}, "id");
    if (!/^\d{1,9}$/.test(id)) return errorPage(c, session, 400, "Bad replay", "A dead letter id is a number.");
    const res = await consoleApi(c, appFetch, session).ingest<{
      replayed: number[];
      refused: unknown[];
      unusable: unknown[];
      missing: unknown[];
    }>("/admin/dead-letters/replay", "POST", { ids: [Number(id)] });
    if (!res.ok && res.status === 403) return errorPage(c, session, 403, "Refused", res.message);
    const outcome = !res.ok
      ? "failed"
      : res.body.replayed.length
        ? "replayed"
        : res.body.refused.length
          ? "refused"
          : res.body.unusable.length
            ? "unusable"
            : "missing";
    return c.redirect(`/ui/operations?replayed=${id}&outcome=${outcome}`, 303);
  });

  const recommendPage = (
    c: C,
    session: Session,
    form: { spine: string; label: string; candidates: string },
    result?: Parameters<typeof RecommendPage>[0]["result"],
    status: 200 | 400 | 503 = 200,
  ) => page(c, "recommend", "Recommend", session, <RecommendPage session={session} {...form} result={result} />, status);

  ui.get("/recommend", (c) => {
    const session = sessionIn(c);
    if (!session.admin) return errorPage(c, session, 403, "Refused", "Feature recommendation needs an admin key.");
    return recommendPage(c, session, { spine: "", label: "label", candidates: "" });
  });

  ui.post("/recommend", async (c) => {
    const session = sessionIn(c);
    if (!session.admin) return errorPage(c, session, 403, "Refused", "Feature recommendation needs an admin key.");
    const form = (await formOf(c)) ?? {};
    const file = form.file instanceof File && form.file.size > 0 ? await form.file.text() : "";
    const input = {
      spine: file || field(form, "spine"),
      label: field(form, "label").trim() || "label",
      candidates: field(form, "candidates").trim(),
    };
    if (!/^[a-z_][a-z0-9_]{0,63}$/i.test(input.label))
      return recommendPage(c, session, input, { ok: false, status: 400, message: "The label column is a plain column name" }, 400);
    const spine = parseSpineCsv(input.spine, input.label);
    if ("error" in spine) return recommendPage(c, session, input, { ok: false, status: 400, message: spine.error }, 400);
    const candidates = input.candidates
      ? input.candidates
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined;
    const res = await consoleApi(c, appFetch, session).serving<Ranking>("/recommendations/features", "POST", {
      spine: spine.rows,
      label: input.label,
      ...(candidates ? { candidates } : {}),
    });
    return recommendPage(
      c,
      session,
      input,
      res.ok ? { ok: true, body: res.body } : { ok: false, status: res.status, message: res.message },
      res.ok ? 200 : res.status >= 500 || res.status === 404 ? 503 : 400,
    );
  });

  ui.all("*", (c) => errorPage(c, sessionIn(c), 404, "Not found", `Nothing at ${c.req.path}.`));

  return ui;
}
