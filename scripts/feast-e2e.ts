// npm run feast:e2e: Feast's real Python SDK against our Workers (a dev stack of its own), then the
// read-your-writes trials. Ends with "e2e: N passed, N failed" (.ci/run adds these to its count).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { EXIT_FAILED, EXIT_OK, runIfMain } from "../tools/cli";
import { readDevStack } from "../tools/dev-stack";
import { type RunningStack, startDevStack } from "../tools/dev-stack-process";
import { DATA_DIR, PROJECT_ROOT, TSX_BIN } from "../tools/paths";
import { scratchDatabase } from "../tools/postgres";
import { renderTrials, runTrials } from "../tools/read-your-writes";

const USAGE = `npm run feast:e2e [-- --use-running] [--trials N]
  Installs Feast's SDK (tools/feast-sdk/install.sh), starts a dev stack of its own on a fresh
  database (POSTGRES_SERVER_URL, default postgres://root@127.0.0.1:5432/postgres; else the embedded
  one), exports the registry as a Feast repo, runs \`feast apply\` and tools/feast-sdk/e2e.py, then
  N push-then-read trials with and without the write token (default 1000).
  --use-running   use the \`npm run dev\` stack that is already running instead`;

const VENV_BIN = path.join(DATA_DIR, "feast-venv", "bin");

function run(what: string, cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? PROJECT_ROOT, env: { ...process.env, ...opts.env }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}):\n${(r.stdout + r.stderr).slice(-3000)}`);
  return r.stdout;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { "use-running": { type: "boolean" }, trials: { type: "string", default: "1000" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  console.log(run("installing Feast's SDK", "bash", ["tools/feast-sdk/install.sh"]).trim());
  let stack: RunningStack | undefined;
  let db: Awaited<ReturnType<typeof scratchDatabase>>;
  const repo = mkdtempSync(path.join(tmpdir(), "echotune-feast-"));
  let passed = 0;
  let failed = 0;
  try {
    let info = values["use-running"] ? readDevStack() : undefined;
    if (values["use-running"] && !info) throw new Error("--use-running: no running `npm run dev` stack (.data/dev-stack.json)");
    if (!info) {
      db = await scratchDatabase("fs_e2e");
      console.log(`starting a dev stack on ${db ? "a fresh database" : "the embedded Postgres"} …`);
      stack = await startDevStack(db ? { DATABASE_URL: db.url } : {});
      info = stack.info;
    }
    const env = { FEATURE_STORE_URL: info.servingUrl, FEATURE_STORE_API_KEY: info.devApiKey, DATABASE_URL: info.databaseUrl };
    run("export-feast", process.execPath, [TSX_BIN, "scripts/registry.ts", "export-feast", "--out", repo], { env });
    run("feast apply", path.join(VENV_BIN, "feast"), ["apply"], { cwd: repo, env });
    const sdk = spawnSync(path.join(VENV_BIN, "python"), [path.join(PROJECT_ROOT, "tools/feast-sdk/e2e.py")], {
      cwd: repo,
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
    process.stdout.write(sdk.stdout);
    if (sdk.status !== 0) process.stdout.write(sdk.stderr.slice(-3000));
    const summary = /feast-sdk: (\d+) passed, (\d+) failed/.exec(sdk.stdout);
    passed += Number(summary?.[1] ?? 0);
    failed += summary ? Number(summary[2]) : 1;

    const opts = {
      servingUrl: info.servingUrl,
      ingestUrl: info.ingestUrl,
      apiKey: info.devApiKey,
      trials: Number(values.trials),
      lanes: 20,
      feature: "listening_hours_weekly",
    };
    const results = [await runTrials(opts, true), await runTrials(opts, false)];
    console.log(`\nread-your-writes, ${opts.trials} push-then-read trials each:\n${renderTrials(results)}`);
    const ok = results[0]!.stale === 0 && results[0]!.errors === 0;
    console.log(`  ${ok ? "ok  " : "FAIL"}  every read with the write token saw the pushed value`);
    if (ok) passed++;
    else failed++;
  } finally {
    await stack?.stop();
    await db?.drop().catch((err: unknown) => console.error(`could not drop the e2e database: ${String(err)}`));
    rmSync(repo, { recursive: true, force: true });
  }
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  return failed === 0 ? EXIT_OK : EXIT_FAILED;
}

runIfMain("npm run feast:e2e failed", import.meta.url, main);
