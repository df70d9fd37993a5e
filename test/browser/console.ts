// npm run ui:test: the console in Debian's chromium (playwright-core) against a dev stack of its own on a fresh database:
// sign in, search the catalog, a feature's lineage, user_1's values with tiers, replay a dead letter as admin and be
// refused as a serve-only key; axe-core on every page (no serious or critical violation). A screenshot per page under
// test-results/console/ (and on failure); --docs also writes them to docs/console/ for the README. Ends with
// "ui: N passed, N failed" (.ci/run adds these to its count).
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { sha256Hex } from "../../src/core/hash";
import { EXIT_FAILED, EXIT_OK, runIfMain } from "../../tools/cli";
import { skipLabels } from "../../tools/demo/labels";
import { readDevStack } from "../../tools/dev-stack";
import { type RunningStack, startDevStack } from "../../tools/dev-stack-process";
import { PROJECT_ROOT } from "../../tools/paths";
import { scratchDatabase, withPgClient } from "../../tools/postgres";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const RESULTS = path.join(PROJECT_ROOT, "test-results", "console");
const DOCS = path.join(PROJECT_ROOT, "docs", "console");
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
/** The page bound, read from each page's Server-Timing header: reported by the run, not asserted. */
const MAX_SERVER_MS = 100;

interface Ctx {
  url: string;
  adminKey: string;
  serveKey: string;
  databaseUrl: string;
  browser: Browser;
  docs: boolean;
  serverTimes: Record<string, number[]>;
}

function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(what);
}

async function shot(page: Page, name: string, docs: boolean): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (docs) {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(file, path.join(DOCS, `${name}.png`));
  }
}

