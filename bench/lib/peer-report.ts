// The side-by-side comparison's plan, ratios (ours / peer, per round and cell), target rows and Markdown.
import type { CellMeasure } from "./peer-load";
import type { TargetCheck } from "./report";

export type PeerServer = "ours" | "peer";

export interface PeerCell {
  entities: number;
  features: number;
  concurrency: number;
}

export interface PlannedRun {
  round: number;
  cell: PeerCell;
  server: PeerServer;
}

/**
 * Every cell runs on both servers in every round, back to back; which server goes first alternates
 * from cell to cell and from round to round, so a drift of the machine (or of the peer) within a
 * round does not always fall on the same server.
 */
export function peerPlan(cells: readonly PeerCell[], rounds: number): PlannedRun[] {
  const out: PlannedRun[] = [];
  for (let round = 1; round <= rounds; round++)
    cells.forEach((cell, i) => {
      const first: PeerServer = (round + i) % 2 === 1 ? "peer" : "ours";
      const second: PeerServer = first === "peer" ? "ours" : "peer";
      out.push({ round, cell, server: first }, { round, cell, server: second });
    });
  return out;
}

export function shapeLabel(c: Pick<PeerCell, "entities" | "features">): string {
  return `${c.entities}×${c.features}`;
}

export interface PeerRunResult extends PlannedRun, CellMeasure {
  /** Ours only: share of served values per tier over the run (from feature_tier_hits_total). */
  tiers?: Record<string, number>;
}

export interface PeerRatio {
  round: number;
  shape: string;
  concurrency: number;
  /** ours / peer: above 1 means ours served more. */
  rps: number | null;
  /** ours / peer: below 1 means ours was faster. */
  p50: number | null;
  p99: number | null;
}

/** Targets of issue 18: ours/peer ≤ 0.5 for p50 and p99, ≥ 2 for rps. */
export const PEER_TARGET = { latencyRatio: 0.5, rpsRatio: 2 } as const;

export interface PeerCheck {
  /** Both servers answered the same 3-user request with the same columns and rows. */
  same_shape: boolean;
  /** Ours answered the values loaded (every one compared). */
  ours_values_match: boolean;
  peer_non_null_fraction: number;
  notes: string[];
}

export interface PeerComparison {
  peer_url: string;
  users: number;
  features: number;
  duration_s: number;
  warmup_s: number;
  rounds: number;
  /** Where ours read from, and why that is fair. */
  ours_tiers: string;
  /** workerd processes serving ours on one port (--ours-processes). */
  ours_processes: number;
  load_s: Record<string, number>;
  check: PeerCheck;
  runs: PeerRunResult[];
  ratios: PeerRatio[];
}

const ratioOf = (a: number | null | undefined, b: number | null | undefined, digits = 2): number | null => {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  const f = 10 ** digits;
  return Math.round((a / b) * f) / f;
};

/** ours / peer for every (round, cell) where both ran. */
export function peerRatios(runs: readonly PeerRunResult[]): PeerRatio[] {
  const out: PeerRatio[] = [];
  for (const ours of runs) {
    if (ours.server !== "ours") continue;
    const peer = runs.find(
      (r) =>
        r.server === "peer" &&
        r.round === ours.round &&
        r.cell.entities === ours.cell.entities &&
        r.cell.features === ours.cell.features &&
        r.cell.concurrency === ours.cell.concurrency,
    );
    if (!peer) continue;
    out.push({
      round: ours.round,
      shape: shapeLabel(ours.cell),
      concurrency: ours.cell.concurrency,
      rps: ratioOf(ours.rps, peer.rps),
      p50: ratioOf(ours.p50_ms, peer.p50_ms),
      p99: ratioOf(ours.p99_ms, peer.p99_ms),
    });
  }
  return out;
}

const fmt = (n: number | null | undefined, digits = 2) => (n === null || n === undefined ? "–" : n.toFixed(digits));

/** One target row per shape: every concurrency and round must meet all three ratios. */
export function peerTargets(cmp: Pick<PeerComparison, "ratios" | "runs">): TargetCheck[] {
  const shapes = [...new Set(cmp.ratios.map((r) => r.shape))];
  return shapes.map((shape) => {
    const rows = cmp.ratios.filter((r) => r.shape === shape);
    const concurrencies = [...new Set(rows.map((r) => r.concurrency))].sort((a, b) => a - b);
    const target = `vs peer ${shape} (C = ${concurrencies.join(", ")}): ours/peer p50 and p99 ≤ ${PEER_TARGET.latencyRatio}, rps ≥ ${PEER_TARGET.rpsRatio}`;
    const errors = cmp.runs.filter((r) => shapeLabel(r.cell) === shape).reduce((sum, r) => sum + r.errors, 0);
    const complete = rows.every((r) => r.rps !== null && r.p50 !== null && r.p99 !== null);
    if (!rows.length || !complete) return { target, measured: "not measured (a run failed)", met: null };
    const worst = {
      p50: Math.max(...rows.map((r) => r.p50!)),
      p99: Math.max(...rows.map((r) => r.p99!)),
      rps: Math.min(...rows.map((r) => r.rps!)),
    };
    const byC = concurrencies
      .map((c) => {
        const rs = rows.filter((r) => r.concurrency === c);
        return `C=${c}: rps ${rs.map((r) => fmt(r.rps)).join(" / ")}, p50 ${rs.map((r) => fmt(r.p50)).join(" / ")}, p99 ${rs.map((r) => fmt(r.p99)).join(" / ")}`;
      })
      .join("; ");
    return {
      target,
      measured: `worst p50 ${fmt(worst.p50)}, p99 ${fmt(worst.p99)}, rps ${fmt(worst.rps)} (${byC}; rounds r1 / r2)${errors ? `; ${errors} errors` : ""}`,
      met:
        worst.p50 <= PEER_TARGET.latencyRatio && worst.p99 <= PEER_TARGET.latencyRatio && worst.rps >= PEER_TARGET.rpsRatio && errors === 0,
    };
  });
}

