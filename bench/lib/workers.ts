// The bench's own Miniflare (plain workerd): feature-serving, feature-ingest, the bare Hono baseline and
// the loader, each bundled by `wrangler deploy --dry-run` and listening on its own loopback port.
import { existsSync } from "node:fs";
import path from "node:path";
import { convertV4MiniflareOptions, Miniflare, type LegacyWorkerOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";
import { bundleWorker, PROJECT_ROOT } from "../../dev/local-workers";

export interface BenchWorkerSpec {
  configPath: string;
  port: number;
  bindings: Record<string, string>;
}

export interface BenchWorkers {
  mf: Miniflare;
  /** Worker name → http://127.0.0.1:port */
  urls: Record<string, string>;
  close(): Promise<void>;
}

export async function bundleAll(specs: BenchWorkerSpec[], buildDir: string): Promise<Map<BenchWorkerSpec, { name: string; script: string; options: LegacyWorkerOptions }>> {
  const out = new Map<BenchWorkerSpec, { name: string; script: string; options: LegacyWorkerOptions }>();
  // Two at a time: wrangler is CPU-heavy and the machine may have only two cores.
  const queue = [...specs];
  const worker = async () => {
    for (let spec = queue.shift(); spec; spec = queue.shift()) {
      const configPath = path.resolve(PROJECT_ROOT, spec.configPath);
      const config = unstable_readConfig({ config: configPath });
      const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
      // The bundle is self-contained, so wrangler's module rules are not needed (Miniflare 5 rejects them).
      const { modulesRules: _rules, ...options } = workerOptions;
      const name = config.name ?? path.basename(configPath);
      const outDir = path.join(buildDir, name);
      const bundled = await bundleWorker(configPath, outDir);
      // wrangler names the bundle after the entry module (index.js for src/*/index.ts, bare-worker.js ...).
      const script = existsSync(bundled) ? bundled : path.join(outDir, `${path.basename(config.main ?? "index", path.extname(config.main ?? ""))}.js`);
      out.set(spec, { name, script, options: options as LegacyWorkerOptions });
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

export async function startBenchWorkers(
  specs: BenchWorkerSpec[],
  opts: { buildDir: string; stateDir: string; onLog: (level: string, message: string) => void },
): Promise<BenchWorkers> {
  const bundles = await bundleAll(specs, opts.buildDir);
  const inspectorPort = process.env.BENCH_INSPECTOR_PORT ? Number(process.env.BENCH_INSPECTOR_PORT) : undefined;
  const workers: LegacyWorkerOptions[] = specs.map((spec) => {
    const b = bundles.get(spec)!;
    return {
      ...b.options,
      name: b.name,
      modules: true,
      scriptPath: b.script,
      modulesRoot: path.dirname(b.script),
      bindings: { ...(b.options.bindings ?? {}), ...spec.bindings },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: spec.port }],
      // BENCH_INSPECTOR_PORT: expose every Worker to DevTools/CDP for CPU profiles (diagnosis only;
      // an attached profiler slows the isolate, so never compare such a run with a normal one).
      ...(inspectorPort ? { unsafeInspectorProxy: true } : {}),
    } as LegacyWorkerOptions;
  });
  const signals = ["SIGINT", "SIGTERM"] as const;
  const ownListeners = new Map(signals.map((sig) => [sig, new Set(process.listeners(sig))]));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      workers,
      resourcePersistencePath: opts.stateDir,
      ...(inspectorPort ? { inspectorPort } : {}),
      // Worker console output goes to the run's log file, not the terminal.
      handleStructuredLogs: (log) => opts.onLog(log.level, log.message),
    }),
  );
  await mf.ready;
  // Miniflare installs SIGINT/SIGTERM handlers that kill workerd and exit at once, which would skip the
  // bench's own cleanup (its database, Redis prefix and state directory). The bench stops workerd
  // itself (mf.dispose() in its cleanup), and Miniflare's exit hook still kills it at process exit.
  for (const sig of signals) {
    for (const listener of process.listeners(sig)) if (!ownListeners.get(sig)!.has(listener)) process.off(sig, listener);
  }
  const urls: Record<string, string> = {};
  specs.forEach((spec, i) => (urls[workers[i]!.name ?? ""] = `http://127.0.0.1:${spec.port}`));
  return { mf, urls, close: () => mf.dispose() };
}
