// Which stored values a training set reads: requested features -> as-of lookups, and spine columns -> entity ids.
import type { FeatureDefinition } from "../core/definitions";
import { FeatureStoreError, snippet } from "../core/errors";
import { entityIdProblem } from "../core/identifiers";
import type { CompiledRegistry } from "../core/registry";
import { idCell, SPINE_ENTITY_ID_COLUMN, SPINE_ENTITY_TYPE_COLUMN, type Spine, type SpineRow } from "./spine";

/** One as-of lookup per stored feature, shared by every output that reads it. */
export interface StoredLookup {
  def: FeatureDefinition;
  /** Index into FeaturePlan.entityTypes: which id of the row the lookup joins on. */
  slot: number;
}

export interface PlannedOutput {
  /** The name as requested (flat or `group:name`): the output column. */
  ref: string;
  def: FeatureDefinition;
  /** Stored (batch/stream) features: the lookup that answers the cell. */
  lookup?: number;
  /** On-demand features: the stored `feature:` inputs of the transform, by flat name. */
  inputs?: { name: string; lookup: number }[];
  /** Aggregation features: the id slot whose raw events they are computed from (training-aggregates.ts). */
  aggregateSlot?: number;
}

export interface FeaturePlan {
  outputs: PlannedOutput[];
  lookups: StoredLookup[];
  /** Entity type of each id slot. */
  entityTypes: string[];
  /** Entity types of the requested stored features: the spine must be able to name them. */
  requiredTypes: ReadonlySet<string>;
}

