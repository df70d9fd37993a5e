// Operations: dead letters with a replay button (admin), materialization runs, stream lateness drops and backfills, tier health.
import { ApiError, ColumnHeads } from "../layout";
import type { Session } from "../session";

export interface DeadLetterRow {
  id: number;
  created_at: string;
  source: string;
  attempts: number;
  entity: string;
  reasons: { feature: string; rule: string; message: string }[];
  replayed_at: string | null;
}

export interface RunRow {
  id: number;
  feature: string;
  status: string;
  trigger: string;
  rows_read: number;
  rows_written: number;
  rejects: number;
  started_at: string;
  duration_ms: number | null;
  error: string | null;
}

export interface HealthReport {
  status: string;
  tiers?: Record<string, { status: string; latency_ms?: number; detail?: string; error?: string }>;
  [k: string]: unknown;
}

type Loaded<T> = { ok: true; body: T } | { ok: false; status: number; message: string };

const when = (iso: string | null) => (iso ? iso.slice(0, 19).replace("T", " ") : "—");

function Health(props: { title: string; report: Loaded<HealthReport> }) {
  if (!props.report.ok) return <ApiError what={props.title} status={props.report.status} message={props.report.message} />;
  const r = props.report.body;
  const tiers = Object.entries(r.tiers ?? {});
  return (
    <section class="card" aria-label={props.title}>
      <h3>
        {props.title}: <span class={r.status === "ok" ? "ok" : r.status === "down" ? "bad" : "warn"}>{r.status}</span>
      </h3>
      <table>
        <ColumnHeads names={["Tier", "Status", "Detail"]} />
        <tbody>
          {tiers.map(([name, t]) => (
            <tr>
              <td>{name}</td>
              <td class={t.status === "ok" ? "ok" : "bad"}>{t.status}</td>
              <td>{[t.latency_ms !== undefined ? `${t.latency_ms} ms` : "", t.detail ?? t.error ?? ""].filter(Boolean).join(" · ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function OperationsPage(props: {
  session: Session;
  flash?: string;
  deadLetters?: Loaded<{ dead_letters: DeadLetterRow[] }>;
  runs?: Loaded<{ runs: RunRow[] }>;
  lateness?: { reason: string; count: number }[];
  serving: Loaded<HealthReport>;
  ingest: Loaded<HealthReport>;
}) {
  const { session } = props;
  return (
    <>
      <h1>Operations</h1>
      {props.flash && (
        <p class="notice" role="status" data-testid="flash">
          {props.flash}
        </p>
      )}
      <h2>Tier health</h2>
      <div class="grid">
        <Health title="feature-serving" report={props.serving} />
        <Health title="feature-ingest" report={props.ingest} />
      </div>
      {!session.admin && (
        <p class="notice" data-testid="admin-only">
          Dead letters, replays and materialization runs need an admin key; this key has {[...session.scopes].join(" + ")}.
        </p>
      )}
      {props.deadLetters && (
        <section aria-labelledby="dl-h">
          <h2 id="dl-h">Dead letters</h2>
          {props.deadLetters.ok ? (
            props.deadLetters.body.dead_letters.length ? (
              <div class="table-wrap">
                <table data-testid="dead-letters">
                  <ColumnHeads names={["Id", "When", "Source", "Entity", "Reasons", "Replayed", "Action"]} />
                  <tbody>
                    {props.deadLetters.body.dead_letters.map((d) => (
                      <tr>
                        <td class="num">{d.id}</td>
                        <td>{when(d.created_at)}</td>
                        <td>{d.source}</td>
                        <td>{d.entity}</td>
                        <td>
                          {d.reasons.map((r) => (
                            <div>{r.feature === "*" ? r.message : `${r.feature}: ${r.rule} — ${r.message}`}</div>
                          ))}
                        </td>
                        <td>{when(d.replayed_at)}</td>
                        <td>
                          <form method="post" action="/ui/operations/replay">
                            <input type="hidden" name="_csrf" value={session.csrf} />
                            <input type="hidden" name="id" value={String(d.id)} />
                            <button type="submit" aria-label={`Replay dead letter ${d.id}`}>
                              Replay
                            </button>
                          </form>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <p class="muted">No dead letters.</p>
            )
          ) : (
            <ApiError what="Dead letters" status={props.deadLetters.status} message={props.deadLetters.message} />
          )}
        </section>
      )}
      {props.runs && (
        <section aria-labelledby="runs-h">
          <h2 id="runs-h">Materialization runs and backfills</h2>
          {props.runs.ok ? (
            <div class="table-wrap">
              <table data-testid="runs">
                <ColumnHeads names={["Id", "Feature", "Status", "Trigger", "Rows read / written / rejected", "Started", "Duration"]} />
                <tbody>
                  {props.runs.body.runs.map((r) => (
                    <tr>
                      <td class="num">{r.id}</td>
                      <td>{r.feature}</td>
                      <td class={r.status === "succeeded" ? "ok" : r.status === "failed" ? "bad" : "warn"} title={r.error ?? undefined}>
                        {r.status}
                      </td>
                      <td>{r.trigger}</td>
                      <td class="num">{`${r.rows_read} / ${r.rows_written} / ${r.rejects}`}</td>
                      <td>{when(r.started_at)}</td>
                      <td class="num">{r.duration_ms === null ? "running" : `${(r.duration_ms / 1000).toFixed(1)} s`}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <ApiError what="Runs" status={props.runs.status} message={props.runs.message} />
          )}
        </section>
      )}
      {props.lateness && (
        <section aria-labelledby="late-h">
          <h2 id="late-h">Stream lateness drops</h2>
          {props.lateness.length ? (
            <table data-testid="lateness">
              <ColumnHeads names={["Reason", "Events refused since start"]} />
              <tbody>
                {props.lateness.map((l) => (
                  <tr>
                    <td>{l.reason}</td>
                    <td class="num">{l.count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="muted">No late events refused.</p>
          )}
        </section>
      )}
    </>
  );
}
