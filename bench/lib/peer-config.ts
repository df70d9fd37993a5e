// The side-by-side comparison's settings (`--peer URL` and friends): parsed and checked here, so a
// mistake in the command line is a usage message before anything starts.
import { UsageError } from "../../tools/cli";
import type { BenchMode } from "./config";

/** The shapes of the comparison: entities per request × features (the rig's load.py `-e 1,100`, 50 features). */
export const PEER_SHAPES = [
  { entities: 1, features: 50 },
  { entities: 100, features: 50 },
] as const;
export const PEER_CONCURRENCIES = [1, 8] as const;
/** Two interleaved rounds, as the issue's reference run (the peer drifted 11–22% between them). */
export const PEER_ROUNDS = 2;
/** Measured seconds per cell: the rig's reference run used 20; --quick is a smoke test. */
export const PEER_DURATION_S = { full: 20, quick: 3 } as const;
/** Unmeasured seconds at the start of every run (connections, JIT), as load.py's 2 s warm-up. */
export const PEER_WARMUP_S = { full: 2, quick: 1 } as const;
/** Users loaded into ours and drawn from (the rig holds 100,000; --quick loads and draws from fewer). */
export const PEER_USERS = { full: 100_000, quick: 10_000 } as const;
/** Most accepted --ours-processes: the machines here have two cores, a few more is for bigger ones. */
export const MAX_OURS_PROCESSES = 8;
/** Longest accepted --peer-duration: 4 cells × 2 servers × 2 rounds of it must stay a bench, not a soak. */
const MAX_DURATION_S = 600;

export interface PeerPid {
  name: string;
  pid: number;
}

export interface PeerOptions {
  url: string;
  /** Sent as `authorization: Bearer …` to the peer only (ours gets the bench's own key). */
  bearer?: string;
  durationS: number;
  warmupS: number;
  users: number;
  /** Processes of the peer whose CPU (with their children) is recorded per run. */
  pids: PeerPid[];
  /** workerd processes serving ours on one port (--ours-processes; default 1), as the peer's own worker processes. */
  oursProcesses: number;
}

export interface PeerArgs {
  peer?: string;
  "peer-duration"?: string;
  "peer-pid"?: string[];
  "peer-bearer"?: string;
  "ours-processes"?: string;
}

/** `NAME=PID`, as load.py's --watch-pid. */
export function parsePeerPid(raw: string): PeerPid {
  const m = /^([A-Za-z][\w.-]*)=(\d+)$/.exec(raw.trim());
  if (!m) throw new UsageError(`--peer-pid takes NAME=PID (e.g. feast=$(cat run/feast-serve.pid)), got "${raw}"`);
  const pid = Number(m[2]);
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new UsageError(`--peer-pid ${raw}: not a process id`);
  return { name: m[1]!, pid };
}

/**
 * The comparison's options, or undefined when `--peer` is absent. Peer-only options without `--peer`,
 * a URL that is not http(s) or a duration that is not a positive number of seconds are usage errors.
 */
export function parsePeerOptions(args: PeerArgs, mode: BenchMode): PeerOptions | undefined {
  if (args.peer === undefined) {
    const stray = (["peer-duration", "peer-pid", "peer-bearer", "ours-processes"] as const).filter((k) => args[k] !== undefined);
    if (stray.length) throw new UsageError(`${stray.map((k) => `--${k}`).join(", ")} need --peer URL`);
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(args.peer);
  } catch {
    throw new UsageError(`--peer takes the base URL of a server speaking Feast's POST /get-online-features, got "${args.peer}"`);
  }
  if (url.protocol !== "http:")
    throw new UsageError(`--peer ${args.peer}: only http:// URLs are supported (the load generator is node:http)`);
  if (url.pathname !== "/" || url.search) throw new UsageError(`--peer ${args.peer}: give the base URL; the path is /get-online-features`);
  let durationS: number = PEER_DURATION_S[mode];
  if (args["peer-duration"] !== undefined) {
    durationS = Number(args["peer-duration"].replace(/s$/, ""));
    if (!Number.isFinite(durationS) || durationS <= 0 || durationS > MAX_DURATION_S)
      throw new UsageError(`--peer-duration takes seconds per cell (0 < s ≤ ${MAX_DURATION_S}), got "${args["peer-duration"]}"`);
  }
  let oursProcesses = 1;
  if (args["ours-processes"] !== undefined) {
    oursProcesses = Number(args["ours-processes"]);
    if (!Number.isSafeInteger(oursProcesses) || oursProcesses < 1 || oursProcesses > MAX_OURS_PROCESSES)
      throw new UsageError(
        `--ours-processes takes a whole number of workerd processes, 1 to ${MAX_OURS_PROCESSES}, got "${args["ours-processes"]}"`,
      );
  }
  const pids = (args["peer-pid"] ?? []).map(parsePeerPid);
  const names = new Set<string>();
  for (const p of pids) {
    if (names.has(p.name)) throw new UsageError(`--peer-pid ${p.name} given twice`);
    names.add(p.name);
  }
  return {
    url: url.origin,
    ...(args["peer-bearer"] ? { bearer: args["peer-bearer"] } : {}),
    durationS,
    warmupS: PEER_WARMUP_S[mode],
    users: PEER_USERS[mode],
    pids,
    oursProcesses,
  };
}

/** `--only` selects nothing but the comparison: the bench's own data need not be loaded. */
export function onlyPeer(only: ReadonlySet<string> | undefined): boolean {
  return only !== undefined && only.size > 0 && [...only].every((n) => n === "peer");
}
