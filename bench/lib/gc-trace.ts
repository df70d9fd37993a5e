// V8 garbage-collection pauses on the workerd thread, from workerd's own `--trace-gc` lines.
//
// Miniflare passes MINIFLARE_WORKERD_V8_FLAGS to workerd; with --trace-gc every isolate prints one
// line per collection (kind, heap before/after, pause). workerd runs every Worker and the KV/DO
// simulators on one thread, so a pause in any isolate holds up every request in flight: this is
// how a bench run tells a runtime stall from a slow tier.
//
// The lines carry the isolate's own clock (ms since it started), not wall time, and workerd's
// stdout reaches us in buffered chunks. Each isolate's start is estimated as the earliest
// (received − isolate ms) over its lines; a pause is placed at start + isolate ms. The estimate is
// late by at most the shortest buffering delay seen, a few hundred ms at worst: good for windows
// of seconds (a scenario), not for matching single requests.

/** V8 flags the bench adds to workerd's (printing only; the collector itself is unchanged). */
export const GC_TRACE_FLAGS = ["--trace-gc"];

/** A pause at least this long is counted as a stall in the summary. */
export const GC_STALL_MS = 50;

export interface GcEvent {
  isolate: string;
  /** ms since the isolate started (V8's clock in the line). */
  isolateMs: number;
  kind: string;
  heapBeforeMb: number;
  heapAfterMb: number;
  pauseMs: number;
  /** Date.now() when the line arrived. */
  receivedAt: number;
}

// [6791:0x301dbf020000]     6316 ms: Mark-Compact 41.7 (49.0) -> 2.2 (27.8) MB, pooled: 21.2 MB, 96.22 / 0.00 ms (average mu = ...
const LINE =
  /\[\d+:(0x[0-9a-f]+)\]\s+(\d+(?:\.\d+)?) ms: ([A-Za-z][A-Za-z -]*?(?: \([a-z ]+\))?) (\d+(?:\.\d+)?) \(\d+(?:\.\d+)?\) -> (\d+(?:\.\d+)?) \(\d+(?:\.\d+)?\) MB,.*?(\d+(?:\.\d+)?) \/ \d+(?:\.\d+)? ms/;

/** One `--trace-gc` line, or undefined for any other log line. */
export function parseGcLine(message: string, receivedAt: number): GcEvent | undefined {
  const m = LINE.exec(message);
  if (!m) return undefined;
  return {
    isolate: m[1]!,
    isolateMs: Number(m[2]),
    kind: m[3]!,
    heapBeforeMb: Number(m[4]),
    heapAfterMb: Number(m[5]),
    pauseMs: Number(m[6]),
    receivedAt,
  };
}

export interface GcSummary {
  /** Collections in the window, all isolates. */
  collections: number;
  /** Of which full (mark-compact) collections. */
  mark_compacts: number;
  pause_total_ms: number;
  pause_max_ms: number;
  /** Kind and heap (MB before → after) of the longest pause. */
  longest: string | null;
  /** Pauses of GC_STALL_MS or more, and their summed length. */
  stalls: number;
  stall_total_ms: number;
  /** Share of the window the workerd thread spent in GC pauses. */
  paused_share: number;
  isolates: number;
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

export class GcTrace {
  private readonly events: GcEvent[] = [];

  /** Feed every worker log line; returns true when it was a GC line. */
  add(message: string, receivedAt = Date.now()): boolean {
    const e = parseGcLine(message, receivedAt);
    if (e) this.events.push(e);
    return e !== undefined;
  }

  get size(): number {
    return this.events.length;
  }

  /** Estimated wall time (Date.now() scale) of each event, from its isolate's start estimate. */
  private placed(): { e: GcEvent; at: number }[] {
    const start = new Map<string, number>();
    for (const e of this.events) start.set(e.isolate, Math.min(start.get(e.isolate) ?? Infinity, e.receivedAt - e.isolateMs));
    return this.events.map((e) => ({ e, at: start.get(e.isolate)! + e.isolateMs }));
  }

  /** Pauses whose estimated time falls in [fromMs, toMs] (Date.now() values). */
  summarize(fromMs: number, toMs: number): GcSummary {
    const inWindow = this.placed()
      .filter(({ at }) => at >= fromMs && at <= toMs)
      .map(({ e }) => e);
    let longest: GcEvent | undefined;
    let total = 0;
    let stallTotal = 0;
    let stalls = 0;
    for (const e of inWindow) {
      total += e.pauseMs;
      if (!longest || e.pauseMs > longest.pauseMs) longest = e;
      if (e.pauseMs >= GC_STALL_MS) {
        stalls++;
        stallTotal += e.pauseMs;
      }
    }
    return {
      collections: inWindow.length,
      mark_compacts: inWindow.filter((e) => e.kind.startsWith("Mark-Compact")).length,
      pause_total_ms: round(total, 1),
      pause_max_ms: round(longest?.pauseMs ?? 0, 1),
      longest: longest ? `${longest.kind} ${longest.heapBeforeMb} → ${longest.heapAfterMb} MB` : null,
      stalls,
      stall_total_ms: round(stallTotal, 1),
      paused_share: toMs > fromMs ? round(total / (toMs - fromMs), 4) : 0,
      isolates: new Set(inWindow.map((e) => e.isolate)).size,
    };
  }
}

/** MINIFLARE_WORKERD_V8_FLAGS with the trace flags added (the user's own flags are kept). */
export function withGcTraceFlags(existing: string | undefined): string {
  const flags = (existing ?? "").split(" ").filter(Boolean);
  for (const f of GC_TRACE_FLAGS) if (!flags.includes(f)) flags.push(f);
  return flags.join(" ");
}