/** Cores of the server's own processes in a run: ours is workerd (`ours`, `ours1`…), the peer every --peer-pid. */
function serverCores(r: PeerRunResult): number | undefined {
  if (!r.cpu) return undefined;
  const mine = Object.entries(r.cpu).filter(([k]) =>
    r.server === "ours" ? /^ours\d*$/.test(k) : !/^ours\d*$/.test(k) && k !== "client" && k !== "machine" && k !== "other",
  );
  return mine.length ? mine.reduce((sum, [, v]) => sum + v, 0) : undefined;
}

/**
 * CPU milliseconds the server spent per answered request (its cores × 1000 / rps): on a machine whose
 * cores are all busy, this, not latency, says which server does more work per request.
 */
export function cpuMsPerRequest(r: PeerRunResult): number | null {
  const cores = serverCores(r);
  if (cores === undefined || !r.rps) return null;
  return Math.round((cores * 1000 * 100) / r.rps) / 100;
}

function cpuCell(r: PeerRunResult): string {
  if (!r.cpu) return "";
  return Object.entries(r.cpu)
    .filter(([k]) => k !== "machine")
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(", ");
}

/** The comparison's section of the Markdown report. */
export function renderPeerMarkdown(cmp: PeerComparison): string {
  const lines: string[] = [];
  const cells = [...new Map(cmp.runs.map((r) => [`${shapeLabel(r.cell)}|${r.cell.concurrency}`, r.cell])).values()];
  const rounds = [...new Set(cmp.runs.map((r) => r.round))].sort();
  lines.push(
    // Bold, not a ### heading: README's generated part ends at its first ### (bench/lib/readme.ts).
    `**Against the peer (${cmp.peer_url})**`,
    "",
    `${cmp.users.toLocaleString("en-US")} users × ${cmp.features} features, uniform random users, ${cmp.duration_s} s measured per cell after ${cmp.warmup_s} s of warm-up, ` +
      `${cmp.rounds} interleaved rounds (the server that goes first alternates per cell and round), the same client and the same bodies for both. ` +
      `Ours: ${cmp.ours_tiers}; ${(cmp.ours_processes ?? 1) === 1 ? "one workerd process" : `${cmp.ours_processes} workerd processes on one port (--ours-processes, SO_REUSEPORT), each with its own L0 and KV`}. Check: same shape ${cmp.check.same_shape ? "yes" : "**no**"}, our values as loaded ${cmp.check.ours_values_match ? "yes" : "**no**"}, ` +
      `peer non-null ${fmt(cmp.check.peer_non_null_fraction, 3)}${cmp.check.notes.length ? ` (${cmp.check.notes.join("; ")})` : ""}.`,
    "",
    "| shape | C | ours/peer rps | ours/peer p50 | ours/peer p99 |",
    "|---|---:|---:|---:|---:|",
  );
  for (const c of cells) {
    const rs = rounds.map((round) =>
      cmp.ratios.find((r) => r.round === round && r.shape === shapeLabel(c) && r.concurrency === c.concurrency),
    );
    const col = (k: "rps" | "p50" | "p99") => rs.map((r) => fmt(r?.[k])).join(" / ");
    lines.push(`| ${shapeLabel(c)} | ${c.concurrency} | ${col("rps")} | ${col("p50")} | ${col("p99")} |`);
  }
  lines.push(
    "",
    "Each cell reads round 1 / round 2. rps above 1 means ours served more; p50 and p99 below 1 mean ours was faster.",
    "",
    "| round | shape | C | server | rps | p50 ms | p95 ms | p99 ms | max ms | errors | non-null | bytes/response | CPU cores | server CPU ms/request | ours served by |",
    "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
  );
  for (const r of cmp.runs) {
    const tiers = r.tiers
      ? Object.entries(r.tiers)
          .filter(([, v]) => v >= 0.001)
          .map(([t, v]) => `${t} ${(v * 100).toFixed(1)}%`)
          .join(", ")
      : "";
    lines.push(
      `| ${r.round} | ${shapeLabel(r.cell)} | ${r.cell.concurrency} | ${r.server} | ${fmt(r.rps, r.rps >= 100 ? 0 : 1)} | ${fmt(r.p50_ms)} | ${fmt(r.p95_ms)} | ${fmt(r.p99_ms)} | ${fmt(r.max_ms, 0)} | ${r.errors} | ${fmt(r.non_null_fraction, 3)} | ${r.response_bytes ?? "–"} | ${cpuCell(r)} | ${fmt(cpuMsPerRequest(r))} | ${tiers} |`,
    );
  }
  lines.push(
    "",
    '"CPU cores" is cores used during the measured window: `ours` is workerd (every Worker and the KV simulator), `client` the bench process (the load generator), ' +
      "each `--peer-pid NAME` that process with its children, `other` the rest of the machine. " +
      '"server CPU ms/request" is the server\'s cores (ours: workerd; the peer: every --peer-pid) × 1000 / rps.',
  );
  return `${lines.join("\n")}\n`;
}
