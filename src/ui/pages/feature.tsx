// Feature page: definition, validation rules, owner and tags, related features, versions with their field diffs, lineage SVG, quality charts.
import type { FeatureDefinition } from "../../core/definitions";
import type { FeatureChange } from "../../core/registry";
import { ApiError, ColumnHeads } from "../layout";
import { LineageGraph, LineChart } from "../svg";

export interface FeatureDescription {
  registry_version: string;
  qualified_name: string;
  definition: FeatureDefinition;
  lineage: { upstream: { tables: string[]; features: string[] }; downstream: string[] };
  feature_services: string[];
}

export interface VersionSummary {
  version_number: number;
  version: string;
  author: string;
  applied_at: string;
  diff: unknown;
}

export interface QualityPoint {
  computed_at: string;
  completeness: number;
  staleness_seconds: number | null;
  validation_error_rate: number;
  score: number;
  failing: string[];
  drift: { status: string; psi: number | null; test: string | null; statistic: number | null; p_value: number | null; reasons: string[] };
}

/** Related features listed before the rest fold away (a catalog feature can have twenty). */
const RELATED_SHOWN = 6;

function RelatedList(props: { items: RelatedFeature[] }) {
  return (
    <ul data-testid="related">
      {props.items.map((r) => (
        <li>
          <a href={`/ui/features/${encodeURIComponent(r.name)}`}>{r.name}</a> <span class="muted">{r.score.toFixed(2)}</span>
          <div class="muted">{r.reasons.join("; ")}</div>
        </li>
      ))}
    </ul>
  );
}

export interface RelatedFeature {
  name: string;
  score: number;
  reasons: string[];
}

export type Loaded<T> = { ok: true; body: T } | { ok: false; status: number; message: string };

/** This feature's change in one registry apply (created, updated with its fields, deleted), if it changed. */
export function changeOf(diff: unknown, feature: string): FeatureChange | undefined {
  const d = diff as { features?: unknown } | null;
  const features = (d && typeof d === "object" && "features" in d ? d.features : d) as Record<string, unknown> | null;
  if (!features || typeof features !== "object") return undefined;
  for (const kind of ["created", "updated", "deleted"] as const) {
    const list = features[kind];
    if (Array.isArray(list)) {
      const hit = (list as FeatureChange[]).find((c) => c?.name === feature);
      if (hit) return { ...hit, kind: hit.kind ?? kind };
    }
  }
  return undefined;
}

const show = (v: unknown) => (v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));

function rulesOf(d: FeatureDefinition): [string, string][] {
  const rules: [string, string][] = [];
  if (d.min_value !== undefined) rules.push(["min_value", String(d.min_value)]);
  if (d.max_value !== undefined) rules.push(["max_value", String(d.max_value)]);
  if (d.allowed_values) rules.push(["allowed_values", d.allowed_values.join(", ")]);
  rules.push(["null_policy", d.null_policy + (d.default_value !== undefined ? ` (default ${show(d.default_value)})` : "")]);
  rules.push(["ttl_seconds", String(d.ttl_seconds)]);
  if (d.dimension !== undefined) rules.push(["dimension", String(d.dimension)]);
  return rules;
}

