// Feature recommendation: candidate features ranked by how well each predicts a spine's label, on its point-in-time training set.
//
// The training set is the one POST /datasets/training builds (getTrainingDataset, with the
// per-feature observation times), so a feature is scored exactly on the values a model trained
// on that spine would see. Per candidate: mutual information with the label (feature-ranking.ts),
// univariate AUC for binary labels (numerical features), coverage, and leakage checks:
// - a stored value observed after the row's label time (the as-of join makes this impossible;
//   it is checked so a regression in the join cannot go unnoticed);
// - values observed at exactly the label time on a noticeable share of rows: the value and the
//   label very likely come from the same event;
// - an on-demand feature whose transform reads the label column from the request context;
// - a near-perfect score, which is more often a leak than a discovery.
import { type FeatureDefinition, frequencySeconds } from "../core/definitions";
import { FeatureStoreError, snippet } from "../core/errors";
import { auc, DEFAULT_BINS, entropy, MISSING_CELL, mutualInformation, quantileBins } from "../core/feature-ranking";
import type { CompiledRegistry } from "../core/registry";
import { decodeCsvCell } from "./csv";
import { SPINE_ENTITY_ID_COLUMN, SPINE_ENTITY_TYPE_COLUMN, SPINE_TIMESTAMP_COLUMN, type Spine } from "./spine";
import type { SqlRunner } from "./sql-runner";
import { EVENT_TIMESTAMP_SUFFIX, getTrainingDataset } from "./training-dataset";

/** Spine rows one recommendation may score: the whole training set is held in memory. */
export const MAX_RECOMMEND_SPINE_ROWS = 10_000;
export const DEFAULT_LABEL_COLUMN = "label";
/** Share of covered rows with a value observed at the label's own time above which it is flagged as leakage. */
export const SAME_TIME_LEAKAGE_SHARE = 0.1;
/** AUC (either direction) or normalized MI at or above this is called suspicious. */
export const SUSPICIOUS_SCORE = 0.99;
/** Below this coverage a score rests on few rows: warned. */
export const LOW_COVERAGE = 0.5;

export const ESTIMATORS = {
  mutual_information: `plug-in (maximum-likelihood) estimate in bits over the joint histogram; numerical features in up to ${DEFAULT_BINS} quantile bins, other features by value, a missing value as its own category`,
  auc: "Mann-Whitney with midranks (ties count 1/2) over rows with a value, numerical features and binary labels only; reported as max(AUC, 1 - AUC), auc_direction says which way",
  coverage: "share of spine rows with an observed (stored or computed) value; null_policy defaults do not count",
} as const;

export interface RecommendInput {
  spine: Spine;
  /** The spine column to predict (default `label`). */
  label?: string;
  /** Feature groups or feature references; default every feature of the spine's entity types. */
  candidates?: readonly string[];
}

export interface FeatureScore {
  feature: string;
  mutual_information: number;
  /** max(AUC, 1 - AUC): binary labels and numerical features only. */
  auc?: number;
  /** higher: larger values go with the positive label; lower: with the negative one. */
  auc_direction?: "higher" | "lower";
  coverage: number;
  leakage: boolean;
  warnings: string[];
}

export interface Recommendation {
  label: string;
  rows: number;
  binary: boolean;
  /** Binary labels: the value counted as positive for AUC. */
  positive_label?: unknown;
  label_entropy: number;
  estimators: typeof ESTIMATORS;
  ranking: FeatureScore[];
  /** Candidates that cannot be ranked (embeddings). */
  skipped: { feature: string; reason: string }[];
}

const qualified = (def: FeatureDefinition): string => `${def.group}:${def.name}`;

/** The label cell as a value: CSV text decoded as the transforms' context is; empty is missing. */
function labelValue(spine: Spine, cell: unknown): unknown {
  if (cell === undefined || cell === null || cell === "") return null;
  return spine.textCells && typeof cell === "string" ? (decodeCsvCell(cell) ?? null) : cell;
}

const cellOf = (v: unknown): string => (v === null || v === undefined ? MISSING_CELL : typeof v === "string" ? v : JSON.stringify(v));

/** Entity types the spine can name: its join-key columns, else its entity_id values' types. */
function spineEntityTypes(registry: CompiledRegistry, spine: Spine): Set<string> {
  const types = new Set<string>();
  for (const e of registry.snapshot.entities) if (spine.columns.includes(e.join_key)) types.add(e.name);
  if (spine.columns.includes(SPINE_ENTITY_ID_COLUMN)) {
    for (const row of spine.rows) {
      const declared = row.cells[SPINE_ENTITY_TYPE_COLUMN];
      const id = row.cells[SPINE_ENTITY_ID_COLUMN];
      const type =
        typeof declared === "string" && declared !== "" ? declared : typeof id === "string" ? registry.entityTypeOf(id) : undefined;
      if (type) types.add(type);
    }
  }
  return types;
}

