// Loads features/*.yaml into validated definitions, collecting every error with its file and feature.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import {
  type AggregatePart,
  EntitiesFile,
  type EntityType,
  type EventFilter,
  FeatureDefinition,
  FeatureGroupFile,
} from "../../src/core/definitions";
import { EventType, EventTypesFile } from "../../src/core/event-types";
import { FeatureServiceDefinition, FeatureServicesFile, SERVICES_FILE } from "../../src/core/feature-services";
import { CompiledRegistry, upstreamFeatures } from "../../src/core/registry";
import { TRANSFORM_OUTPUT_VALUES, TRANSFORMS } from "../../src/core/transforms";
import { validateValue } from "../../src/core/validation";
import { SOURCE_TABLES, tablesReadBy } from "./source-tables";

export const ENTITIES_FILE = "entities.yaml";
/** Raw event types (optional: a catalog without aggregation features needs none). */
export const EVENTS_FILE = "events.yaml";
const YAML_FILE = /\.ya?ml$/;
const FEATURE_REF_PREFIX = "feature:";
const CONTEXT_REF_PREFIX = "context.";

/** One problem in the catalog. `file` is shown relative to the catalog's parent (`features/x.yaml`). */
export interface DefinitionError {
  file: string;
  /** Feature (or entity, or event type) name, or `features[3]` when the entry has no usable name. */
  feature?: string;
  message: string;
}

export interface FeatureGroupInfo {
  name: string;
  file: string;
  description: string;
  featureCount: number;
}

export interface LoadedDefinitions {
  entities: EntityType[];
  /** Valid definitions only; a caller must check `errors` before using them. */
  features: FeatureDefinition[];
  groups: FeatureGroupInfo[];
  /** Valid event types of events.yaml. */
  eventTypes: EventType[];
  /** Valid feature services of services.yaml. */
  featureServices: FeatureServiceDefinition[];
  errors: DefinitionError[];
}

/** `features/user_behavior_features.yaml: skip_rate_7d: max_value: expected number` */
export function formatDefinitionError(e: DefinitionError): string {
  return e.feature === undefined ? `${e.file}: ${e.message}` : `${e.file}: ${e.feature}: ${e.message}`;
}

interface ParsedFeature {
  definition: FeatureDefinition;
  file: string;
}

/** Reads `dir/entities.yaml` and every other `dir/*.yaml` (one feature group each). Never throws for bad content. */
export function loadDefinitions(dir: string): LoadedDefinitions {
  const root = path.resolve(dir);
  const label = (file: string) => path.relative(path.dirname(root), path.join(root, file)).split(path.sep).join("/");
  const errors: DefinitionError[] = [];

  let files: string[];
  try {
    files = readdirSync(root)
      .filter((f) => YAML_FILE.test(f))
      .sort();
  } catch (err) {
    throw new Error(`cannot read the feature catalog directory ${root}: ${err instanceof Error ? err.message : String(err)}`);
  }

  let entities: EntityType[] = [];
  if (files.includes(ENTITIES_FILE)) entities = loadEntities(path.join(root, ENTITIES_FILE), label(ENTITIES_FILE), errors);
  else errors.push({ file: label(ENTITIES_FILE), message: "missing: the catalog needs an entities file" });
  const entityNames = new Set(entities.map((e) => e.name));
  const invalidEventTypes = new Set<string>();
  const eventTypes = files.includes(EVENTS_FILE)
    ? loadEventTypes(path.join(root, EVENTS_FILE), label(EVENTS_FILE), entities, errors, invalidEventTypes)
    : [];

  const parsed: ParsedFeature[] = [];
  const groups: FeatureGroupInfo[] = [];
  const groupFiles = new Map<string, string>();
  for (const file of files.filter((f) => f !== ENTITIES_FILE && f !== EVENTS_FILE && f !== SERVICES_FILE)) {
    const fileLabel = label(file);
    const group = loadGroup(path.join(root, file), fileLabel, entityNames, errors);
    if (!group) continue;
    const previous = groupFiles.get(group.name);
    if (previous) errors.push({ file: fileLabel, message: `group: duplicate group name "${group.name}" (also in ${previous})` });
    groupFiles.set(group.name, fileLabel);
    groups.push({ name: group.name, file: fileLabel, description: group.description, featureCount: group.features.length });
    for (const definition of group.features) parsed.push({ definition, file: fileLabel });
  }

  const features = crossCheck(parsed, errors, { entities, eventTypes, invalidEventTypes, eventsFile: label(EVENTS_FILE) });
  const featureServices = files.includes(SERVICES_FILE)
    ? loadFeatureServices(path.join(root, SERVICES_FILE), label(SERVICES_FILE), parsed, errors)
    : [];
  errors.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)); // stable: keeps per-file order
  return { entities, features, groups, eventTypes, featureServices, errors };
}

