// npm run recommend's table: one line per feature in the API's order, with MI, AUC, coverage, leakage and warnings.
import { describe, expect, it } from "vitest";
import { formatRanking } from "../../scripts/recommend";

describe("formatRanking", () => {
  it("prints the ranking in order with aligned numbers, '-' for a missing AUC and LEAK for leakage", () => {
    const text = formatRanking({
      registry_version: "r1",
      label: "will_skip",
      rows: 4,
      binary: true,
      positive_label: 1,
      label_entropy: 1,
      estimators: {},
      ranking: [
        { feature: "g:a", mutual_information: 0.5, auc: 0.91, auc_direction: "higher", coverage: 1, leakage: false, warnings: [] },
        { feature: "g:leaky", mutual_information: 0.25, coverage: 0.5, leakage: true, warnings: ["leakage: x"] },
      ],
      skipped: [{ feature: "g:emb", reason: "embedding" }],
    });
    const lines = text.split("\n");
    expect(lines[0]).toBe("label will_skip: 4 rows, binary (positive 1), H(label) = 1.000 bits");
    expect(lines[2]).toMatch(/^#\s+feature\s+MI \(bits\)\s+AUC\s+coverage\s+leakage\s+warnings$/);
    expect(lines[3]).toMatch(/^1\s+g:a\s+0\.5000\s+0\.910\s+100%$/);
    expect(lines[4]).toMatch(/^2\s+g:leaky\s+0\.2500\s+-\s+50%\s+LEAK\s+leakage: x$/);
    expect(lines.at(-1)).toBe("skipped g:emb: embedding");
  });
});