/** Candidate definitions: groups or feature refs as given (400 naming `candidates` for unknown ones), else the spine's entity types. */
export function candidateDefinitions(registry: CompiledRegistry, spine: Spine, candidates?: readonly string[]): FeatureDefinition[] {
  if (candidates === undefined) {
    const types = spineEntityTypes(registry, spine);
    // An on-demand feature reading another entity's features needs those ids too.
    const defs = registry.features.filter(
      (f) => types.has(f.entity_type) && registry.storedInputsOf(f).every((d) => types.has(d.entity_type)),
    );
    if (defs.length === 0)
      throw new FeatureStoreError("bad_request", "Invalid spine: no row names an entity with features; give candidates or entity ids", {
        field: "spine",
      });
    return defs;
  }
  const unknown: string[] = [];
  const picked = new Map<string, FeatureDefinition>();
  for (const c of candidates) {
    const group = registry.features.filter((f) => f.group === c);
    const defs = group.length ? group : [registry.resolve(c)].filter((d) => d !== undefined);
    if (defs.length === 0) unknown.push(c);
    for (const d of defs) picked.set(d.name, d);
  }
  if (unknown.length)
    throw new FeatureStoreError(
      "bad_request",
      `Invalid candidates: unknown feature group or feature ${unknown.map((u) => snippet(u)).join(", ")}`,
      {
        field: "candidates",
        unknown,
        groups: [...new Set(registry.features.map((f) => f.group))].sort(),
      },
    );
  return [...picked.values()];
}

/** The label column checked: present, at least two distinct values among the rows that have one. */
function labelColumn(spine: Spine, label: string): { values: unknown[]; keep: number[] } {
  if (!spine.columns.includes(label))
    throw new FeatureStoreError(
      "bad_request",
      `Invalid label: the spine has no column "${snippet(label)}" (columns: ${spine.columns.join(", ")})`,
      {
        field: "label",
        columns: spine.columns,
      },
    );
  if (label === SPINE_TIMESTAMP_COLUMN || label === SPINE_ENTITY_ID_COLUMN || label === SPINE_ENTITY_TYPE_COLUMN)
    throw new FeatureStoreError("bad_request", `Invalid label: "${label}" is a spine key column, not a label`, { field: "label" });
  const values: unknown[] = [];
  const keep: number[] = [];
  spine.rows.forEach((row, i) => {
    const v = labelValue(spine, row.cells[label]);
    if (v !== null) {
      values.push(v);
      keep.push(i);
    }
  });
  if (new Set(values.map(cellOf)).size < 2)
    throw new FeatureStoreError(
      "bad_request",
      `Invalid label: column "${snippet(label)}" needs at least two distinct values among its non-empty cells`,
      {
        field: "label",
      },
    );
  return { values, keep };
}

/** Positive class of a binary label: true, 1 or "1"/"yes" when present, else the greater value. */
function positiveOf(distinct: readonly unknown[]): unknown {
  const preferred = [true, 1, "1", "true", "yes", "y", "positive"];
  for (const p of preferred) if (distinct.some((d) => d === p)) return p;
  return [...distinct].sort((a, b) => (cellOf(a) < cellOf(b) ? -1 : 1))[1];
}

function labelCells(values: readonly unknown[], binary: boolean): string[] {
  if (!binary && values.every((v) => typeof v === "number")) return quantileBins(values as number[]);
  return values.map(cellOf);
}

