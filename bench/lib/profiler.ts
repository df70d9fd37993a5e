// CPU profiles (npm run bench -- --profile) and promoted-allocation profiles (--heap-profile) of the
// scenario's Worker, over workerd's inspector (CDP): .cpuprofile / .heapprofile files (Chrome DevTools,
// speedscope) plus a summary of the top functions.
import { writeFileSync } from "node:fs";
import WebSocket from "ws";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** V8's sampling heap profile (HeapProfiler.stopSampling). */
export interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}
export interface HeapProfile {
  head: HeapNode;
}

export interface HeapLine {
  /** The allocating function and up to two callers, innermost first. */
  stack: string;
  mb: number;
  pct: number;
}

export interface ProfileLine {
  function: string;
  where: string;
  self_ms: number;
  self_pct: number;
}

export class WorkerProfiler {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    });
  }

  /** Connects to Miniflare's inspector proxy for one Worker (`ws://127.0.0.1:<port>/<worker>`). */
  static async connect(port: number, worker: string): Promise<WorkerProfiler> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/${worker}`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const p = new WorkerProfiler(ws);
    await p.send("Profiler.enable");
    // 100 µs sampling: fine enough for sub-millisecond requests, cheap enough not to dominate them.
    await p.send("Profiler.setSamplingInterval", { interval: 100 });
    return p;
  }

  private send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  start(): Promise<unknown> {
    return this.send("Profiler.start");
  }

  async stop(): Promise<CpuProfile> {
    const { profile } = (await this.send("Profiler.stop")) as { profile: CpuProfile };
    return profile;
  }

  /**
   * Samples allocations (one per 16 KB) that a young-generation collection did not free: objects
   * that were promoted to the old generation (or are still alive), i.e. the work of the full,
   * stop-the-world collections behind the "GC stalls" column. With `all`, every allocation is sampled
   * (also what a young-generation collection freed): the garbage a request makes, for bytes/request.
   */
  async startHeapSampling(all = false): Promise<void> {
    await this.send("HeapProfiler.enable");
    await this.send("HeapProfiler.startSampling", {
      samplingInterval: 16_384,
      includeObjectsCollectedByMinorGC: all,
      includeObjectsCollectedByMajorGC: true,
    });
  }

  async stopHeapSampling(): Promise<HeapProfile> {
    const { profile } = (await this.send("HeapProfiler.stopSampling")) as { profile: HeapProfile };
    return profile;
  }

  close(): void {
    this.ws.close();
  }
}

/** Self time per function (summed over call sites), largest first; idle and GC are included as V8 names them. */
export function summarizeProfile(profile: CpuProfile, top = 25): ProfileLine[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the following delta to it (as DevTools does).
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + dt);
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const byFunction = new Map<string, ProfileLine>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    const file = f.url.split("/").pop() ?? "";
    const where = file ? `${file}:${f.lineNumber + 1}` : "";
    const key = `${f.functionName}|${where}`;
    const line = byFunction.get(key) ?? { function: f.functionName || "(anonymous)", where, self_ms: 0, self_pct: 0 };
    line.self_ms += us / 1000;
    byFunction.set(key, line);
  }
  return [...byFunction.values()]
    .map((l) => ({ ...l, self_ms: Math.round(l.self_ms * 10) / 10, self_pct: Math.round((l.self_ms * 1e7) / total) / 100 }))
    .sort((a, b) => b.self_ms - a.self_ms)
    .slice(0, top);
}

/**
 * Every sampled byte of the profile (with all allocations sampled: an estimate of the bytes allocated),
 * less what was allocated under a function named in `exclude` (a Worker's set-up, not its requests).
 */
export function heapProfileBytes(profile: HeapProfile, exclude: ReadonlySet<string> = new Set()): number {
  let total = 0;
  const walk = (n: HeapNode) => {
    if (exclude.has(n.callFrame.functionName)) return;
    total += n.selfSize;
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  return total;
}

/** Sampled bytes by allocation site (function plus two callers), largest first. */
export function summarizeHeapProfile(profile: HeapProfile, top = 20): HeapLine[] {
  const bytes = new Map<string, number>();
  let total = 0;
  const frame = (n: HeapNode) => {
    const f = n.callFrame;
    const file = f.url.split("/").pop() ?? "";
    return `${f.functionName || "(anonymous)"}${file ? ` ${file}:${f.lineNumber + 1}` : ""}`;
  };
  const walk = (n: HeapNode, callers: string[]) => {
    const here = [frame(n), ...callers].slice(0, 3);
    if (n.selfSize) {
      const key = here.join(" < ");
      bytes.set(key, (bytes.get(key) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, []);
  return [...bytes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([stack, b]) => ({ stack, mb: Math.round(b / 1e4) / 100, pct: Math.round((b * 1e4) / (total || 1)) / 100 }));
}

export function formatHeapSummary(lines: HeapLine[]): string {
  return lines.map((l) => `${l.mb.toFixed(2).padStart(8)} MB ${l.pct.toFixed(1).padStart(5)}%  ${l.stack}`).join("\n");
}

export function writeProfile(profile: CpuProfile | HeapProfile, path: string): void {
  writeFileSync(path, JSON.stringify(profile));
}

export function formatSummary(lines: ProfileLine[]): string {
  return lines
    .map((l) => `${l.self_ms.toFixed(1).padStart(9)} ms ${l.self_pct.toFixed(1).padStart(5)}%  ${l.function}  ${l.where}`)
    .join("\n");
}
