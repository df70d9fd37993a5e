// The pure parts of `npm run bench -- --peer URL`: option parsing, the peer registry and data, the
// interleaved plan, the ours/peer ratios, target rows and the answer check.
import { describe, expect, it } from "vitest";
import { benchRegistry } from "../../bench/lib/dataset";
import { onlyPeer, PEER_DURATION_S, parsePeerOptions, parsePeerPid } from "../../bench/lib/peer-config";
import {
  PEER_GROUP,
  peerBodyBuilder,
  peerFeatureRefs,
  peerKvRow,
  peerValue,
  peerValueSql,
  withPeerGroup,
} from "../../bench/lib/peer-dataset";
import { countValues } from "../../bench/lib/peer-load";
import {
  cpuMsPerRequest,
  type PeerCell,
  type PeerRunResult,
  peerPlan,
  peerRatios,
  peerTargets,
  renderPeerMarkdown,
} from "../../bench/lib/peer-report";
import { comparePeerAnswers } from "../../bench/scenarios/peer";
import { mulberry32 } from "../../src/core/random";
import { CompiledRegistry } from "../../src/core/registry";
import { UsageError } from "../../tools/cli";
import { withPgClient } from "../../tools/postgres";

describe("parsePeerOptions", () => {
  it("is off without --peer, and refuses peer options without it", () => {
    expect(parsePeerOptions({}, "full")).toBeUndefined();
    expect(() => parsePeerOptions({ "peer-duration": "5" }, "full")).toThrow(/need --peer URL/);
    expect(() => parsePeerOptions({ "peer-pid": ["feast=1"] }, "full")).toThrow(UsageError);
  });

  it("takes the base URL, the duration per cell and named pids", () => {
    expect(parsePeerOptions({ peer: "http://127.0.0.1:6566" }, "full")).toEqual({
      url: "http://127.0.0.1:6566",
      durationS: PEER_DURATION_S.full,
      warmupS: 2,
      users: 100_000,
      pids: [],
      oursProcesses: 1,
    });
    const quick = parsePeerOptions(
      { peer: "http://127.0.0.1:6566/", "peer-duration": "7.5s", "peer-pid": ["feast=12", "redis=34"] },
      "quick",
    )!;
    expect(quick).toMatchObject({
      durationS: 7.5,
      users: 10_000,
      pids: [
        { name: "feast", pid: 12 },
        { name: "redis", pid: 34 },
      ],
    });
    expect(parsePeerOptions({ peer: "http://h:1", "peer-bearer": "k" }, "full")!.bearer).toBe("k");
    expect(parsePeerOptions({ peer: "http://h:1", "ours-processes": "2" }, "full")!.oursProcesses).toBe(2);
  });

  it.each([
    [{ peer: "not a url" }, /base URL/],
    [{ peer: "https://127.0.0.1:6566" }, /only http/],
    [{ peer: "http://127.0.0.1:6566/get-online-features" }, /base URL/],
    [{ peer: "http://h:1", "peer-duration": "0" }, /seconds per cell/],
    [{ peer: "http://h:1", "peer-duration": "abc" }, /seconds per cell/],
    [{ peer: "http://h:1", "peer-duration": "601" }, /seconds per cell/],
    [{ peer: "http://h:1", "peer-pid": ["feast=1", "feast=2"] }, /given twice/],
    [{ peer: "http://h:1", "ours-processes": "0" }, /1 to 8/],
    [{ peer: "http://h:1", "ours-processes": "1.5" }, /1 to 8/],
    [{ "ours-processes": "2" }, /need --peer URL/],
  ])("refuses %j", (args, message) => {
    expect(() => parsePeerOptions(args, "full")).toThrow(message);
  });

  it("reads NAME=PID as load.py's --watch-pid", () => {
    expect(parsePeerPid(" gunicorn=4242 ")).toEqual({ name: "gunicorn", pid: 4242 });
    for (const bad of ["feast", "=12", "feast=", "feast=-1", "feast=0", "feast=1x"]) expect(() => parsePeerPid(bad)).toThrow(UsageError);
  });

  it("knows a run that selects only the comparison", () => {
    expect(onlyPeer(new Set(["peer"]))).toBe(true);
    expect(onlyPeer(new Set(["peer", "batch-100"]))).toBe(false);
    expect(onlyPeer(undefined)).toBe(false);
    expect(onlyPeer(new Set())).toBe(false);
  });
});

