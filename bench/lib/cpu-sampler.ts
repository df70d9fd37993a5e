// Samples CPU use on the machine while a scenario runs: ours (the bench process tree, Postgres, Redis)
// versus everything else, so a result taken while another job hogged the cores can be recognized.
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";

/** Sampling period; /proc is read for every process, so not much faster than this. */
const SAMPLE_MS = 500;
/** Processes that serve the bench even though they are not its children. */
const SERVING_COMMANDS = new Set(["postgres", "redis-server"]);

export interface ProcSample {
  ppid: number;
  comm: string;
  ticks: number;
}

/** Every process's parent, command and CPU ticks (user + system) from /proc. */
export function readProcs(): Map<number, ProcSample> {
  const out = new Map<number, ProcSample>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      // fields[0] = state, [1] = ppid, [11] = utime, [12] = stime (man 5 proc, minus pid and comm).
      out.set(Number(entry), { ppid: Number(fields[1]), comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // The process exited between readdir and read: it simply is not in this sample.
    }
  }
  return out;
}

function isOurs(pid: number, procs: Map<number, ProcSample>, root: number): boolean {
  for (let p: number | undefined = pid, hops = 0; p && hops < 64; hops++) {
    if (p === root) return true;
    const s = procs.get(p);
    if (!s) return false;
    if (SERVING_COMMANDS.has(s.comm)) return true;
    p = s.ppid;
  }
  return false;
}

export interface CpuUse {
  /** Cores' worth of CPU used by the bench, its Workers, Postgres and Redis (2.0 = both of two cores). */
  bench_cores: number;
  /** Cores' worth used by every other process on the machine. */
  other_cores: number;
  cores: number;
  /**
   * The bench's share by command: `workerd` runs every Worker and the local KV, Durable Object and
   * Queue simulators on one JavaScript thread, so near 1.0 it is the bottleneck whatever our code does.
   */
  by_command?: Record<string, number>;
  /** Cores' worth of CPU the hypervisor gave to other guests while we wanted it (/proc/stat steal). */
  steal_cores?: number;
}

/** Total steal ticks of all CPUs (the 8th value of /proc/stat's "cpu" line), or undefined off Linux. */
function stealTicks(): number | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const v = Number(line.trim().split(/\s+/)[8]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export class CpuSampler {
  private timer: ReturnType<typeof setInterval> | undefined;
  private last = readProcs();
  private lastAt = Date.now();
  private benchTicks = 0;
  private otherTicks = 0;
  private byCommand = new Map<string, number>();
  private stealAtStart: number | undefined;
  private elapsedMs = 0;
  private readonly available = process.platform === "linux";

  start(): void {
    if (!this.available) return;
    this.last = readProcs();
    this.lastAt = Date.now();
    this.benchTicks = this.otherTicks = this.elapsedMs = 0;
    this.byCommand.clear();
    this.stealAtStart = stealTicks();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): CpuUse | undefined {
    if (!this.timer) return undefined;
    clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    // USER_HZ is 100 on every Linux this runs on.
    const seconds = this.elapsedMs / 1000;
    if (seconds <= 0) return undefined;
    const round = (n: number) => Math.round(n * 100) / 100;
    const byCommand = Object.fromEntries(
      [...this.byCommand].filter(([, ticks]) => ticks / 100 / seconds >= 0.01).map(([comm, ticks]) => [comm, round(ticks / 100 / seconds)]),
    );
    return {
      bench_cores: round(this.benchTicks / 100 / seconds),
      other_cores: round(this.otherTicks / 100 / seconds),
      cores: os.cpus().length,
      by_command: byCommand,
      ...(this.stealAtStart !== undefined && stealTicks() !== undefined
        ? { steal_cores: round((stealTicks()! - this.stealAtStart) / 100 / seconds) }
        : {}),
    };
  }

  private sample(): void {
    const now = readProcs();
    const at = Date.now();
    for (const [pid, s] of now) {
      const before = this.last.get(pid);
      // New since the last sample, or a reused pid / exec: its earlier CPU is not this window's.
      if (!before || before.comm !== s.comm) continue;
      const delta = s.ticks - before.ticks;
      if (delta <= 0) continue;
      if (isOurs(pid, now, process.pid)) {
        this.benchTicks += delta;
        this.byCommand.set(s.comm, (this.byCommand.get(s.comm) ?? 0) + delta);
      } else this.otherTicks += delta;
    }
    this.elapsedMs += at - this.lastAt;
    this.last = now;
    this.lastAt = at;
  }
}