// ------------------------------------------------------------------ reading files

/** Parses YAML; syntax errors become `file:line:col: message` and the file yields nothing. */
function readYaml(filePath: string, fileLabel: string, errors: DefinitionError[]): unknown {
  let text: string;
  try {
    text = readFileSync(filePath, "utf8");
  } catch (err) {
    errors.push({ file: fileLabel, message: `cannot read: ${err instanceof Error ? err.message : String(err)}` });
    return undefined;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    // The parser keeps going after the first error and the rest are mostly its echoes: report the first.
    const first = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0])[0] as (typeof doc.errors)[number];
    const { line, col } = lineCounter.linePos(first.pos[0]);
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more after it)` : "";
    errors.push({ file: `${fileLabel}:${line}:${col}`, message: `YAML syntax error: ${first.message.split("\n")[0]}${more}` });
    return undefined;
  }
  return doc.toJS() as unknown;
}

function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path
    .map((p) => (typeof p === "number" ? `[${p}]` : String(p)))
    .join(".")
    .replace(/\.\[/g, "[");
}

/** zod's "Invalid input: expected number, received string" reads better without its preamble. */
const ZOD_PREAMBLE = /^Invalid input: /;

function issueText(issue: z.core.$ZodIssue): string {
  const where = issuePath(issue);
  const message = issue.message.replace(ZOD_PREAMBLE, "");
  return where ? `${where}: ${message}` : message;
}

function loadEntities(filePath: string, fileLabel: string, errors: DefinitionError[]): EntityType[] {
  const raw = readYaml(filePath, fileLabel, errors);
  if (raw === undefined) return [];
  const result = EntitiesFile.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      // entities[2].join_key -> name the entity when it has one.
      const [top, index, ...rest] = issue.path;
      const entry = top === "entities" && typeof index === "number" ? entityEntry(raw, index) : undefined;
      if (entry !== undefined && rest.length > 0) {
        errors.push({ file: fileLabel, feature: entry, message: `${rest.join(".")}: ${issue.message}` });
      } else errors.push({ file: fileLabel, message: issueText(issue) });
    }
    return [];
  }
  const seen = new Set<string>();
  for (const e of result.data.entities) {
    if (seen.has(e.name)) errors.push({ file: fileLabel, feature: e.name, message: "duplicate entity type" });
    seen.add(e.name);
  }
  return result.data.entities;
}

function entityEntry(raw: unknown, index: number): string {
  const list = (raw as { entities?: unknown }).entities;
  const entry: unknown = Array.isArray(list) ? list[index] : undefined;
  const name = entry && typeof entry === "object" ? (entry as Record<string, unknown>).name : undefined;
  return typeof name === "string" ? name : `entities[${index}]`;
}

interface LoadedGroup {
  name: string;
  description: string;
  features: FeatureDefinition[];
}

function loadGroup(
  filePath: string,
  fileLabel: string,
  entityNames: ReadonlySet<string>,
  errors: DefinitionError[],
): LoadedGroup | undefined {
  const raw = readYaml(filePath, fileLabel, errors);
  if (raw === undefined) return undefined;
  const result = FeatureGroupFile.safeParse(raw);
  if (!result.success) {
    // Without a valid header the group defaults are unknown: checking its features would only repeat this error.
    for (const issue of result.error.issues) errors.push({ file: fileLabel, message: issueText(issue) });
    return undefined;
  }
  const group = result.data;
  if (!entityNames.has(group.entity_type))
    errors.push({
      file: fileLabel,
      message: `entity_type: unknown entity type "${group.entity_type}" (${ENTITIES_FILE} defines ${[...entityNames].join(", ")})`,
    });

  const features: FeatureDefinition[] = [];
  group.features.forEach((entry, index) => {
    const feature = typeof entry.name === "string" && entry.name ? entry.name : `features[${index}]`;
    const fail = (message: string) => errors.push({ file: fileLabel, feature, message });
    if (entry.group !== undefined && entry.group !== group.group) {
      fail(`group: "${String(entry.group)}" differs from the file's group "${group.group}" (a feature's group is its file)`);
      return;
    }
    const merged: Record<string, unknown> = {
      ...entry,
      group: group.group,
      entity_type: entry.entity_type ?? group.entity_type,
      owner: entry.owner ?? group.owner,
      // A non-array is left as is, so the schema reports it instead of it being silently dropped.
      tags:
        entry.tags === undefined
          ? group.tags
          : Array.isArray(entry.tags)
            ? [...new Set([...group.tags, ...(entry.tags as unknown[])])]
            : entry.tags,
    };
    // The schema only knows the built-in entity enum; entities.yaml is what actually exists.
    const entityType = merged.entity_type;
    const unknownEntity = typeof entityType === "string" && !entityNames.has(entityType);
    if (unknownEntity && entry.entity_type !== undefined)
      fail(`entity_type: unknown entity type "${entityType}" (${ENTITIES_FILE} defines ${[...entityNames].join(", ")})`);
    const parsed = FeatureDefinition.safeParse(merged);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        if (unknownEntity && issue.path[0] === "entity_type") continue;
        fail(issueText(issue));
      }
      return;
    }
    if (!unknownEntity) features.push(parsed.data);
  });
  return { name: group.group, description: group.description, features };
}

// ------------------------------------------------------------------ cross-checks

/** Checks that span definitions (names, references, tables, transforms); returns the definitions that pass. */
interface CatalogContext {
  entities: readonly EntityType[];
  eventTypes: readonly EventType[];
  /** Named event types that failed validation (already reported: their features are not reported again). */
  invalidEventTypes: ReadonlySet<string>;
  eventsFile: string;
}

function crossCheck(parsed: ParsedFeature[], errors: DefinitionError[], catalog: CatalogContext): FeatureDefinition[] {
  const firstFile = new Map<string, string>();
  const unique: ParsedFeature[] = [];
  for (const p of parsed) {
    const previous = firstFile.get(p.definition.name);
    if (previous !== undefined) {
      errors.push({ file: p.file, feature: p.definition.name, message: `duplicate feature name (also defined in ${previous})` });
      continue;
    }
    firstFile.set(p.definition.name, p.file);
    unique.push(p);
  }

  const registry = new CompiledRegistry({
    version: "r-local",
    version_number: 0,
    applied_at: new Date(0).toISOString(),
    author: "local",
    entities: [],
    features: unique.map((p) => p.definition),
  });
  const failed = new Set<string>();
  for (const { definition: d, file } of unique) {
    const fail = (message: string) => {
      errors.push({ file, feature: d.name, message });
      failed.add(d.name);
    };
    checkDefault(d, fail);
    checkTransform(d, registry, fail);
    checkAggregation(d, catalog, fail);
    for (const ref of d.depends_on.features) if (!registry.resolve(ref)) fail(`depends_on.features: unknown feature "${ref}"`);
    for (const table of d.depends_on.tables)
      if (!SOURCE_TABLES.has(table)) fail(`depends_on.tables: unknown table "${table}" (${knownTablesHint()})`);
    if (d.source_query !== undefined) {
      for (const table of tablesReadBy(d.source_query)) {
        if (!SOURCE_TABLES.has(table)) fail(`source_query: reads unknown table "${table}" (${knownTablesHint()})`);
        // Lineage and impact analysis rely on depends_on; a table read but not declared would be invisible there.
        else if (!d.depends_on.tables.includes(table)) fail(`depends_on.tables: source_query reads "${table}", which is not listed`);
      }
    }
  }
  for (const cycle of dependencyCycles(
    unique.map((p) => p.definition),
    registry,
  )) {
    const file = firstFile.get(cycle[0] as string) as string;
    errors.push({ file, feature: cycle[0], message: `dependency cycle: ${cycle.join(" -> ")}` });
    for (const name of cycle) failed.add(name);
  }
  return unique.map((p) => p.definition).filter((d) => !failed.has(d.name));
}

// ------------------------------------------------------------------ feature services

/**
 * services.yaml: each service's features must name features of the catalog (flat or `group:name`),
 * once each. A feature that has an error of its own (so it did not load) is not reported again here.
 */
function loadFeatureServices(
  filePath: string,
  fileLabel: string,
  parsed: readonly ParsedFeature[],
  errors: DefinitionError[],
): FeatureServiceDefinition[] {
  const raw = readYaml(filePath, fileLabel, errors);
  if (raw === undefined) return [];
  const file = FeatureServicesFile.safeParse(raw);
  if (!file.success) {
    for (const issue of file.error.issues) errors.push({ file: fileLabel, message: issueText(issue) });
    return [];
  }
  const known = new Set(parsed.flatMap((p) => [p.definition.name, `${p.definition.group}:${p.definition.name}`]));
  const flat = (ref: string) => ref.slice(ref.indexOf(":") + 1);
  const failed = new Set(errors.flatMap((e) => (e.feature === undefined ? [] : [e.feature])));
  // A file that did not load at all (a YAML syntax error) hides which features exist: check no references then.
  const fileFailed = errors.some((e) => e.feature === undefined);
  const out: FeatureServiceDefinition[] = [];
  const seen = new Set<string>();
  file.data.feature_services.forEach((entry, index) => {
    const name = typeof entry.name === "string" && entry.name ? entry.name : `feature_services[${index}]`;
    const fail = (message: string) => errors.push({ file: fileLabel, feature: name, message });
    const result = FeatureServiceDefinition.safeParse(entry);
    if (!result.success) {
      for (const issue of result.error.issues) fail(issueText(issue));
      return;
    }
    const s = result.data;
    if (seen.has(s.name)) {
      fail("duplicate feature service");
      return;
    }
    seen.add(s.name);
    const unknown = fileFailed ? [] : s.features.filter((ref) => !known.has(ref) && !failed.has(flat(ref)));
    const names = s.features.map(flat);
    const twice = [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
    if (unknown.length) fail(`features: ${unknown.map((r) => `"${r}"`).join(", ")} not in the catalog`);
    else if (twice.length) fail(`features: ${twice.join(", ")} listed more than once`);
    else out.push(s);
  });
  return out;
}

// ------------------------------------------------------------------ event types

function loadEventTypes(
  filePath: string,
  fileLabel: string,
  entities: readonly EntityType[],
  errors: DefinitionError[],
  invalid: Set<string>,
): EventType[] {
  const raw = readYaml(filePath, fileLabel, errors);
  if (raw === undefined) return [];
  const file = EventTypesFile.safeParse(raw);
  if (!file.success) {
    for (const issue of file.error.issues) errors.push({ file: fileLabel, message: issueText(issue) });
    return [];
  }
  const joinKeys = new Set(entities.map((e) => e.join_key));
  const out: EventType[] = [];
  const seen = new Set<string>();
  file.data.event_types.forEach((entry, index) => {
    const name = typeof entry.name === "string" && entry.name ? entry.name : `event_types[${index}]`;
    const fail = (message: string) => errors.push({ file: fileLabel, feature: name, message });
    const parsed = EventType.safeParse(entry);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) fail(issueText(issue));
      invalid.add(name);
      return;
    }
    const e = parsed.data;
    if (seen.has(e.name)) {
      fail("duplicate event type");
      return;
    }
    seen.add(e.name);
    // Kept despite an unknown key (the error already blocks an apply), so its features are not reported again.
    for (const key of e.entity_keys)
      if (!joinKeys.has(key)) fail(`entity_keys: "${key}" is not a join key of ${ENTITIES_FILE} (${[...joinKeys].join(", ")})`);
    out.push(e);
  });
  return out;
}

/** An aggregation's event type must exist and carry the feature's entity, its fields must exist and fit. */
function checkAggregation(d: FeatureDefinition, catalog: CatalogContext, fail: (message: string) => void): void {
  const a = d.aggregation;
  if (!a) return;
  const type = catalog.eventTypes.find((e) => e.name === a.source_event);
  if (!type) {
    if (catalog.invalidEventTypes.has(a.source_event)) return;
    const known = catalog.eventTypes.map((e) => e.name).join(", ") || "none";
    fail(`aggregation.source_event: unknown event type "${a.source_event}" (${catalog.eventsFile} defines ${known})`);
    return;
  }
  const joinKey = catalog.entities.find((e) => e.name === d.entity_type)?.join_key;
  if (joinKey && !type.entity_keys.includes(joinKey))
    fail(`aggregation.source_event: ${type.name} does not carry ${joinKey} (its entity_keys: ${type.entity_keys.join(", ")})`);
  const parts: [string, Pick<AggregatePart, "function" | "field" | "filter">][] = [];
  if (a.function !== "ratio") parts.push(["aggregation", { function: a.function, field: a.field }]);
  else if (a.numerator && a.denominator) parts.push(["aggregation.numerator", a.numerator], ["aggregation.denominator", a.denominator]);
  checkFilter("aggregation.filter", a.filter, type, fail);
  for (const [where, part] of parts) {
    if (a.function === "ratio") checkFilter(`${where}.filter`, part.filter, type, fail);
    if (part.field === undefined) continue;
    const field = type.fields[part.field];
    if (!field) {
      fail(`${where}.field: ${type.name} has no field "${part.field}" (it has ${Object.keys(type.fields).join(", ")})`);
      continue;
    }
    const numeric = ["sum", "avg", "min", "max"].includes(part.function);
    if (numeric && field.type === "string")
      fail(`${where}.field: ${part.function} needs a number or boolean field; ${type.name}.${part.field} is a string`);
  }
}

function checkFilter(where: string, filter: EventFilter | undefined, type: EventType, fail: (message: string) => void): void {
  for (const [name, want] of Object.entries(filter ?? {})) {
    const field = type.fields[name];
    if (!field) {
      fail(`${where}: ${type.name} has no field "${name}" (it has ${Object.keys(type.fields).join(", ")})`);
      continue;
    }
    for (const v of Array.isArray(want) ? want : [want]) {
      if (typeof v !== field.type) fail(`${where}.${name}: ${JSON.stringify(v)} is not a ${field.type}`);
      else if (field.allowed_values && !field.allowed_values.includes(v as string))
        fail(`${where}.${name}: "${String(v)}" is not one of ${field.allowed_values.join(", ")}`);
    }
  }
}

function knownTablesHint(): string {
  return `known source tables: ${[...SOURCE_TABLES].sort().join(", ")}`;
}

function checkDefault(d: FeatureDefinition, fail: (message: string) => void): void {
  if (d.default_value === undefined) return;
  if (d.default_value === null) {
    if (d.null_policy === "default") fail("default_value: must not be null (it is what replaces a null)");
    return;
  }
  const violation = validateValue(d, d.default_value);
  // The error line already names the feature; drop validateValue's own "name: " prefix.
  if (violation) fail(`default_value: ${violation.message.replace(new RegExp(`^${d.name}: `), "")}`);
}

function checkTransform(d: FeatureDefinition, registry: CompiledRegistry, fail: (message: string) => void): void {
  if (!d.transform) return;
  const { name, inputs } = d.transform;
  if (!Object.hasOwn(TRANSFORMS, name)) {
    fail(
      `transform.name: unregistered transform "${name}" (registered in src/core/transforms.ts: ${Object.keys(TRANSFORMS).sort().join(", ")})`,
    );
    return;
  }
  const spec = TRANSFORMS[name];
  const accepted = new Set(spec?.inputs ?? []);
  for (const input of inputs) {
    if (input.startsWith(FEATURE_REF_PREFIX)) {
      const ref = input.slice(FEATURE_REF_PREFIX.length);
      const target = registry.resolve(ref);
      if (!target) fail(`transform.inputs: unknown feature "${ref}" in "${input}"`);
      // The transform reads features by flat name, so a qualified reference must match its flat input.
      else if (!accepted.has(`${FEATURE_REF_PREFIX}${target.name}`))
        fail(`transform.inputs: transform "${name}" does not read "${input}" (it reads ${[...accepted].join(", ")})`);
    } else if (input.startsWith(CONTEXT_REF_PREFIX)) {
      if (!accepted.has(input))
        fail(`transform.inputs: transform "${name}" does not read "${input}" (it reads ${[...accepted].join(", ")})`);
    } else fail(`transform.inputs: "${input}" must be "context.<key>" or "feature:<name>"`);
  }
  // A transform output outside allowed_values would be rejected at serving time for every request.
  const outputs = TRANSFORM_OUTPUT_VALUES[name];
  if (outputs && d.allowed_values) {
    const missing = outputs.filter((v) => !d.allowed_values?.includes(v));
    if (missing.length)
      fail(`allowed_values: transform "${name}" can return ${missing.map((v) => `"${v}"`).join(", ")}, which allowed_values rejects`);
  }
}

/** Feature dependency cycles (each reported once, starting at its alphabetically first member). */
function dependencyCycles(features: readonly FeatureDefinition[], registry: CompiledRegistry): string[][] {
  const state = new Map<string, "visiting" | "done">();
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (name: string, stack: string[]) => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      const cycle = stack.slice(stack.indexOf(name));
      const key = [...cycle].sort().join(",");
      if (!seen.has(key)) {
        seen.add(key);
        const start = cycle.indexOf([...cycle].sort()[0] as string);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.push([...rotated, rotated[0] as string]);
      }
      return;
    }
    state.set(name, "visiting");
    const def = registry.resolve(name);
    for (const ref of def ? upstreamFeatures(def) : []) {
      const target = registry.resolve(ref);
      if (target) visit(target.name, [...stack, name]);
    }
    state.set(name, "done");
  };
  for (const f of features) visit(f.name, []);
  return cycles;
}