describe("the peer data", () => {
  it("adds group user_features (f0..f49 of user, join key user_id) to the bench registry", () => {
    const base = benchRegistry(50);
    const reg = withPeerGroup(base);
    expect(reg.version).not.toBe(base.version);
    expect(reg.features.length).toBe(base.features.length + 50);
    const compiled = new CompiledRegistry(reg);
    for (const ref of peerFeatureRefs()) {
      const def = compiled.resolve(ref);
      expect(def, ref).toMatchObject({ group: PEER_GROUP, entity_type: "user", feature_type: "numerical" });
    }
    expect(reg.entities.find((e) => e.name === "user")?.join_key).toBe("user_id");
  });

  it("has float32 values in [0, 1), exact in a double, and KV rows of them", () => {
    for (const [i, f] of [
      [0, 0],
      [1, 49],
      [99_999, 17],
    ] as const) {
      const v = peerValue(i, f);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      expect(Math.fround(v)).toBe(v);
    }
    expect(peerValue(5, 3)).not.toBe(peerValue(5, 4));
    const [key, json] = peerKvRow(7, 1_000_000_000);
    expect(key).toBe("row:user:user_7");
    const row = JSON.parse(json) as Record<string, [number, number]>;
    expect(Object.keys(row)).toHaveLength(50);
    expect(row.f3).toEqual([1_000_000_000 - 7_000, peerValue(7, 3)]);
  });

  it("builds load.py's body byte for byte, from a seeded PRNG (same seed, same bodies)", () => {
    const build = peerBodyBuilder(100_000, 2);
    const a = build(mulberry32(1), 3);
    expect(a).toMatch(
      /^\{"features":\["user_features:f0","user_features:f1"\],"entities":\{"user_id":\["user_\d+","user_\d+","user_\d+"\]\}\}$/,
    );
    expect(build(mulberry32(1), 3)).toBe(a);
    expect(build(mulberry32(2), 3)).not.toBe(a);
    const ids = (JSON.parse(peerBodyBuilder(10)(mulberry32(3), 200)) as { entities: { user_id: string[] } }).entities.user_id;
    expect(new Set(ids).size).toBe(10);
  });

  it("computes the same values in Postgres as in JavaScript", async () => {
    const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
    const rows = await withPgClient(url, async (c) => {
      await c.query("set extra_float_digits = 1");
      return (
        await c.query<{ i: number; f: number; v: unknown }>(
          `select i, f, ${peerValueSql("i", "f")} as v from (values (0, 0), (1, 49), (99999, 17), (12345, 3)) t(i, f)`,
        )
      ).rows;
    });
    for (const r of rows) expect(r.v, `${r.i}/${r.f}`).toBe(peerValue(r.i, r.f));
  });
});

const cells: PeerCell[] = [
  { entities: 1, features: 50, concurrency: 1 },
  { entities: 1, features: 50, concurrency: 8 },
];

function run(round: number, cell: PeerCell, server: "ours" | "peer", rps: number, p50: number, p99: number, errors = 0): PeerRunResult {
  return {
    round,
    cell,
    server,
    requests: 100,
    errors,
    error_samples: [],
    rps,
    p50_ms: p50,
    p95_ms: p99,
    p99_ms: p99,
    max_ms: p99,
    response_bytes: 5400,
    non_null_fraction: 1,
    values_checked: 50,
  };
}

