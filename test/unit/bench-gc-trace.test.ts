// The bench's GC diagnosis: workerd's --trace-gc lines (parsing, wall clock, windows) and the
// promoted-allocation summary of --heap-profile.
import { describe, expect, it } from "vitest";
import { GcTrace, parseGcLine, withGcTraceFlags } from "../../bench/lib/gc-trace";
import { type HeapNode, summarizeHeapProfile } from "../../bench/lib/profiler";

// Lines as workerd 1.2026 prints them (taken from a bench worker log).
const MARK =
  "[6791:0x301dbf020000]     6316 ms: Mark-Compact 41.7 (49.0) -> 2.2 (27.8) MB, pooled: 21.2 MB, 96.22 / 0.00 ms (average mu = 0.985, current mu = 0.985) allocation failure; GC in old space requested";
const SCAVENGE =
  "[6791:0x301dbfc9e000]    20097 ms: Scavenge 19.5 (23.2) -> 13.5 (23.7) MB, pooled: 0.0 MB, 1.86 / 0.00 ms (average mu = 1.000, current mu = 1.000) allocation failure;";
const line = (isolate: string, ms: number, kind: string, pause: number) =>
  `[1:${isolate}]  ${ms} ms: ${kind} 30.0 (40.0) -> 10.0 (40.0) MB, pooled: 0.0 MB, ${pause} / 0.00 ms (average mu = 0.9, current mu = 0.9) allocation failure;`;

describe("parseGcLine", () => {
  it("reads isolate, isolate time, kind, heap and pause", () => {
    expect(parseGcLine(MARK, 1000)).toEqual({
      isolate: "0x301dbf020000",
      isolateMs: 6316,
      kind: "Mark-Compact",
      heapBeforeMb: 41.7,
      heapAfterMb: 2.2,
      pauseMs: 96.22,
      receivedAt: 1000,
    });
    expect(parseGcLine(SCAVENGE, 0)).toMatchObject({ kind: "Scavenge", pauseMs: 1.86, heapAfterMb: 13.5 });
    expect(parseGcLine(line("0xab", 5, "Mark-Compact (reduce)", 3.5), 0)).toMatchObject({ kind: "Mark-Compact (reduce)", pauseMs: 3.5 });
  });

  it("ignores every other log line", () => {
    expect(parseGcLine("feature-serving: GET /features/get 200", 0)).toBeUndefined();
    expect(parseGcLine("kv write-back failed: 12 ms: timeout", 0)).toBeUndefined();
  });
});

describe("GcTrace", () => {
  it("places each isolate's pauses from its earliest-arriving line and summarizes a window", () => {
    const t = new GcTrace();
    // Isolate A started at wall 10_000: its first line arrived at once, the later ones 300 ms late (buffered).
    t.add(line("0xa", 1_000, "Scavenge", 2), 11_000);
    t.add(line("0xa", 5_000, "Mark-Compact", 120), 15_300);
    t.add(line("0xa", 9_000, "Mark-Compact", 60), 19_300);
    // Isolate B started at wall 12_000.
    t.add(line("0xb", 2_000, "Scavenge", 40), 14_000);
    expect(t.add("not a gc line", 0)).toBe(false);
    expect(t.size).toBe(4);

    // [14_000, 16_000]: A's 120 ms mark-compact (at 15_000) and B's scavenge (at 14_000).
    const w = t.summarize(14_000, 16_000);
    expect(w).toMatchObject({
      collections: 2,
      mark_compacts: 1,
      pause_total_ms: 160,
      pause_max_ms: 120,
      stalls: 1,
      stall_total_ms: 120,
      isolates: 2,
    });
    expect(w.longest).toBe("Mark-Compact 30 → 10 MB");
    expect(w.paused_share).toBeCloseTo(0.08, 4);

    // The 60 ms pause at A's 9_000 ms is wall 19_000, outside an earlier window.
    expect(t.summarize(16_001, 18_999).collections).toBe(0);
    expect(t.summarize(18_000, 20_000)).toMatchObject({ collections: 1, stalls: 1, pause_max_ms: 60 });
  });
});

describe("withGcTraceFlags", () => {
  it("adds --trace-gc once and keeps the user's flags", () => {
    expect(withGcTraceFlags(undefined)).toBe("--trace-gc");
    expect(withGcTraceFlags("--max-old-space-size=512")).toBe("--max-old-space-size=512 --trace-gc");
    expect(withGcTraceFlags("--trace-gc")).toBe("--trace-gc");
  });
});

describe("summarizeHeapProfile", () => {
  it("adds sampled bytes by allocating function and its two callers, largest first", () => {
    const node = (functionName: string, selfSize: number, children: HeapNode[] = [], url = "index.js", lineNumber = 9): HeapNode => ({
      callFrame: { functionName, url: `file:///x/${url}`, lineNumber },
      selfSize,
      children,
    });
    const profile = {
      head: node("(root)", 0, [
        node("serve", 100, [node("assemble", 3_000_000), node("read", 0, [node("setMany", 1_000_000)])]),
        node("(V8 API)", 500_000, [], ""),
      ]),
    };
    const lines = summarizeHeapProfile(profile, 3);
    expect(lines).toEqual([
      { stack: "assemble index.js:10 < serve index.js:10 < (root) index.js:10", mb: 3, pct: 66.67 },
      { stack: "setMany index.js:10 < read index.js:10 < serve index.js:10", mb: 1, pct: 22.22 },
      { stack: "(V8 API) < (root) index.js:10", mb: 0.5, pct: 11.11 },
    ]);
  });
});
