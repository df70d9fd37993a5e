// Entity lookup: one entity's every stored feature with value, status, event time, age and serving tier; the Feast request and curl to copy.
import type { FeatureMetadata } from "../../core/feature-request";
import { ApiError, ColumnHeads } from "../layout";

export interface LookupResult {
  entityType: string;
  bypass: boolean;
  /** `error`: this feature could not be served (e.g. null_policy reject without a value). */
  features: { name: string; value: unknown; meta: FeatureMetadata | undefined; error?: string }[];
  feastRequest: unknown;
  curl: string;
}

const age = (ms: number | null | undefined) =>
  ms === null || ms === undefined
    ? "—"
    : ms < 60_000
      ? `${(ms / 1000).toFixed(1)} s`
      : ms < 3_600_000
        ? `${(ms / 60_000).toFixed(1)} min`
        : `${(ms / 3_600_000).toFixed(1)} h`;

const shown = (v: unknown) => (v === null || v === undefined ? "null" : typeof v === "string" ? v : JSON.stringify(v));

export function EntityPage(props: {
  entityId: string;
  entityTypes: string[];
  entityType: string;
  bypass: boolean;
  result?: LookupResult;
  error?: { status: number; message: string };
}) {
  const r = props.result;
  return (
    <>
      <h1>Entity lookup</h1>
      <form class="filters" method="get" action="/ui/entities">
        <label>
          Entity id
          <input name="entity_id" value={props.entityId} required maxlength={256} placeholder="user_1" />
        </label>
        <label>
          Entity type
          <select name="entity_type">
            <option value="">from the id's prefix</option>
            {props.entityTypes.map((t) => (
              <option value={t} selected={t === props.entityType}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          <input type="checkbox" name="bypass" value="1" checked={props.bypass} />
          Bypass caches (skip memory and KV)
        </label>
        <button type="submit">Look up</button>
      </form>
      {props.error && <ApiError what="Lookup" status={props.error.status} message={props.error.message} />}
      {r && (
        <>
          <h2>
            {r.entityType} {props.entityId}
            {r.bypass ? " (caches bypassed)" : ""}
          </h2>
          <div class="table-wrap">
            <table data-testid="entity-values">
              <ColumnHeads names={["Feature", "Value", "Status", "Event time", "Age", "Tier"]} />
              <tbody>
                {r.features.map((f) => (
                  <tr>
                    <td>
                      <a href={`/ui/features/${encodeURIComponent(f.name)}`}>{f.name}</a>
                    </td>
                    <td>
                      <code>{shown(f.value).slice(0, 200)}</code>
                    </td>
                    <td class={f.error ? "status-ERROR" : `status-${f.meta?.status ?? "none"}`}>
                      {f.error ? `REFUSED: ${f.error}` : (f.meta?.status ?? "—")}
                    </td>
                    <td>{f.meta?.event_timestamp ?? "—"}</td>
                    <td class="num">{age(f.meta?.age_ms)}</td>
                    <td data-tier={f.meta?.tier ?? ""}>{f.meta?.tier ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>The same lookup</h2>
          <label>
            Feast request (POST /get-online-features)
            <textarea class="code" readonly rows={6}>
              {JSON.stringify(r.feastRequest, null, 2)}
            </textarea>
          </label>
          <label>
            curl (with your key in $FEATURE_STORE_API_KEY)
            <textarea class="code" readonly rows={4} data-testid="curl">
              {r.curl}
            </textarea>
          </label>
        </>
      )}
    </>
  );
}