/** axe-core in the page: serious and critical violations fail the test. */
async function accessible(page: Page, what: string): Promise<void> {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as { axe: { run: (o: unknown) => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> } }
    ).axe;
    const r = await axe.run({ runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(serious.length === 0, `${what}: accessibility violations ${JSON.stringify(serious)}`);
}

async function signedIn(ctx: Ctx, key: string, width = 1280): Promise<{ context: BrowserContext; page: Page }> {
  // bypassCSP only so axe-core can be injected; the pages themselves run no script.
  const context = await ctx.browser.newContext({ viewport: { width, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  page.on("response", (res) => {
    const timing = res.headers()["server-timing"];
    const dur = timing ? /app;dur=([\d.]+)/.exec(timing)?.[1] : undefined;
    if (dur) {
      const route = `${res.request().method()} ${new URL(res.url()).pathname.replace(/\/features\/[^/]+$/, "/features/:name")}`;
      const times = ctx.serverTimes[route] ?? [];
      times.push(Number(dur));
      ctx.serverTimes[route] = times;
    }
  });
  await page.goto(`${ctx.url}/ui`);
  check(page.url().includes("/ui/login"), `without a session /ui goes to the sign-in, not ${page.url()}`);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${ctx.url}/ui`);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "fs_console");
  check(session?.httpOnly && session.sameSite === "Strict", `session cookie HttpOnly + SameSite=Strict: ${JSON.stringify(session)}`);
  const html = await page.content();
  check(!html.includes(key), "the key is not in the page");
  return { context, page };
}

const TESTS: { name: string; run: (ctx: Ctx) => Promise<void> }[] = [
  {
    name: "sign in, then search the catalog",
    async run(ctx) {
      const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
      const page = await context.newPage();
      await page.goto(`${ctx.url}/ui/login`);
      await accessible(page, "sign-in");
      await shot(page, "sign-in", ctx.docs);
      await context.close();
      const s = await signedIn(ctx, ctx.adminKey);
      const total = Number(/(\d+) of (\d+)/.exec((await s.page.getByTestId("catalog-count").textContent()) ?? "")?.[2]);
      await s.page.getByLabel("Search").fill("skip");
      await s.page.getByRole("button", { name: "Search" }).click();
      const shown = Number(/(\d+) of/.exec((await s.page.getByTestId("catalog-count").textContent()) ?? "")?.[1]);
      check(shown > 0 && shown < total, `search "skip" shows some features (${shown} of ${total})`);
      check(await s.page.getByRole("link", { name: "skip_rate_7d" }).isVisible(), "skip_rate_7d is listed");
      await accessible(s.page, "catalog");
      await shot(s.page, "catalog", ctx.docs);
      await s.page.setViewportSize({ width: 390, height: 844 });
      await shot(s.page, "catalog-phone", ctx.docs);
      await s.context.close();
    },
  },
  {
    name: "open a feature and see its lineage",
    async run(ctx) {
      const s = await signedIn(ctx, ctx.adminKey);
      await s.page.getByLabel("Search").fill("skip_rate_7d");
      await s.page.getByRole("button", { name: "Search" }).click();
      await s.page.getByRole("link", { name: "skip_rate_7d" }).first().click();
      await s.page.waitForURL(/\/ui\/features\/skip_rate_7d$/);
      const lineage = s.page.getByTestId("lineage");
      check(await lineage.isVisible(), "the lineage graph is drawn");
      const title = (await lineage.locator("title").textContent()) ?? "";
      check(title.includes("skip_rate_7d"), `lineage title names the feature: ${title}`);
      // Two more loads: the first one of a page pays for cold caches (registry versions, quality history).
      await s.page.reload();
      await s.page.reload();
      await accessible(s.page, "feature");
      await shot(s.page, "feature", ctx.docs);
      await s.context.close();
    },
  },
  {
    name: "look up user_1 and see values with tiers",
    async run(ctx) {
      const s = await signedIn(ctx, ctx.adminKey);
      await s.page.getByRole("link", { name: "Entity lookup" }).click();
      await s.page.getByLabel("Entity id").fill("user_1");
      await s.page.getByRole("button", { name: "Look up" }).click();
      const tiers = await s.page.locator("[data-tier]").evaluateAll((cells) => cells.map((c) => c.getAttribute("data-tier")));
      const served = tiers.filter(Boolean);
      check(served.length > 0, `user_1 has values with a serving tier (${tiers.length} rows, tiers ${[...new Set(served)].join(",")})`);
      const curl = (await s.page.getByTestId("curl").inputValue()) ?? "";
      check(curl.includes("$FEATURE_STORE_API_KEY") && !curl.includes(ctx.adminKey), "the curl names the key variable, not the key");
      await accessible(s.page, "entity lookup");
      await shot(s.page, "entity-lookup", ctx.docs);
      await s.page.getByLabel("Bypass caches (skip memory and KV)").check();
      await s.page.getByRole("button", { name: "Look up" }).click();
      const bypassed = await s.page.locator("[data-tier]").evaluateAll((cells) => cells.map((c) => c.getAttribute("data-tier")));
      check(
        !bypassed.some((t) => t === "memory" || t === "kv"),
        `bypassing caches serves no value from memory or KV: ${bypassed.join(",")}`,
      );
      await s.context.close();
    },
  },
  {
    name: "replay a dead letter as admin",
    async run(ctx) {
      const id = await withPgClient(ctx.databaseUrl, async (c) => {
        const message = {
          entity_type: "user",
          entity_id: "user_1",
          event_timestamp: Date.now() - 60_000,
          features: { listening_hours_weekly: 12.5 },
          update_id: `ui-test-${randomBytes(4).toString("hex")}`,
          source: "push",
        };
        const r = await c.query<{ id: number }>(
          "insert into dead_letters (message_id, message, reasons, source, attempts) values ($1, $2::jsonb, $3::jsonb, 'retries_exhausted', 3) returning id",
          [
            message.update_id,
            JSON.stringify(message),
            JSON.stringify([{ feature: "*", rule: "retries_exhausted", message: "Postgres was unreachable (browser test)" }]),
          ],
        );
        return r.rows[0]!.id;
      });
      const s = await signedIn(ctx, ctx.adminKey);
      await s.page.getByRole("link", { name: "Operations" }).click();
      await accessible(s.page, "operations");
      await shot(s.page, "operations", ctx.docs);
      await s.page.getByRole("button", { name: `Replay dead letter ${id}` }).click();
      const flash = (await s.page.getByTestId("flash").textContent()) ?? "";
      check(flash.includes(`Dead letter ${id} replayed`), `the replay is confirmed: ${flash}`);
      const replayed = await withPgClient(ctx.databaseUrl, (c) => c.query("select replayed_at from dead_letters where id = $1", [id]));
      check(replayed.rows[0]?.replayed_at, "the dead letter is marked replayed in Postgres");
      await s.context.close();
    },
  },
  {
    name: "a serve-only key sees no admin actions and is refused a replay",
    async run(ctx) {
      const s = await signedIn(ctx, ctx.serveKey);
      check(!(await s.page.getByRole("link", { name: "Recommend" }).count()), "no Recommend link for a serve-only key");
      await s.page.getByRole("link", { name: "Operations" }).click();
      check(await s.page.getByTestId("admin-only").isVisible(), "the operations page says admin is needed");
      check((await s.page.getByRole("button", { name: /Replay/ }).count()) === 0, "no replay button");
      const csrf = await s.page.locator('input[name="_csrf"]').first().inputValue();
      const res = await s.page.request.post(`${ctx.url}/ui/operations/replay`, {
        form: { id: "1", _csrf: csrf },
        headers: { origin: ctx.url },
        maxRedirects: 0,
      });
      check(res.status() === 403, `a replay posted with a serve-only session is refused (${res.status()})`);
      await shot(s.page, "operations-serve-only", ctx.docs);
      await s.context.close();
    },
  },
  {
    name: "the recommendation page takes a spine",
    async run(ctx) {
      const s = await signedIn(ctx, ctx.adminKey);
      await s.page.getByRole("link", { name: "Recommend" }).click();
      // The demo's "will the listener skip this track?" spine (npm run demo:labels), 300 rows.
      const labels = await skipLabels(ctx.databaseUrl, 300);
      const csv = [
        "user_id,track_id,event_timestamp,will_skip",
        ...labels.map((l) => `${l.user_id},${l.track_id},${l.event_timestamp},${l.will_skip}`),
      ];
      await s.page.getByLabel("Spine CSV").fill(csv.join("\n"));
      await s.page.getByLabel("Label column").fill("will_skip");
      await s.page.getByRole("button", { name: "Rank features" }).click();
      const rows = await s.page.getByTestId("ranking").locator("tbody tr").count();
      const alert = (await s.page.getByRole("alert").count()) ? await s.page.getByRole("alert").first().textContent() : "";
      check(rows > 0, `a ranking is shown (${alert})`);
      await accessible(s.page, "recommend");
      await shot(s.page, "recommend", ctx.docs);
      await s.context.close();
    },
  },
];

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { docs: { type: "boolean" }, "use-running": { type: "boolean" }, only: { type: "string" } } });
  if (!existsSync(CHROMIUM)) {
    console.error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    console.log("ui: 0 passed, 1 failed");
    return EXIT_FAILED;
  }
  const serveKey = `fs_ui_serve_${randomBytes(12).toString("base64url")}`;
  let stack: RunningStack | undefined;
  let db: Awaited<ReturnType<typeof scratchDatabase>>;
  let browser: Browser | undefined;
  let passed = 0;
  let failed = 0;
  try {
    let info = values["use-running"] ? readDevStack() : undefined;
    if (!info) {
      db = await scratchDatabase("fs_ui");
      console.log(`starting a dev stack on ${db ? "a fresh database" : "the embedded Postgres"} …`);
      stack = await startDevStack({
        ...(db ? { DATABASE_URL: db.url } : {}),
        FEATURE_STORE_EXTRA_API_KEYS: `${await sha256Hex(serveKey)}:serve`,
        DEV_MATERIALIZE_TIMEOUT_S: "600",
      });
      info = stack.info;
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
    const ctx: Ctx = {
      url: info.servingUrl,
      adminKey: info.devApiKey,
      serveKey,
      databaseUrl: info.databaseUrl,
      browser,
      docs: Boolean(values.docs),
      serverTimes: {},
    };
    for (const t of TESTS.filter((t) => !values.only || t.name.includes(values.only))) {
      const started = Date.now();
      try {
        await t.run(ctx);
        passed++;
        console.log(`  ✓ ${t.name} (${Date.now() - started} ms)`);
      } catch (err) {
        failed++;
        console.log(`  ✗ ${t.name}: ${err instanceof Error ? err.message : String(err)}`);
        for (const context of browser.contexts())
          for (const [i, page] of context.pages().entries())
            await page
              .screenshot({ path: path.join(RESULTS, `failure-${t.name.replace(/\W+/g, "-")}-${i}.png`), fullPage: true })
              .catch(() => undefined);
      } finally {
        for (const context of browser.contexts()) await context.close().catch(() => undefined);
      }
    }
    const slow: string[] = [];
    console.log("server time per console route (Server-Timing app;dur, ms): median / max over the run");
    for (const [route, times] of Object.entries(ctx.serverTimes).sort()) {
      const sorted = [...times].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      const max = sorted[sorted.length - 1]!;
      console.log(`  ${route.padEnd(28)} ${median.toFixed(1).padStart(7)} / ${max.toFixed(1).padStart(7)}  (${times.length} loads)`);
      // POST /ui/recommend times the ranking itself (a point-in-time training set), not a page render.
      if (route !== "POST /ui/recommend" && median > MAX_SERVER_MS) slow.push(`${route} median ${median.toFixed(1)} ms`);
    }
    // Reported, not asserted: performance is measured, never a pass/fail timing in a test (it flips with the
    // machine's load: the operations page waits for both Workers' health probes of every tier).
    console.log(
      slow.length
        ? `  note: over the ${MAX_SERVER_MS} ms page target: ${slow.join(", ")}`
        : `  every page's median is under the ${MAX_SERVER_MS} ms target`,
    );
  } catch (err) {
    failed++;
    console.error(`npm run ui:test: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await browser?.close().catch(() => undefined);
    await stack?.stop();
    await db?.drop().catch((err: unknown) => console.error(`could not drop the ui test database: ${String(err)}`));
  }
  console.log(`ui: ${passed} passed, ${failed} failed`);
  return failed === 0 ? EXIT_OK : EXIT_FAILED;
}

runIfMain("npm run ui:test failed", import.meta.url, main);
