// CPU of named process trees over a measured window (the peer's gunicorn master and its workers, its
// Redis, our workerd, the load generator), as the rig's load.py --watch-pid reports it.
import { readFileSync } from "node:fs";
import { readProcs } from "./cpu-sampler";

/** USER_HZ: 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

export interface WatchedProcess {
  name: string;
  pid: number;
  /** Count the process's descendants too (gunicorn's workers are children of the pid in the rig's pid file). */
  tree: boolean;
}

/** Cores' worth of CPU per watched name, plus the machine's and everything else's. */
export type CpuByName = Record<string, number>;

function ticksOf(watch: readonly WatchedProcess[]): Record<string, number> {
  const procs = readProcs();
  const out: Record<string, number> = {};
  for (const w of watch) {
    let sum = 0;
    for (const [pid, p] of procs) {
      if (pid === w.pid) sum += p.ticks;
      else if (w.tree) {
        for (let q = p.ppid, hops = 0; q > 1 && hops < 64; hops++) {
          if (q === w.pid) {
            sum += p.ticks;
            break;
          }
          q = procs.get(q)?.ppid ?? 0;
        }
      }
    }
    out[w.name] = sum;
  }
  return out;
}

/** Busy ticks of all CPUs (user … steal of /proc/stat's "cpu" line, without idle and iowait). */
function machineBusyTicks(): number | undefined {
  try {
    const v = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + v[7]!;
  } catch {
    return undefined;
  }
}

/** The pids of processes named `comm` below `root` (our workerd under the bench process). */
export function descendantsNamed(root: number, comm: string): number[] {
  const procs = readProcs();
  const out: number[] = [];
  for (const [pid, p] of procs) {
    if (p.comm !== comm) continue;
    for (let q = p.ppid, hops = 0; q > 1 && hops < 64; hops++) {
      if (q === root) {
        out.push(pid);
        break;
      }
      q = procs.get(q)?.ppid ?? 0;
    }
  }
  return out;
}

/** Snapshot now; the returned function gives the cores used per name since, plus `machine` and `other`. */
export function startCpuWindow(watch: readonly WatchedProcess[]): () => CpuByName | undefined {
  if (process.platform !== "linux") return () => undefined;
  const t0 = process.hrtime.bigint();
  const before = ticksOf(watch);
  const busy0 = machineBusyTicks();
  return () => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (seconds <= 0) return undefined;
    const after = ticksOf(watch);
    const busy1 = machineBusyTicks();
    const round = (n: number) => Math.round(n * 100) / 100;
    const out: CpuByName = {};
    let named = 0;
    for (const w of watch) {
      const cores = Math.max(0, (after[w.name]! - before[w.name]!) / TICKS_PER_SECOND / seconds);
      out[w.name] = round(cores);
      named += cores;
    }
    if (busy0 !== undefined && busy1 !== undefined) {
      const machine = (busy1 - busy0) / TICKS_PER_SECOND / seconds;
      out.machine = round(machine);
      out.other = round(Math.max(0, machine - named));
    }
    return out;
  };
}
