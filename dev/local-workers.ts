// Runs both Workers in one Miniflare (plain workerd) from their wrangler configs: shared KV, DOs, Queues.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { convertV4MiniflareOptions, type LegacyWorkerOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";
import { PROJECT_ROOT } from "../tools/paths";
import { runWrangler } from "../tools/wrangler";

export interface LocalWorkerSpec {
  configPath: string;
  port: number;
  /** Secrets and var overrides (DATABASE_URL, UPSTASH_*, NEON_WS_PROXY, API keys ...). */
  bindings: Record<string, string>;
}

export interface LocalWorkers {
  mf: Miniflare;
  urls: Record<string, string>;
  /** Fire a Worker's scheduled() handler (Miniflare does not run crons on its own). */
  scheduled(workerName: string, cron: string): Promise<void>;
  close(): Promise<void>;
}

/** Bundle a Worker exactly as `wrangler deploy` would, without uploading. */
async function bundleWorker(configPath: string, outDir: string): Promise<string> {
  await mkdir(outDir, { recursive: true });
  await runWrangler(["deploy", "--dry-run", "--outdir", outDir, "-c", configPath]);
  return path.join(outDir, "index.js");
}

export interface LocalWorkersOptions {
  /** Where Miniflare keeps KV/DO/Queue state (wrangler's `<persist-to>/v3` layout); undefined = in memory. */
  stateDir?: string | undefined;
  buildDir: string;
  /** Worker console output; unset = Miniflare prints it. */
  onLog?: (level: string, message: string) => void;
  /** Expose every Worker to DevTools for CPU profiles (diagnosis only: a profiler slows the isolate). */
  inspectorPort?: number | undefined;
}

/** Bundles every spec, two at a time (wrangler is CPU-heavy and the machine may have two cores). */
async function bundleAll(specs: LocalWorkerSpec[], buildDir: string): Promise<LegacyWorkerOptions[]> {
  const out = new Array<LegacyWorkerOptions>(specs.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < specs.length; i = next++) {
      const spec = specs[i]!;
      const configPath = path.resolve(PROJECT_ROOT, spec.configPath);
      const config = unstable_readConfig({ config: configPath });
      const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
      // The bundle is self-contained, so wrangler's module rules are not needed (Miniflare 5 rejects them).
      const { modulesRules: _rules, ...options } = workerOptions;
      const name = config.name ?? path.basename(configPath);
      const outDir = path.join(buildDir, name);
      const bundled = await bundleWorker(configPath, outDir);
      // wrangler names the bundle after the entry module (index.js for src/*/index.ts, bare-worker.js ...).
      const mainBase = path.basename(config.main ?? "index", path.extname(config.main ?? ""));
      const script = existsSync(bundled) ? bundled : path.join(outDir, `${mainBase}.js`);
      out[i] = {
        ...options,
        name,
        modules: true,
        scriptPath: script,
        modulesRoot: path.dirname(script),
        bindings: { ...(options.bindings ?? {}), ...spec.bindings },
        unsafeDirectSockets: [{ host: "127.0.0.1", port: spec.port }],
      } as LegacyWorkerOptions;
    }
  };
  await Promise.all([lane(), lane()]);
  return out;
}

export async function startLocalWorkers(specs: LocalWorkerSpec[], opts: LocalWorkersOptions): Promise<LocalWorkers> {
  const workers = (await bundleAll(specs, opts.buildDir)).map((w) =>
    opts.inspectorPort ? ({ ...w, unsafeInspectorProxy: true } as LegacyWorkerOptions) : w,
  );
  const signals = ["SIGINT", "SIGTERM"] as const;
  const ownListeners = new Map(signals.map((sig) => [sig, new Set(process.listeners(sig))]));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      workers,
      ...(opts.stateDir ? { resourcePersistencePath: opts.stateDir } : {}),
      ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
      ...(opts.onLog ? { handleStructuredLogs: (log: { level: string; message: string }) => opts.onLog!(log.level, log.message) } : {}),
    }),
  );
  await mf.ready;
  // Miniflare installs SIGINT/SIGTERM handlers that kill workerd and exit at once, which would skip
  // the caller's own shutdown (closing PGlite cleanly, removing its lock). The caller disposes
  // Miniflare itself, and Miniflare's exit hook still kills workerd if the process dies first.
  for (const sig of signals) {
    for (const listener of process.listeners(sig)) if (!ownListeners.get(sig)!.has(listener)) process.off(sig, listener);
  }
  const urls: Record<string, string> = {};
  specs.forEach((spec, i) => {
    urls[workers[i]!.name ?? ""] = `http://127.0.0.1:${spec.port}`;
  });
  return {
    mf,
    urls,
    async scheduled(workerName, cron) {
      const worker = await mf.getWorker(workerName);
      await worker.scheduled({ cron });
    },
    close: () => mf.dispose(),
  };
}
