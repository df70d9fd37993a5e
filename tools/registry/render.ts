// Text output of the registry CLI: Terraform-like plans, the feature table and a feature's description.
import type { FeatureDefinition } from "../../src/core/definitions";
import type { EventTypeChange, FeatureChange, FeatureServiceChange, FieldChange } from "../../src/core/registry";
import type { LineageSummary } from "./lineage";
import { DELETED_FEATURE_REASON, type EntityChange, type RegistryPlan } from "./plan";

/** Longer single-line strings are cut in plan output; the full text is in `plan --json`. */
const MAX_INLINE_STRING_CHARS = 60;
const SECONDS_PER = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;

function inline(value: unknown): string {
  if (value === undefined) return "(unset)";
  if (typeof value === "string") {
    const shown = value.length > MAX_INLINE_STRING_CHARS ? `${value.slice(0, MAX_INLINE_STRING_CHARS)}…` : value;
    return JSON.stringify(shown);
  }
  return JSON.stringify(value);
}

const isMultiline = (v: unknown): v is string => typeof v === "string" && v.includes("\n");

/** Line diff (longest common subsequence) of two texts: only the changed lines, marked - and +. */
function lineDiff(from: string, to: string): string[] {
  const a = from.replace(/\n$/, "").split("\n");
  const b = to.replace(/\n$/, "").split("\n");
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      (lcs[i] as number[])[j] =
        a[i] === b[j]
          ? ((lcs[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as number[])[j] as number, (lcs[i] as number[])[j + 1] as number);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (i < a.length && (j >= b.length || ((lcs[i + 1] as number[])[j] as number) >= ((lcs[i] as number[])[j + 1] as number)))
      out.push(`- ${a[i++] as string}`);
    else out.push(`+ ${b[j++] as string}`);
  }
  return out;
}

function fieldLines(c: FieldChange, indent: string): string[] {
  const lines =
    isMultiline(c.from) || isMultiline(c.to)
      ? [
          `${indent}${c.field}:`,
          ...lineDiff(typeof c.from === "string" ? c.from : "", typeof c.to === "string" ? c.to : "").map((l) => `${indent}    ${l}`),
        ]
      : [`${indent}${c.field}: ${inline(c.from)} -> ${inline(c.to)}`];
  if (c.breaking) lines.push(`${indent}  !! BREAKING: ${c.reason ?? `${c.field} changed`}`);
  return lines;
}

function entityLines(c: EntityChange): string[] {
  const sign = c.kind === "created" ? "+" : c.kind === "deleted" ? "-" : "~";
  const lines = [`  ${sign} entity ${c.name}`];
  for (const f of c.changes) lines.push(...fieldLines(f, "      "));
  if (c.kind === "deleted") lines.push(`      !! BREAKING: ${c.reason ?? "entity type removed"}`);
  return lines;
}

/** An event type's or a feature service's change: `what` names the kind in the plan text. */
function namedLines(what: string, c: EventTypeChange | FeatureServiceChange): string[] {
  const sign = c.kind === "created" ? "+" : c.kind === "deleted" ? "-" : "~";
  const lines = [`  ${sign} ${what} ${c.name}`];
  for (const f of c.changes) lines.push(...fieldLines(f, "      "));
  if (c.kind === "deleted") lines.push(`      !! BREAKING: ${what} removed`);
  return lines;
}

function featureLines(c: FeatureChange, byName: ReadonlyMap<string, FeatureDefinition>): string[] {
  if (c.kind === "created") {
    const d = byName.get(c.name);
    return [`  + ${c.name}${d ? ` (${d.entity_type}, ${d.feature_type}, ${d.computation_type})` : ""}`];
  }
  if (c.kind === "deleted") return [`  - ${c.name}`, `      !! BREAKING: ${DELETED_FEATURE_REASON}`];
  return [`  ~ ${c.name}`, ...c.changes.flatMap((f) => fieldLines(f, "      "))];
}

