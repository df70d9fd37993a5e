// Feast's /get-online-features: column-oriented request and response, mapped onto our row-oriented requests.
import type { EntityTypeName } from "../core/definitions";
import { FeatureStoreError, snippet } from "../core/errors";
import {
  FEAST_ONLINE_REQUEST_KEYS,
  type FeastOnlineRequest,
  type FeastOnlineResponse,
  type FeastStatus,
  type FeatureErrorResult,
  type FeatureRequest,
  type FeatureResponse,
  type FeatureStatus,
} from "../core/feature-request";
import { entityIdProblem } from "../core/identifiers";
import type { CompiledRegistry } from "../core/registry";

/**
 * Suffix of the Feast on-demand view of a feature group that also has stored features (Feast keeps
 * feature views and on-demand views in one namespace): `<group>_on_demand:<name>` is `<group>:<name>`.
 * `npm run registry -- export-feast` names those views so.
 */
export const FEAST_ON_DEMAND_SUFFIX = "_on_demand";

/** Our reference for a Feast one: the same, or the group of an `_on_demand` view. */
export function ourRef(registry: CompiledRegistry, ref: string): string {
  const colon = ref.indexOf(":");
  if (colon < 0 || registry.resolve(ref)) return ref;
  const view = ref.slice(0, colon);
  if (!view.endsWith(FEAST_ON_DEMAND_SUFFIX)) return ref;
  const mapped = `${view.slice(0, -FEAST_ON_DEMAND_SUFFIX.length)}${ref.slice(colon)}`;
  return registry.resolve(mapped) ? mapped : ref;
}

/** Feast reports entity key columns with this timestamp. */
const EPOCH = new Date(0).toISOString();
const KNOWN_KEYS: ReadonlySet<string> = new Set(FEAST_ONLINE_REQUEST_KEYS);

/** Keys of the body that this server does not know (a newer SDK's): ignored, reported to the log. */
export function unknownFeastKeys(body: FeastOnlineRequest): string[] {
  return Object.keys(body).filter((k) => !KNOWN_KEYS.has(k));
}

/**
 * Our status as Feast's: DEFAULTED is a value the definition's null policy supplies, so Feast sees
 * it PRESENT with that value; a PRESENT null is NULL_VALUE. NOT_FOUND and OUTSIDE_MAX_AGE are the same.
 */
export function feastStatus(status: FeatureStatus | undefined, value: unknown): FeastStatus {
  switch (status) {
    case "PRESENT":
      return value === null || value === undefined ? "NULL_VALUE" : "PRESENT";
    case "DEFAULTED":
      return "PRESENT";
    case "OUTSIDE_MAX_AGE":
      return "OUTSIDE_MAX_AGE";
    default:
      return "NOT_FOUND";
  }
}

/** `context.<key>` inputs of the requested on-demand features: the request data a Feast caller may pass in `entities`. */
function requestDataKeys(registry: CompiledRegistry, refs: readonly string[]): Set<string> {
  const keys = new Set<string>();
  for (const ref of refs) {
    const def = registry.resolve(ref);
    for (const input of def?.transform?.inputs ?? []) if (input.startsWith("context.")) keys.add(input.slice("context.".length));
  }
  return keys;
}

/**
 * The feature references a Feast request asks for, as Feast names them (`view:feature`): its
 * `features`, or its feature service's, each qualified by its group as Feast's projections are.
 */
export function feastFeatureRefs(registry: CompiledRegistry, body: FeastOnlineRequest): string[] {
  if (body.features?.length) return body.features;
  const service = registry.featureService(body.feature_service!);
  if (!service)
    throw new FeatureStoreError("not_found", `Unknown feature service: ${snippet(body.feature_service!)}`, {
      known: registry.snapshot.feature_services.map((s) => s.name),
    });
  return service.features.map((ref) => {
    const def = registry.resolve(ref);
    return def ? `${def.group}:${def.name}` : ref;
  });
}

