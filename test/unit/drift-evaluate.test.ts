// npm run drift -- evaluate's claims: the targets hold on seeded scenarios, and the evaluation can fail (a blind detector would).
import { describe, expect, it } from "vitest";
import { DETECTION_TARGET, evaluateDrift, evaluateScenario, FALSE_POSITIVE_TARGET, SCENARIOS } from "../../tools/quality/drift-evaluate";

describe("drift detector accuracy", () => {
  it("detects ≥ 90 % of 0.25σ/0.5σ shifts and 10-point mix changes with ≤ 5 % false positives (another seed than README's)", () => {
    const e = evaluateDrift(60, 4242);
    expect(e.falsePositiveRate).toBeLessThanOrEqual(FALSE_POSITIVE_TARGET);
    expect(e.minTargetDetection).toBeGreaterThanOrEqual(DETECTION_TARGET);
    expect(e.meetsTargets).toBe(true);
    // Each targeted scenario is counted, and a 0.1σ shift is harder than 0.5σ (the detector is not flagging everything).
    const rate = (name: string) => e.results.find((r) => r.scenario === name)!.rate;
    expect(rate("mean shift 0.1σ")).toBeLessThan(rate("mean shift 0.5σ"));
  });

  it("a scenario that is not drift is not flagged as drift by construction", () => {
    const control = SCENARIOS.find((s) => !s.drift && s.type === "numerical")!;
    const r = evaluateScenario(control, 40, 99);
    expect(r.rate).toBeLessThan(0.2);
  });
});
