// Feast's /get-online-features: column-oriented request and response, mapped onto our row-oriented requests.

import type { EntityTypeName } from "../core/definitions";
import { FeatureStoreError } from "../core/errors";
import type {
  FeastOnlineRequest,
  FeastOnlineResponse,
  FeatureErrorResult,
  FeatureRequest,
  FeatureResponse,
  FeatureStatus,
} from "../core/feature-request";
import type { CompiledRegistry } from "../core/registry";

/** Feast reports entity key columns with this timestamp. */
const EPOCH = new Date(0).toISOString();

export function feastToRequests(
  registry: CompiledRegistry,
  body: FeastOnlineRequest,
): { requests: FeatureRequest[]; entityColumn: string[]; entityValues: string[][] } {
  const byJoinKey = new Map(registry.snapshot.entities.map((e) => [e.join_key, e.name]));
  const columns = Object.keys(body.entities);
  const unknown = columns.filter((c) => !byJoinKey.has(c));
  if (unknown.length)
    throw new FeatureStoreError("bad_request", `Unknown entity key${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, {
      known: [...byJoinKey.keys()],
    });
  const values = columns.map((c) => body.entities[c]!.map(String));
  const rows = values[0]!.length;
  const ragged = columns.filter((_, i) => values[i]!.length !== rows);
  if (ragged.length)
    throw new FeatureStoreError("bad_request", `Entity columns must have the same length; ${ragged.join(", ")} differ from ${columns[0]}`);
  const types = columns.map((c) => byJoinKey.get(c)! as EntityTypeName);
  const requests: FeatureRequest[] = [];
  for (let i = 0; i < rows; i++) {
    const entities: Partial<Record<EntityTypeName, string>> = {};
    types.forEach((t, j) => {
      entities[t] = values[j]![i]!;
    });
    const context: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body.request_context ?? {})) context[k] = v[i];
    requests.push({
      entity_id: values[0]![i]!,
      entity_type: types[0]!,
      entities,
      feature_names: body.features!,
      include_metadata: true,
      ...(body.request_context ? { context } : {}),
    });
  }
  return { requests, entityColumn: columns, entityValues: values };
}

export function feastResponse(
  registry: CompiledRegistry,
  body: FeastOnlineRequest,
  entityColumns: string[],
  entityValues: string[][],
  results: (FeatureResponse | FeatureErrorResult)[],
): FeastOnlineResponse {
  const names = body.features!.map((ref) => {
    const def = registry.resolve(ref)!;
    return body.full_feature_names ? `${def.group}__${def.name}` : def.name;
  });
  const columns: FeastOnlineResponse["results"] = entityColumns.map((_, j) => ({
    values: entityValues[j]!,
    statuses: entityValues[j]!.map((): FeatureStatus => "PRESENT"),
    event_timestamps: entityValues[j]!.map(() => EPOCH),
  }));
  body.features!.forEach((ref) => {
    const col: FeastOnlineResponse["results"][number] = { values: [], statuses: [], event_timestamps: [] };
    for (const r of results) {
      if ("error" in r) {
        col.values.push(null);
        col.statuses.push("NOT_FOUND");
        col.event_timestamps.push(EPOCH);
        continue;
      }
      const m = r.metadata?.[ref];
      col.values.push(r.features[ref] ?? null);
      col.statuses.push(m?.status ?? "NOT_FOUND");
      col.event_timestamps.push(m?.event_timestamp ?? EPOCH);
    }
    columns.push(col);
  });
  return { metadata: { feature_names: [...entityColumns, ...names] }, results: columns };
}