export function FeaturePage(props: {
  desc: FeatureDescription;
  versions: Loaded<{ versions: VersionSummary[] }>;
  quality: Loaded<{ history: QualityPoint[]; latest: QualityPoint | null }>;
  related: Loaded<{ related: RelatedFeature[] }>;
}) {
  const { desc } = props;
  const d = desc.definition;
  const changes = props.versions.ok
    ? props.versions.body.versions.map((v) => ({ v, change: changeOf(v.diff, d.name) })).filter((x) => x.change !== undefined)
    : [];
  const history = props.quality.ok ? props.quality.body.history : [];
  const at = (p: QualityPoint) => Date.parse(p.computed_at);
  return (
    <>
      <h1>
        {d.name} <span class="muted">({desc.qualified_name})</span>
      </h1>
      <p>{d.description}</p>
      <div class="grid">
        <section class="card" aria-labelledby="def-h">
          <h2 id="def-h">Definition</h2>
          <dl class="props">
            <dt>Entity</dt>
            <dd>{d.entity_type}</dd>
            <dt>Type</dt>
            <dd>{d.feature_type + (d.item_type ? ` of ${d.item_type}` : "")}</dd>
            <dt>Computation</dt>
            <dd>{d.computation_type}</dd>
            <dt>Updated</dt>
            <dd>{d.update_frequency}</dd>
            <dt>Owner</dt>
            <dd>{d.owner}</dd>
            <dt>Tags</dt>
            <dd>
              {d.tags.length
                ? d.tags.map((t) => (
                    <a class="tag" href={`/ui?q=${encodeURIComponent(t)}`}>
                      {t}
                    </a>
                  ))
                : "—"}
            </dd>
            <dt>Feature services</dt>
            <dd>{desc.feature_services.join(", ") || "—"}</dd>
            <dt>Retention</dt>
            <dd>{d.retention_days} days</dd>
          </dl>
        </section>
        <section class="card" aria-labelledby="rules-h">
          <h2 id="rules-h">Validation rules</h2>
          <dl class="props">
            {rulesOf(d).map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </>
            ))}
          </dl>
        </section>
        <section class="card" aria-labelledby="related-h">
          <h2 id="related-h">Related features</h2>
          {props.related.ok ? (
            props.related.body.related.length ? (
              <>
                <RelatedList items={props.related.body.related.slice(0, RELATED_SHOWN)} />
                {props.related.body.related.length > RELATED_SHOWN && (
                  <details>
                    <summary>{`${props.related.body.related.length - RELATED_SHOWN} more`}</summary>
                    <RelatedList items={props.related.body.related.slice(RELATED_SHOWN)} />
                  </details>
                )}
              </>
            ) : (
              <p class="muted">No related features.</p>
            )
          ) : (
            <p class="muted">{`Not available (${props.related.status}): ${props.related.message}`}</p>
          )}
        </section>
      </div>
      {d.source_query && (
        <details>
          <summary>Source query</summary>
          <pre>{d.source_query}</pre>
        </details>
      )}
      {d.aggregation && (
        <details>
          <summary>Aggregation</summary>
          <pre>{JSON.stringify(d.aggregation, null, 2)}</pre>
        </details>
      )}
      <section aria-labelledby="lineage-h">
        <h2 id="lineage-h">Lineage</h2>
        <div class="table-wrap">
          <LineageGraph
            feature={d.name}
            tables={desc.lineage.upstream.tables}
            eventSources={d.aggregation ? [d.aggregation.source_event] : []}
            upstream={desc.lineage.upstream.features}
            downstream={desc.lineage.downstream}
          />
        </div>
      </section>
      <section aria-labelledby="quality-h">
        <h2 id="quality-h">Quality</h2>
        {props.quality.ok ? (
          history.length ? (
            <>
              <div class="grid">
                <LineChart
                  id="q-fresh"
                  title="Staleness (s)"
                  points={history.map((p) => ({ t: at(p), v: p.staleness_seconds }))}
                  format={(v) => v.toFixed(0)}
                />
                <LineChart id="q-complete" title="Completeness" points={history.map((p) => ({ t: at(p), v: p.completeness }))} />
                <LineChart
                  id="q-errors"
                  title="Validation error rate"
                  points={history.map((p) => ({ t: at(p), v: p.validation_error_rate }))}
                  format={(v) => v.toFixed(3)}
                />
                <LineChart
                  id="q-psi"
                  title="Drift: PSI"
                  points={history.map((p) => ({ t: at(p), v: p.drift.psi }))}
                  threshold={0.2}
                  format={(v) => v.toFixed(3)}
                />
                <LineChart
                  id="q-ks"
                  title="Drift: test statistic (KS / chi²)"
                  points={history.map((p) => ({ t: at(p), v: p.drift.statistic }))}
                  format={(v) => v.toFixed(3)}
                />
              </div>
              {props.quality.body.latest && (
                <p>
                  Latest drift verdict: <strong>{props.quality.body.latest.drift.status}</strong>
                  {props.quality.body.latest.drift.reasons.length ? ` — ${props.quality.body.latest.drift.reasons.join("; ")}` : ""}
                  {props.quality.body.latest.failing.length ? `; failing targets: ${props.quality.body.latest.failing.join(", ")}` : ""}
                </p>
              )}
            </>
          ) : (
            <p class="muted">No quality history yet (the ingest cron computes it every 15 minutes; npm run quality computes it now).</p>
          )
        ) : (
          <ApiError what="Quality" status={props.quality.status} message={props.quality.message} />
        )}
      </section>
      <section aria-labelledby="versions-h">
        <h2 id="versions-h">Versions</h2>
        {props.versions.ok ? (
          changes.length ? (
            changes.map(({ v, change }) => (
              <details open={v === changes[0]!.v}>
                <summary>
                  {`v${v.version_number} ${v.version} · ${change!.kind} · ${v.applied_at.slice(0, 19).replace("T", " ")} · ${v.author}`}
                  {change!.breaking ? " · breaking" : ""}
                </summary>
                {change!.changes.length ? (
                  <div class="table-wrap">
                    <table>
                      <ColumnHeads names={["Field", "From", "To", "Breaking"]} />
                      <tbody>
                        {change!.changes.map((fc) => (
                          <tr>
                            <td>
                              <code>{fc.field}</code>
                            </td>
                            <td>
                              <code>{show(fc.from)}</code>
                            </td>
                            <td>
                              <code>{show(fc.to)}</code>
                            </td>
                            <td>{fc.breaking ? `yes${fc.reason ? `: ${fc.reason}` : ""}` : "no"}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                ) : (
                  <p class="muted">No field changes recorded.</p>
                )}
              </details>
            ))
          ) : (
            <p class="muted">No change to this feature in the last applies.</p>
          )
        ) : (
          <ApiError what="Versions" status={props.versions.status} message={props.versions.message} />
        )}
      </section>
    </>
  );
}