export function feastToRequests(
  registry: CompiledRegistry,
  body: FeastOnlineRequest,
  asked: readonly string[],
): { requests: FeatureRequest[]; entityColumn: string[]; entityValues: string[][] } {
  const features = asked.map((ref) => ourRef(registry, ref));
  const byJoinKey = new Map(registry.snapshot.entities.map((e) => [e.join_key, e.name]));
  const requestData = requestDataKeys(registry, features);
  const columns = Object.keys(body.entities);
  const joinColumns = columns.filter((c) => byJoinKey.has(c));
  // A join key a transform also reads (context.track_id) is both an entity and request data.
  const dataColumns = columns.filter((c) => requestData.has(c));
  const unknown = columns.filter((c) => !byJoinKey.has(c) && !requestData.has(c));
  if (unknown.length)
    throw new FeatureStoreError("bad_request", `Unknown entity key${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, {
      known: [...byJoinKey.keys()],
      ...(requestData.size ? { request_data: [...requestData] } : {}),
    });
  if (joinColumns.length === 0)
    throw new FeatureStoreError("bad_request", "entities needs at least one join key column", { known: [...byJoinKey.keys()] });
  const values = joinColumns.map((c) => body.entities[c]!.map((v) => String(v)));
  // The same entity id rule as every other edge (src/core/identifiers.ts), before any tier sees one.
  joinColumns.forEach((c, j) => {
    values[j]!.forEach((id, i) => {
      const problem = entityIdProblem(id);
      if (problem)
        throw new FeatureStoreError("bad_request", `entities.${c}[${i}] ${problem.message}`, {
          field: `entities.${c}.${i}`,
          rule: problem.rule,
        });
    });
  });
  const rows = values[0]!.length;
  const ragged = columns.filter((c) => body.entities[c]!.length !== rows);
  if (ragged.length)
    throw new FeatureStoreError(
      "bad_request",
      `Entity columns must have the same length; ${ragged.join(", ")} differ from ${joinColumns[0]}`,
    );
  const types = joinColumns.map((c) => byJoinKey.get(c)! as EntityTypeName);
  const hasContext = body.request_context !== undefined || dataColumns.length > 0;
  const requests: FeatureRequest[] = [];
  for (let i = 0; i < rows; i++) {
    const entities: Partial<Record<EntityTypeName, string>> = {};
    types.forEach((t, j) => {
      entities[t] = values[j]![i]!;
    });
    const context: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body.request_context ?? {})) context[k] = v[i];
    for (const c of dataColumns) context[c] = body.entities[c]![i];
    requests.push({
      entity_id: values[0]![i]!,
      entity_type: types[0]!,
      entities,
      feature_names: features,
      include_metadata: true,
      ...(hasContext ? { context } : {}),
    });
  }
  return { requests, entityColumn: joinColumns, entityValues: values };
}

export function feastResponse(
  registry: CompiledRegistry,
  body: FeastOnlineRequest,
  asked: readonly string[],
  entityColumns: string[],
  entityValues: string[][],
  results: (FeatureResponse | FeatureErrorResult)[],
): FeastOnlineResponse {
  const refs = asked.map((ref) => ourRef(registry, ref));
  // Named as Feast asked: `view__feature` with the caller's view (an `_on_demand` one included).
  const names = asked.map((ref, i) => {
    const def = registry.resolve(refs[i]!)!;
    const colon = ref.indexOf(":");
    return body.full_feature_names ? `${colon < 0 ? def.group : ref.slice(0, colon)}__${def.name}` : def.name;
  });
  const columns: FeastOnlineResponse["results"] = entityColumns.map((_, j) => ({
    values: entityValues[j]!,
    statuses: entityValues[j]!.map((): FeastStatus => "PRESENT"),
    event_timestamps: entityValues[j]!.map(() => EPOCH),
  }));
  for (const ref of refs) {
    const col: FeastOnlineResponse["results"][number] = { values: [], statuses: [], event_timestamps: [] };
    for (const r of results) {
      if ("error" in r) {
        col.values.push(null);
        col.statuses.push("NOT_FOUND");
        col.event_timestamps.push(EPOCH);
        continue;
      }
      const m = r.metadata?.[ref];
      const value = r.features[ref] ?? null;
      col.values.push(value);
      col.statuses.push(feastStatus(m?.status, value));
      col.event_timestamps.push(m?.event_timestamp ?? EPOCH);
    }
    columns.push(col);
  }
  return { metadata: { feature_names: [...entityColumns, ...names] }, results: columns };
}