/** Every requested feature resolved up front: unknown names are one 404 listing each of them. */
export function planFeatures(registry: CompiledRegistry, refs: readonly string[]): FeaturePlan {
  if (refs.length === 0) throw new FeatureStoreError("bad_request", "No features requested");
  const twice = refs.filter((r, i) => refs.indexOf(r) !== i);
  if (twice.length) throw new FeatureStoreError("bad_request", `Feature requested twice: ${[...new Set(twice)].join(", ")}`);
  const unknown = refs.filter((r) => !registry.resolve(r));
  if (unknown.length) {
    throw new FeatureStoreError("not_found", `Unknown feature${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, {
      unknown_features: unknown,
      registry_version: registry.version,
    });
  }
  const lookups: StoredLookup[] = [];
  const entityTypes: string[] = [];
  const requiredTypes = new Set<string>();
  const lookupOf = (def: FeatureDefinition): number => {
    const found = lookups.findIndex((l) => l.def.name === def.name);
    if (found >= 0) return found;
    return lookups.push({ def, slot: slotOf(def) }) - 1;
  };
  const slotOf = (def: FeatureDefinition): number => {
    const slot = entityTypes.indexOf(def.entity_type);
    return slot >= 0 ? slot : entityTypes.push(def.entity_type) - 1;
  };
  const outputs = refs.map((ref): PlannedOutput => {
    const def = registry.resolve(ref)!;
    if (def.computation_type === "aggregation") {
      // Computed point-in-time from raw_events with the serving semantics, not looked up.
      requiredTypes.add(def.entity_type);
      return { ref, def, aggregateSlot: slotOf(def) };
    }
    if (def.computation_type !== "on_demand") {
      requiredTypes.add(def.entity_type);
      return { ref, def, lookup: lookupOf(def) };
    }
    // Serving reads the same inputs: `feature:` refs that resolve to stored features.
    const inputs = registry.storedInputsOf(def).map((d) => ({ name: d.name, lookup: lookupOf(d) }));
    return { ref, def, inputs };
  });
  return { outputs, lookups, entityTypes, requiredTypes };
}

/** How many offending rows an error lists. */
const MAX_LISTED_ROWS = 5;

/**
 * Maps a spine row to one id per slot. The id of type T is the row's T join-key column (user_id)
 * when the spine has it and the cell is not empty, else `entity_id` when the row's entity is of
 * type T: its `entity_type` cell, else inferred from the id prefix, else the only entity type of
 * the requested stored features. A row without an id of some type gets nulls for those features.
 */
export function spineEntityIds(registry: CompiledRegistry, plan: FeaturePlan, spine: Spine): (row: SpineRow) => (string | undefined)[] {
  const columns = new Set(spine.columns);
  const joinKeyColumn = plan.entityTypes.map((type) => {
    const key = registry.snapshot.entities.find((e) => e.name === type)?.join_key;
    return key !== undefined && columns.has(key) ? key : undefined;
  });
  const hasEntityId = columns.has(SPINE_ENTITY_ID_COLUMN);
  const unanswerable = plan.entityTypes.filter((type, slot) => plan.requiredTypes.has(type) && !joinKeyColumn[slot] && !hasEntityId);
  if (unanswerable.length) {
    const needs = unanswerable.map((type) => {
      const key = registry.snapshot.entities.find((e) => e.name === type)?.join_key ?? `${type}_id`;
      const features = plan.outputs.filter((o) => o.lookup !== undefined && o.def.entity_type === type).map((o) => o.ref);
      return `${features.join(", ")} need${features.length === 1 ? "s" : ""} ${type} ids (a "${key}" or "${SPINE_ENTITY_ID_COLUMN}" column)`;
    });
    throw new FeatureStoreError("bad_request", `The spine cannot answer every feature: ${needs.join("; ")}`, {
      columns: spine.columns,
      missing_entity_types: unanswerable,
    });
  }
  const knownTypes = new Set<string>(registry.snapshot.entities.map((e) => e.name));
  const onlyType = plan.requiredTypes.size === 1 ? [...plan.requiredTypes][0] : undefined;
  const hasTypeColumn = columns.has(SPINE_ENTITY_TYPE_COLUMN);

  const rowTypeOf = (row: SpineRow, id: string): string => {
    const declared = hasTypeColumn ? idCell(row.cells[SPINE_ENTITY_TYPE_COLUMN]) : undefined;
    if (declared !== undefined) {
      if (!knownTypes.has(declared)) throw new Error(`entity_type "${snippet(declared)}" is not one of ${[...knownTypes].join(", ")}`);
      return declared;
    }
    const inferred = registry.entityTypeOf(id) ?? onlyType;
    if (inferred === undefined)
      throw new Error(`cannot tell the entity type of entity_id "${snippet(id)}": add an entity_type column or use join-key columns`);
    return inferred;
  };

  return (row) => {
    let rowType: string | undefined;
    let rowId: string | undefined;
    if (hasEntityId) {
      rowId = idCell(row.cells[SPINE_ENTITY_ID_COLUMN]);
      if (rowId !== undefined) checkSpineId(SPINE_ENTITY_ID_COLUMN, rowId);
      if (rowId !== undefined) rowType = rowTypeOf(row, rowId);
    }
    return plan.entityTypes.map((type, slot) => {
      const column = joinKeyColumn[slot];
      const fromColumn = column === undefined ? undefined : idCell(row.cells[column]);
      if (fromColumn !== undefined) checkSpineId(column!, fromColumn);
      return fromColumn ?? (rowType === type ? rowId : undefined);
    });
  };
}

/** An id no tier could key is the row's error (reported with its row number), as it is a 400 at every other edge. */
function checkSpineId(column: string, id: string): void {
  const problem = entityIdProblem(id);
  if (problem) throw new Error(`${column} ${problem.message}`);
}

/** Resolves every row's ids, naming the rows whose entity type cannot be told. */
export function resolveSpineIds(registry: CompiledRegistry, plan: FeaturePlan, spine: Spine): (string | undefined)[][] {
  const idsOf = spineEntityIds(registry, plan, spine);
  const problems: string[] = [];
  const out: (string | undefined)[][] = [];
  spine.rows.forEach((row, i) => {
    try {
      out.push(idsOf(row));
    } catch (err) {
      out.push([]);
      problems.push(`row ${i + 1}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  if (problems.length) {
    const more = problems.length > MAX_LISTED_ROWS ? ` (and ${problems.length - MAX_LISTED_ROWS} more)` : "";
    throw new FeatureStoreError("bad_request", `Invalid spine entities: ${problems.slice(0, MAX_LISTED_ROWS).join("; ")}${more}`, {
      problems: problems.slice(0, 100),
    });
  }
  return out;
}

/** Range mode: each entity id with its type (given, else inferred from the prefix). */
export function typedEntities(
  registry: CompiledRegistry,
  plan: FeaturePlan,
  ids: readonly string[],
  entityType?: string,
): { type: string; id: string }[] {
  const knownTypes: string[] = registry.snapshot.entities.map((e) => e.name);
  if (entityType !== undefined && !knownTypes.includes(entityType))
    throw new FeatureStoreError("bad_request", `entity_type "${entityType}" is not one of ${knownTypes.join(", ")}`);
  const untyped: string[] = [];
  const out: { type: string; id: string }[] = [];
  const seen = new Set<string>();
  for (const raw of ids) {
    const id = raw.trim();
    if (id === "" || seen.has(id)) continue;
    const problem = entityIdProblem(id);
    if (problem)
      throw new FeatureStoreError("bad_request", `Invalid entity id "${snippet(id)}": ${problem.message}`, { rule: problem.rule });
    seen.add(id);
    const type = entityType ?? registry.entityTypeOf(id);
    if (type === undefined) untyped.push(id);
    else out.push({ type, id });
  }
  if (untyped.length)
    throw new FeatureStoreError(
      "bad_request",
      `Cannot tell the entity type of ${untyped
        .slice(0, MAX_LISTED_ROWS)
        .map((id) => snippet(id))
        .join(", ")}: give the entity type explicitly`,
      {
        entity_ids: untyped.slice(0, 100),
      },
    );
  if (out.length === 0) throw new FeatureStoreError("bad_request", "No entity ids given");
  const given = new Set(out.map((e) => e.type));
  const orphaned = plan.outputs.filter((o) => o.lookup !== undefined && !given.has(o.def.entity_type));
  if (orphaned.length)
    throw new FeatureStoreError(
      "bad_request",
      `No entity ids of the type of ${orphaned.map((o) => `${o.ref} (${o.def.entity_type})`).join(", ")}; given: ${[...given].join(", ")}`,
    );
  return out;
}
