// --update-readme rewrites the Performance section's generated part only: the hand-written
// subsections under it and every other section stay as they are.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { updateReadme } from "../../bench/lib/readme";
import type { BenchReport } from "../../bench/lib/report";

const report = {
  started_at: "2026-12-02T12:00:00.000Z",
  duration_s: 600,
  config: { entities: { total: 1_000_000 }, features_per_vector: 50 },
  scenarios: [],
} as unknown as BenchReport;

/** A README.md with `text` in a scratch directory, updated with `table`: its new text. */
function updated(text: string, table: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), "readme-")), "README.md");
  writeFileSync(file, text);
  updateReadme(file, report, table);
  return readFileSync(file, "utf8");
}

describe("updateReadme", () => {
  it("replaces the generated table and keeps the ### subsections and the next section", () => {
    const text = updated("# X\n\n## Performance\n\nold table\n\n### Against Feast\n\nanalysis\n\n## Next\n\nkept\n", "| new | table |");
    expect(text).toContain("| new | table |");
    expect(text).not.toContain("old table");
    expect(text).toContain("### Against Feast\n\nanalysis\n\n## Next\n\nkept\n");
    expect(text.indexOf("| new | table |")).toBeLessThan(text.indexOf("### Against Feast"));
  });

  it("replaces up to the next section when there is no subsection", () => {
    const text = updated("# X\n\n## Performance\n\nold\n\n## Next\n\nkept\n", "T");
    expect(text).not.toContain("old");
    expect(text.endsWith("\n## Next\n\nkept\n")).toBe(true);
  });

  it("gives the same text when run twice with the same report (nothing of the first run left behind)", () => {
    const table = "| t |\n\n**Against the peer (http://x)**\n\n| peer |";
    const once = updated("# X\n\n## Performance\n\nold\n\n### Against Feast\n\nanalysis\n\n## Next\n", table);
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "readme-")), "README.md");
    writeFileSync(file, once);
    updateReadme(file, report, table);
    expect(readFileSync(file, "utf8")).toBe(once);
  });

  it("refuses a table holding a ### heading, which would end the generated part on the next update", () => {
    expect(() => updated("# X\n\n## Performance\n\nold\n", "| t |\n\n### Against the peer\n")).toThrow(/###/);
  });
});
