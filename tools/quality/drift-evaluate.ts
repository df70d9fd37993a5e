// Measured accuracy of the drift detector: seeded scenarios on demo catalog features, the detector's verdicts, a confusion table.

import type { FeatureType } from "../../src/core/definitions";
import { binOf, quantileEdges } from "../../src/core/drift";
import { detectDrift, type Histogram, thresholdsOf } from "../../src/core/drift-detector";
import { mulberry32 } from "../../src/core/random";
import { NUMERIC_BINS } from "../../src/monitoring/histogram-fold";

export interface Scenario {
  name: string;
  /** The demo catalog feature whose kind of values it draws. */
  feature: string;
  type: FeatureType;
  /** Controls count towards the false-positive rate; the others towards detection. */
  drift: boolean;
  /** Scenarios held to the ≥ 90 % detection target. */
  target: boolean;
  reference: (rand: () => number) => unknown;
  current: (rand: () => number) => unknown;
}

/** Values per window (a day of one feature's updates in the demo catalog is a few thousand). */
export const WINDOW_VALUES = 2_000;
export const DETECTION_TARGET = 0.9;
export const FALSE_POSITIVE_TARGET = 0.05;

const normal = (rand: () => number) => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
/** listening_hours_weekly: around 12 h a week, σ 4 h. */
const MEAN = 12;
const SD = 4;
const hours =
  (shiftSd = 0, scale = 1, nullShare = 0.02) =>
  (rand: () => number) =>
    rand() < nullShare ? null : MEAN + SD * (shiftSd + scale * normal(rand));

/** subscription_type's mix. */
const MIX: Record<string, number> = { free: 0.55, premium: 0.25, family: 0.1, student: 0.07, duo: 0.03 };
const pick = (mix: Record<string, number>) => (rand: () => number) => {
  let u = rand();
  for (const [k, p] of Object.entries(mix)) {
    if (u < p) return k;
    u -= p;
  }
  return Object.keys(mix).at(-1)!;
};
/** favorite_genres: 1–3 genres drawn from a mix. */
const GENRES: Record<string, number> = { pop: 0.3, rock: 0.2, hip_hop: 0.2, electronic: 0.15, jazz: 0.1, classical: 0.05 };
const genres = (mix: Record<string, number>) => (rand: () => number) =>
  Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(mix)(rand));

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "no drift (numerical)",
    feature: "listening_hours_weekly",
    type: "numerical",
    drift: false,
    target: false,
    reference: hours(),
    current: hours(),
  },
  {
    name: "no drift (categorical)",
    feature: "subscription_type",
    type: "categorical",
    drift: false,
    target: false,
    reference: pick(MIX),
    current: pick(MIX),
  },
  {
    name: "no drift (array)",
    feature: "favorite_genres",
    type: "array",
    drift: false,
    target: false,
    reference: genres(GENRES),
    current: genres(GENRES),
  },
  {
    name: "mean shift 0.1σ",
    feature: "listening_hours_weekly",
    type: "numerical",
    drift: true,
    target: false,
    reference: hours(),
    current: hours(0.1),
  },
  {
    name: "mean shift 0.25σ",
    feature: "listening_hours_weekly",
    type: "numerical",
    drift: true,
    target: true,
    reference: hours(),
    current: hours(0.25),
  },
  {
    name: "mean shift 0.5σ",
    feature: "listening_hours_weekly",
    type: "numerical",
    drift: true,
    target: true,
    reference: hours(),
    current: hours(0.5),
  },
  {
    name: "variance ×1.5",
    feature: "listening_hours_weekly",
    type: "numerical",
    drift: true,
    target: false,
    reference: hours(),
    current: hours(0, 1.5),
  },
  {
    name: "category mix −10 points",
    feature: "subscription_type",
    type: "categorical",
    drift: true,
    target: true,
    reference: pick(MIX),
    current: pick({ ...MIX, free: 0.45, premium: 0.35 }),
  },
  {
    name: "genre mix −10 points (array)",
    feature: "favorite_genres",
    type: "array",
    drift: true,
    target: true,
    reference: genres(GENRES),
    current: genres({ ...GENRES, pop: 0.2, jazz: 0.2 }),
  },
  {
    name: "new category 5 %",
    feature: "subscription_type",
    type: "categorical",
    drift: true,
    target: false,
    reference: pick(MIX),
    current: pick({ ...MIX, free: 0.5, enterprise: 0.05 }),
  },
  {
    name: "nulls 2 % → 6 %",
    feature: "listening_hours_weekly",
    type: "numerical",
    drift: true,
    target: false,
    reference: hours(),
    current: hours(0, 1, 0.06),
  },
];

