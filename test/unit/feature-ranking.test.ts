// Feature-ranking maths against values computed by hand (comments show the arithmetic).
import { describe, expect, it } from "vitest";
import { auc, binOf, entropy, MISSING_CELL, midranks, mutualInformation, quantileBins, quantileCuts } from "../../src/core/feature-ranking";

describe("midranks", () => {
  it("ranks ascending from 1 and gives tied values the mean of the ranks they span", () => {
    // 1 -> 1, 2 -> 2, the two 3s share ranks 3 and 4 -> 3.5.
    expect(midranks([3, 1, 3, 2])).toEqual([3.5, 1, 3.5, 2]);
    expect(midranks([7, 7, 7])).toEqual([2, 2, 2]);
    expect(midranks([])).toEqual([]);
  });
});

describe("auc (Mann-Whitney)", () => {
  it("is the share of (positive, negative) pairs the positive wins", () => {
    // Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 0.35 beats 0.1, 0.8 beats both: 3 of 4 pairs.
    expect(auc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBeCloseTo(0.75, 12);
    // Reversed labels: 1 - 0.75.
    expect(auc([0.1, 0.4, 0.35, 0.8], [true, true, false, false])).toBeCloseTo(0.25, 12);
  });

  it("counts a tie as one half", () => {
    // Positive 2 against negatives 1 and 2: one win, one tie -> 1.5 / 2.
    expect(auc([1, 2, 2], [false, false, true])).toBeCloseTo(0.75, 12);
    // Every score tied: 0.5 whatever the labels.
    expect(auc([5, 5, 5, 5], [true, false, false, true])).toBeCloseTo(0.5, 12);
    // Positives {1, 2} vs negatives {1, 2}: tie .5 + loss 0 + win 1 + tie .5 = 2 of 4.
    expect(auc([1, 1, 2, 2], [false, true, false, true])).toBeCloseTo(0.5, 12);
  });

  it("is null without both classes", () => {
    expect(auc([1, 2], [true, true])).toBeNull();
    expect(auc([], [])).toBeNull();
  });
});

describe("quantile bins", () => {
  it("cuts at the values of ranks n*k/bins", () => {
    // 1..10 in 4 bins: ranks floor(2.5)=2, 5, floor(7.5)=7 of the sorted values -> 3, 6, 8.
    const cuts = quantileCuts([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 4);
    expect(cuts).toEqual([3, 6, 8]);
    expect([1, 2, 3, 5, 6, 8, 10].map((v) => binOf(v, cuts))).toEqual([0, 0, 1, 1, 2, 3, 3]);
  });

  it("keeps each level of a feature with few distinct values, and one bin for a constant", () => {
    expect(quantileCuts([0, 0, 0, 1], 2)).toEqual([1]);
    expect(quantileCuts([5, 5, 5, 5], 4)).toEqual([]);
    // Heavy ties never straddle a cut: 0 x 6 then 1..4 in 3 bins; cuts at ranks 3 (0, dropped) and 6 (1).
    expect(quantileCuts([0, 0, 0, 0, 0, 0, 1, 2, 3, 4], 3)).toEqual([1]);
  });

  it("labels numbers by bin and nulls as missing", () => {
    expect(quantileBins([1, null, 2, 3, 4], 2)).toEqual(["b0", MISSING_CELL, "b0", "b1", "b1"]);
  });
});

describe("entropy and mutual information (bits, plug-in)", () => {
  it("entropy of empirical distributions", () => {
    expect(entropy(["a", "a", "b", "b"])).toBeCloseTo(1, 12);
    // -(3/4) log2(3/4) - (1/4) log2(1/4) = 0.311278 + 0.5
    expect(entropy(["a", "a", "a", "b"])).toBeCloseTo(0.811278, 6);
    expect(entropy(["a"])).toBe(0);
  });

  it("is H(Y) for a copy, 0 for independent columns", () => {
    expect(mutualInformation(["a", "a", "b", "b"], ["1", "1", "0", "0"])).toBeCloseTo(1, 12);
    expect(mutualInformation(["a", "a", "b", "b"], ["c", "d", "c", "d"])).toBe(0);
    expect(mutualInformation([], [])).toBe(0);
  });

  it("matches the hand-computed value of a partial dependence", () => {
    // Joint (a,1)=2, (a,0)=1, (b,0)=1 of 4; p(a)=3/4, p(1)=p(0)=1/2:
    // 1/2 log2(4/3) + 1/4 log2(2/3) + 1/4 log2(2) = 0.207519 - 0.146241 + 0.25 = 0.311278
    // (= H(Y) - H(Y|X) = 1 - 3/4 * H(2/3, 1/3)).
    expect(mutualInformation(["a", "a", "a", "b"], ["1", "1", "0", "0"])).toBeCloseTo(0.311278, 6);
  });

  it("refuses columns of different lengths", () => {
    expect(() => mutualInformation(["a"], [])).toThrow(/columns/);
  });
});