describe("the comparison's plan and report", () => {
  it("runs every cell on both servers in every round, alternating which goes first", () => {
    const plan = peerPlan(cells, 2);
    expect(plan.map((p) => `${p.round}:${p.cell.concurrency}:${p.server}`)).toEqual([
      "1:1:peer",
      "1:1:ours",
      "1:8:ours",
      "1:8:peer",
      "2:1:ours",
      "2:1:peer",
      "2:8:peer",
      "2:8:ours",
    ]);
  });

  it("divides ours by the peer's within the same round and cell", () => {
    const runs = [
      run(1, cells[0]!, "peer", 700, 1.2, 2),
      run(1, cells[0]!, "ours", 1400, 0.6, 1),
      run(2, cells[0]!, "ours", 1000, 0.9, 1.5),
      run(2, cells[0]!, "peer", 500, 1, 3),
    ];
    expect(peerRatios(runs)).toEqual([
      { round: 1, shape: "1×50", concurrency: 1, rps: 2, p50: 0.5, p99: 0.5 },
      { round: 2, shape: "1×50", concurrency: 1, rps: 2, p50: 0.9, p99: 0.5 },
    ]);
  });

  it("meets a shape's target only when every round and concurrency does, with no errors", () => {
    const good = [
      run(1, cells[0]!, "peer", 700, 1.2, 2),
      run(1, cells[0]!, "ours", 1400, 0.6, 1),
      run(1, cells[1]!, "peer", 1500, 5, 12),
      run(1, cells[1]!, "ours", 3100, 2.4, 5),
    ];
    const [t] = peerTargets({ runs: good, ratios: peerRatios(good) });
    expect(t).toMatchObject({ met: true });
    expect(t!.target).toContain("1×50 (C = 1, 8)");
    expect(t!.measured).toContain("worst p50 0.50, p99 0.50, rps 2.00");

    const slowTail = good.map((r) => (r.server === "ours" && r.cell.concurrency === 8 ? { ...r, p99_ms: 6.1 } : r));
    expect(peerTargets({ runs: slowTail, ratios: peerRatios(slowTail) })[0]).toMatchObject({ met: false });
    const withErrors = good.map((r, k) => (k === 1 ? { ...r, errors: 2 } : r));
    expect(peerTargets({ runs: withErrors, ratios: peerRatios(withErrors) })[0]!.met).toBe(false);
    const failed = good.map((r, k) => (k === 1 ? { ...r, p50_ms: null } : r));
    expect(peerTargets({ runs: failed, ratios: peerRatios(failed) })[0]!.met).toBeNull();
  });

  it("renders the ratio table (round 1 / round 2) and every run", () => {
    const runs = [
      run(1, cells[0]!, "peer", 700, 1.2, 2),
      run(1, cells[0]!, "ours", 1400, 0.6, 1),
      run(2, cells[0]!, "ours", 1000, 0.9, 1.5),
      run(2, cells[0]!, "peer", 500, 1, 3),
    ];
    const md = renderPeerMarkdown({
      peer_url: "http://127.0.0.1:6566",
      users: 100_000,
      features: 50,
      duration_s: 20,
      warmup_s: 2,
      rounds: 2,
      ours_tiers: "KV",
      ours_processes: 1,
      load_s: {},
      check: { same_shape: true, ours_values_match: true, peer_non_null_fraction: 1, notes: [] },
      runs,
      ratios: peerRatios(runs),
    });
    expect(md).toContain("| 1×50 | 1 | 2.00 / 2.00 | 0.50 / 0.90 | 0.50 / 0.50 |");
    expect(md.match(/^\| [12] \| 1×50 \| 1 \| (ours|peer) \|/gm)).toHaveLength(4);
  });

  it("gives the CPU each server spent per request from its own processes only", () => {
    const cpu = { ours: 0.5, client: 0.2, feast: 0.9, redis: 0.1, machine: 2, other: 0.3 };
    expect(cpuMsPerRequest({ ...run(1, cells[0]!, "ours", 250, 1, 2), cpu })).toBe(2);
    expect(cpuMsPerRequest({ ...run(1, cells[0]!, "peer", 500, 1, 2), cpu })).toBe(2);
    expect(cpuMsPerRequest(run(1, cells[0]!, "peer", 500, 1, 2))).toBeNull();
  });
});

describe("the answer check", () => {
  const ids = ["user_0", "user_1"];
  const column = (values: unknown[]) => ({ values, statuses: values.map(() => "PRESENT") });
  const ours = {
    metadata: { feature_names: ["user_id", "f0", "f1"] },
    results: [column(ids), column([peerValue(0, 0), peerValue(1, 0)]), column([peerValue(0, 1), peerValue(1, 1)])],
  };
  // Feast orders its columns its own way: compared by name.
  const peer = { metadata: { feature_names: ["user_id", "f1", "f0"] }, results: [column(ids), column([0.1, 0.2]), column([0.3, null])] };

  it("accepts the same columns in another order, and counts the peer's nulls", () => {
    expect(comparePeerAnswers(ours, peer, ids)).toEqual({
      same_shape: true,
      ours_values_match: true,
      peer_non_null_fraction: 0.75,
      notes: [],
    });
  });

  it("refuses other columns, missing rows and values that are not the loaded ones", () => {
    expect(comparePeerAnswers(ours, { ...peer, metadata: { feature_names: ["user_id", "f1", "f2"] } }, ids).same_shape).toBe(false);
    expect(comparePeerAnswers(ours, { ...peer, results: [column(ids), column([0.1]), column([0.3, 0.4])] }, ids).same_shape).toBe(false);
    const wrong = { ...ours, results: [ours.results[0]!, column([peerValue(0, 0), 0.5]), ours.results[2]!] };
    const c = comparePeerAnswers(wrong, peer, ids);
    expect(c.ours_values_match).toBe(false);
    expect(c.notes[0]).toContain("user_1 f0 = 0.5");
  });

  it("counts values and nulls of a Feast-shaped answer without the entity column", () => {
    expect(countValues(JSON.stringify(peer), new Set(["user_id"]))).toEqual({ values: 4, nonNull: 3 });
    expect(countValues("not json", new Set())).toBeUndefined();
  });
});