export interface ScenarioResult {
  scenario: string;
  feature: string;
  drift: boolean;
  target: boolean;
  trials: number;
  flagged: number;
  rate: number;
  meanPsi: number;
}

/** Bins a window the way the quality job does: numerical by edges fixed from the reference, others by value. */
function histogram(type: FeatureType, values: readonly unknown[], edges: readonly number[]): Histogram {
  const bins: Record<string, number> = {};
  let nulls = 0;
  const add = (k: string) => {
    bins[k] = (bins[k] ?? 0) + 1;
  };
  for (const v of values) {
    if (v === null) nulls++;
    else if (type === "numerical") add(String(binOf(v as number, edges)));
    else if (type === "array") for (const e of v as string[]) add(e);
    else add(String(v));
  }
  return { bins, nulls };
}

export function evaluateScenario(s: Scenario, trials: number, seed: number): ScenarioResult {
  const t = thresholdsOf(undefined);
  let flagged = 0;
  let psiSum = 0;
  for (let i = 0; i < trials; i++) {
    const rand = mulberry32(seed + i * 7919);
    const ref = Array.from({ length: WINDOW_VALUES }, () => s.reference(rand));
    const cur = Array.from({ length: WINDOW_VALUES }, () => s.current(rand));
    const edges =
      s.type === "numerical"
        ? quantileEdges(
            ref.filter((v): v is number => typeof v === "number"),
            NUMERIC_BINS,
          )
        : [];
    const r = detectDrift(s.type, histogram(s.type, ref, edges), histogram(s.type, cur, edges), t);
    if (r.status === "drift") flagged++;
    psiSum += r.psi ?? 0;
  }
  return {
    scenario: s.name,
    feature: s.feature,
    drift: s.drift,
    target: s.target,
    trials,
    flagged,
    rate: flagged / trials,
    meanPsi: psiSum / trials,
  };
}

export interface Evaluation {
  results: ScenarioResult[];
  falsePositiveRate: number;
  /** Lowest detection rate among the targeted scenarios. */
  minTargetDetection: number;
  meetsTargets: boolean;
}

export function evaluateDrift(trials = 200, seed = 20261202): Evaluation {
  const results = SCENARIOS.map((s, i) => evaluateScenario(s, trials, seed + i * 1_000_003));
  const controls = results.filter((r) => !r.drift);
  const falsePositiveRate = controls.reduce((a, r) => a + r.flagged, 0) / controls.reduce((a, r) => a + r.trials, 0);
  const minTargetDetection = Math.min(...results.filter((r) => r.target).map((r) => r.rate));
  return {
    results,
    falsePositiveRate,
    minTargetDetection,
    meetsTargets: falsePositiveRate <= FALSE_POSITIVE_TARGET && minTargetDetection >= DETECTION_TARGET,
  };
}

/** The Markdown table README shows. */
export function confusionTable(e: Evaluation): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const lines = [
    "| scenario | feature | drift? | trials | flagged as drift | rate | mean PSI | target |",
    "|---|---|---|---:|---:|---:|---:|---|",
    ...e.results.map(
      (r) =>
        `| ${r.scenario} | ${r.feature} | ${r.drift ? "yes" : "no (control)"} | ${r.trials} | ${r.flagged} | ${pct(r.rate)} | ${r.meanPsi.toFixed(3)} | ${
          r.drift ? (r.target ? `detection ≥ ${pct(DETECTION_TARGET)}` : "reported") : `false positives ≤ ${pct(FALSE_POSITIVE_TARGET)}`
        } |`,
    ),
    "",
    `False-positive rate on the controls: ${pct(e.falsePositiveRate)}; lowest detection on the targeted scenarios: ${pct(e.minTargetDetection)}; targets ${e.meetsTargets ? "met" : "NOT met"}.`,
  ];
  return lines.join("\n");
}