/** Terraform-like plan text; `desired` supplies the types shown for created features. */
export function renderPlan(plan: RegistryPlan, desired: readonly FeatureDefinition[]): string {
  if (plan.empty) return `No changes. Registry is up to date (version ${plan.appliedVersion}).`;
  const byName = new Map(desired.map((d) => [d.name, d]));
  const { created, updated, deleted } = plan.features;
  const lines = [`Registry plan: ${plan.appliedVersion} -> ${plan.desiredVersion}`, ""];
  for (const c of plan.entities) lines.push(...entityLines(c));
  for (const c of plan.eventTypes) lines.push(...namedLines("event type", c));
  for (const c of plan.featureServices) lines.push(...namedLines("feature service", c));
  for (const c of [...created, ...updated, ...deleted]) lines.push(...featureLines(c, byName));
  const breaking = plan.breakingReasons.length;
  const entitySummary =
    (plan.entities.length ? `, ${plan.entities.length} entity type change(s)` : "") +
    (plan.eventTypes.length ? `, ${plan.eventTypes.length} event type change(s)` : "") +
    (plan.featureServices.length ? `, ${plan.featureServices.length} feature service change(s)` : "");
  lines.push(
    "",
    `Plan: ${created.length} to create, ${updated.length} to update, ${deleted.length} to delete${entitySummary}${breaking ? ` (${breaking} breaking)` : ""}.`,
  );
  return lines.join("\n");
}

/** 172800 -> "2d", 5400 -> "90m": the largest unit that divides evenly. */
export function humanSeconds(seconds: number): string {
  for (const [unit, size] of Object.entries(SECONDS_PER)) if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

export function freshness(f: FeatureDefinition): string {
  return `${f.update_frequency}, ttl ${humanSeconds(f.ttl_seconds)}`;
}

/** A plain aligned table; the last column is not padded. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function renderFeatureTable(features: readonly FeatureDefinition[]): string {
  const rows = features.map((f) => [f.name, f.group, f.entity_type, f.feature_type, f.computation_type, freshness(f), f.owner]);
  return renderTable(["NAME", "GROUP", "ENTITY", "TYPE", "COMPUTATION", "FRESHNESS", "OWNER"], rows);
}

/** Definition fields in the order a reader wants them (schema order), for describe. */
const DESCRIBE_FIELDS: readonly (keyof FeatureDefinition)[] = [
  "name",
  "group",
  "entity_type",
  "feature_type",
  "item_type",
  "dimension",
  "computation_type",
  "description",
  "owner",
  "tags",
  "update_frequency",
  "ttl_seconds",
  "retention_days",
  "min_value",
  "max_value",
  "allowed_values",
  "null_policy",
  "default_value",
  "transform",
  "aggregation",
  "depends_on",
  "source_query",
];

export interface DescribeInfo {
  definition: FeatureDefinition;
  version: number;
  contentHash: string;
  createdAt: Date;
  updatedAt: Date;
  registryVersion: string;
  lineage: LineageSummary;
  /** Feature services that list the feature: the models that read it. */
  services: readonly string[];
}

export function renderDescribe(info: DescribeInfo): string {
  const d = info.definition;
  const rows: [string, string][] = [];
  for (const field of DESCRIBE_FIELDS) {
    const value = d[field];
    if (value === undefined) continue;
    rows.push([field, typeof value === "string" ? value.trimEnd() : JSON.stringify(value)]);
  }
  rows.push(
    ["version", String(info.version)],
    ["content_hash", info.contentHash],
    ["created_at", info.createdAt.toISOString()],
    ["updated_at", info.updatedAt.toISOString()],
    ["registry_version", info.registryVersion],
    ["lineage.tables", info.lineage.tables.join(", ") || "(none)"],
    ["lineage.upstream", info.lineage.features.join(", ") || "(none)"],
    ["lineage.downstream", info.lineage.dependents.join(", ") || "(none)"],
    ["feature_services", info.services.join(", ") || "(none)"],
  );
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  const pad = " ".repeat(width + 1);
  return rows
    .map(([k, v]) => {
      const [first, ...rest] = v.split("\n");
      return [`${`${k}:`.padEnd(width)} ${first ?? ""}`, ...rest.map((l) => `${pad}${l}`)].join("\n");
    })
    .join("\n");
}
