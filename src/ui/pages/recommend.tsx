// Recommendation (admin): paste or upload a labelled spine (entity_id,event_timestamp,label) and see candidate features ranked by predictive power.
import { ApiError, ColumnHeads } from "../layout";
import type { Session } from "../session";

export interface Ranking {
  label: string;
  rows: number;
  binary: boolean;
  ranking: { feature: string; mutual_information: number; auc?: number | null; coverage: number; leakage: boolean; warnings: string[] }[];
}

/** One spine row: every CSV column (entity_id or join keys such as user_id, event_timestamp, the label, others). */
export type SpineRow = Record<string, string | number>;

/** Rows of spine a console request may carry: enough to rank on, small enough for one form post. */
export const MAX_SPINE_ROWS = 5_000;

/** CSV with a header naming event_timestamp, the label column and entity_id or a join key (…_id); numbers stay numbers. */
export function parseSpineCsv(text: string, labelColumn: string): { rows: SpineRow[] } | { error: string } {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length < 2) return { error: "the spine needs a header line and at least one row" };
  const header = lines[0]!.split(",").map((h) => h.trim());
  if (!header.includes("event_timestamp") || !header.includes(labelColumn) || !header.some((h) => h === "entity_id" || h.endsWith("_id")))
    return {
      error: `the header must name event_timestamp, ${labelColumn} and entity_id (or a join key such as user_id); it has ${header.join(", ")}`,
    };
  if (lines.length - 1 > MAX_SPINE_ROWS) return { error: `at most ${MAX_SPINE_ROWS} rows here; use npm run recommend for more` };
  const rows: SpineRow[] = [];
  for (const [n, line] of lines.slice(1).entries()) {
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length !== header.length) return { error: `row ${n + 2} has ${cells.length} values for ${header.length} columns` };
    const row: SpineRow = {};
    header.forEach((h, i) => {
      const cell = cells[i]!;
      row[h] = h === labelColumn && cell !== "" && Number.isFinite(Number(cell)) ? Number(cell) : cell;
    });
    if (row[labelColumn] === "" || row.event_timestamp === "") return { error: `row ${n + 2} misses its label or event_timestamp` };
    rows.push(row);
  }
  return { rows };
}

export function RecommendPage(props: {
  session: Session;
  spine: string;
  label: string;
  candidates: string;
  result?: { ok: true; body: Ranking } | { ok: false; status: number; message: string };
}) {
  const r = props.result;
  return (
    <>
      <h1>Feature recommendation</h1>
      <p>
        Paste a labelled spine (CSV with <code>entity_id,event_timestamp,label</code>, or join keys such as <code>user_id,track_id</code>)
        or upload one; the candidate features are joined point in time and ranked by mutual information with the label (and univariate AUC
        for a binary label). The same ranking: <code>npm run recommend -- --spine labels.csv</code>.
      </p>
      <form method="post" action="/ui/recommend" enctype="multipart/form-data">
        <input type="hidden" name="_csrf" value={props.session.csrf} />
        <label>
          Spine CSV
          <textarea name="spine" rows={8} class="code" placeholder={"entity_id,event_timestamp,label\nuser_1,2026-11-30T12:00:00Z,1"}>
            {props.spine}
          </textarea>
        </label>
        <div class="filters">
          <label>
            Or upload a CSV file
            <input type="file" name="file" accept=".csv,text/csv" />
          </label>
          <label>
            Label column
            <input name="label" value={props.label} maxlength={64} />
          </label>
          <label>
            Candidate groups (comma-separated, empty: all)
            <input name="candidates" value={props.candidates} maxlength={1000} />
          </label>
          <button type="submit">Rank features</button>
        </div>
      </form>
      {r && !r.ok && <ApiError what="Recommendation" status={r.status} message={r.message} />}
      {r?.ok && (
        <section aria-labelledby="rank-h">
          <h2 id="rank-h">{`Ranking for ${r.body.label} (${r.body.rows} rows, ${r.body.binary ? "binary" : "non-binary"} label)`}</h2>
          <div class="table-wrap">
            <table data-testid="ranking">
              <ColumnHeads names={["#", "Feature", "Mutual information", "AUC", "Coverage", "Warnings"]} />
              <tbody>
                {r.body.ranking.map((f, i) => (
                  <tr>
                    <td class="num">{i + 1}</td>
                    <td>
                      <a href={`/ui/features/${encodeURIComponent(f.feature)}`}>{f.feature}</a>
                    </td>
                    <td class="num">{f.mutual_information.toFixed(4)}</td>
                    <td class="num">{typeof f.auc === "number" ? f.auc.toFixed(3) : "—"}</td>
                    <td class="num">{`${(f.coverage * 100).toFixed(0)} %`}</td>
                    <td class={f.leakage ? "bad" : undefined}>
                      {[f.leakage ? "leakage: values after the label time" : "", ...f.warnings].filter(Boolean).join("; ")}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </>
  );
}