/** Ranks the candidates by mutual information with the label (then AUC, coverage, name). */
export async function recommendFeatures(runner: SqlRunner, registry: CompiledRegistry, input: RecommendInput): Promise<Recommendation> {
  const { spine } = input;
  const label = input.label ?? DEFAULT_LABEL_COLUMN;
  if (spine.rows.length > MAX_RECOMMEND_SPINE_ROWS)
    throw new FeatureStoreError(
      "payload_too_large",
      `A spine of ${spine.rows.length} rows exceeds the limit of ${MAX_RECOMMEND_SPINE_ROWS}`,
      {
        limit: MAX_RECOMMEND_SPINE_ROWS,
      },
    );
  const { values, keep } = labelColumn(spine, label);
  const candidates = candidateDefinitions(registry, spine, input.candidates);
  const skipped = candidates
    .filter((d) => d.feature_type === "embedding")
    .map((d) => ({ feature: qualified(d), reason: "embedding: a vector has no univariate score" }));
  const ranked = candidates.filter((d) => d.feature_type !== "embedding");
  if (ranked.length === 0)
    throw new FeatureStoreError("bad_request", "Invalid candidates: none can be ranked (all embeddings)", { field: "candidates" });

  // Only rows with a label are joined; qualified refs never clash with a context column of the same name.
  const labelled: Spine = { ...spine, rows: keep.map((i) => spine.rows[i]!) };
  const refs = ranked.map(qualified);
  const { rows } = await getTrainingDataset(runner, registry, { spine: labelled, features: refs }, { includeEventTimestamps: true });

  const distinct = [...new Map(values.map((v) => [cellOf(v), v])).values()];
  const binary = distinct.length === 2;
  const positive = binary ? positiveOf(distinct) : undefined;
  const y = labelCells(values, binary);
  const isPositive = binary ? values.map((v) => cellOf(v) === cellOf(positive)) : [];
  const hY = entropy(y);

  const ranking = ranked.map((def, k): FeatureScore => {
    const ref = refs[k]!;
    const stored = def.computation_type === "batch" || def.computation_type === "stream";
    const warnings: string[] = [];
    let leakage = false;
    let covered = 0;
    let after = 0;
    let atLabel = 0;
    const column = rows.map((row, i) => {
      const value = row[ref] ?? null;
      const observedAt = stored ? row[`${ref}${EVENT_TIMESTAMP_SUFFIX}`] : undefined;
      const observed = stored ? observedAt !== null && observedAt !== undefined : value !== null;
      if (observed) covered++;
      if (typeof observedAt === "string") {
        const t = Date.parse(observedAt);
        const rowTs = labelled.rows[i]!.ts;
        if (t > rowTs) after++;
        else if (t === rowTs) atLabel++;
      }
      return value;
    });
    const n = rows.length;
    if (after > 0) {
      leakage = true;
      warnings.push(`leakage: ${after} of ${n} rows hold a value observed after the label time`);
    }
    if (covered > 0 && atLabel / covered >= SAME_TIME_LEAKAGE_SHARE) {
      leakage = true;
      warnings.push(
        `leakage: ${atLabel} of ${covered} values were observed at exactly the label time; the value and the label likely come from one event`,
      );
    } else if (atLabel > 0) warnings.push(`${atLabel} values were observed at exactly the label time`);
    if (def.transform?.inputs.includes(`context.${label}`)) {
      leakage = true;
      warnings.push(`leakage: its transform reads the label column (context.${label})`);
    }
    const coverage = n > 0 ? covered / n : 0;
    if (covered === 0) warnings.push("no values for these rows");
    else if (coverage < LOW_COVERAGE) warnings.push(`low coverage: ${covered} of ${n} rows`);
    if (def.computation_type === "batch" && def.update_frequency !== "realtime" && frequencySeconds(def.update_frequency) >= 86_400)
      warnings.push(`batch feature refreshed every ${def.update_frequency}: values can lag the label by up to that`);

    const numeric = def.feature_type === "numerical";
    const x = numeric ? quantileBins(column.map((v) => (typeof v === "number" ? v : null))) : column.map(cellOf);
    const mi = mutualInformation(x, y);
    const score: FeatureScore = { feature: ref, mutual_information: round(mi), coverage: round(coverage), leakage, warnings };
    if (binary && numeric) {
      const scores: number[] = [];
      const pos: boolean[] = [];
      column.forEach((v, i) => {
        if (typeof v === "number") {
          scores.push(v);
          pos.push(isPositive[i]!);
        }
      });
      const a = auc(scores, pos);
      if (a !== null) {
        score.auc = round(Math.max(a, 1 - a));
        score.auc_direction = a >= 0.5 ? "higher" : "lower";
      }
    }
    if ((score.auc ?? 0) >= SUSPICIOUS_SCORE || (hY > 0 && mi / hY >= SUSPICIOUS_SCORE))
      warnings.push("predicts the label almost perfectly: check that it is not computed from the label");
    return score;
  });
  ranking.sort(
    (a, b) =>
      b.mutual_information - a.mutual_information ||
      (b.auc ?? 0) - (a.auc ?? 0) ||
      b.coverage - a.coverage ||
      (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0),
  );
  return {
    label,
    rows: rows.length,
    binary,
    ...(binary ? { positive_label: positive } : {}),
    label_entropy: round(hY),
    estimators: ESTIMATORS,
    ranking,
    skipped,
  };
}

/** Six decimals: stable output across runs and platforms, more precision than any reader needs. */
const round = (v: number): number => Math.round(v * 1e6) / 1e6;
