// npm run registry -- <validate|plan|apply|list|describe NAME|lineage NAME>: manage feature definitions from features/*.yaml.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { FeatureDefinition } from "../src/core/definitions";
import { errorMessage } from "../src/core/errors";
import { CompiledRegistry } from "../src/core/registry";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, runIfMain, UsageError } from "../tools/cli";
import { requireDatabaseUrl } from "../tools/dev-stack";
import { FEATURES_DIR } from "../tools/paths";
import { withPgClient } from "../tools/postgres";
import { applyCatalog, planCatalog } from "../tools/registry/apply-catalog";
import { feastRepoFiles } from "../tools/registry/export-feast";
import { lineageOf, renderLineageTree, summarizeLineage } from "../tools/registry/lineage";
import { formatDefinitionError, type LoadedDefinitions, loadDefinitions } from "../tools/registry/load-definitions";
import { type RegistryPlan, registryVersionOf } from "../tools/registry/plan";
import { describeTarget, type PublishTarget } from "../tools/registry/publish";
import { type AppliedRegistry, readAppliedRegistry } from "../tools/registry/registry-db";
import { renderDescribe, renderFeatureTable, renderPlan } from "../tools/registry/render";
import { backfillsNeeded, renderBackfillsNeeded } from "../tools/stream/backfill-needed";

/** Suggest names within this edit distance of a mistyped one. */
const MAX_SUGGESTION_DISTANCE = 3;
const MAX_SUGGESTIONS = 3;
const DEPLOY_ENVS = ["staging", "production"];

const USAGE = `Usage: npm run registry -- <command> [flags]

Commands:
  validate                 check features/*.yaml (schema and cross-references)
  plan [--json]            show what apply would change in Postgres
  apply                    validate, plan, write Postgres in one transaction, publish the snapshot to KV
      --allow-breaking     apply even when the plan has breaking changes
      --no-publish         write Postgres only
      --republish          publish the current snapshot even when nothing changed
      --remote             publish to Cloudflare KV instead of the local one (.data/wrangler)
      --env <staging|production>   wrangler environment
      --persist-to <dir>   local KV directory (default .data/wrangler)
  list [--json] [--tag T] [--owner O] [--entity-type E] [--computation-type C]
                           features of the APPLIED registry
  services [--json]        feature services of the APPLIED registry (services.yaml): name, owner, features
  describe NAME [--json]   every field of a feature (flat or group:name), its version, lineage and services
  lineage NAME [--json]    upstream tables/features and downstream dependents, as a tree
  export-feast --out DIR [--url URL]
                           write a Feast repo (feature_store.yaml, repo.py) of the catalog for Feast's SDK

Common flags:
  --dir <dir>              catalog directory (default features/)
  DATABASE_URL             Postgres (else the running \`npm run dev\` stack)
  REGISTRY_AUTHOR          author recorded by apply (else git config user.name, else $USER)`;

const OPTIONS = {
  json: { type: "boolean" },
  "allow-breaking": { type: "boolean" },
  "no-publish": { type: "boolean" },
  republish: { type: "boolean" },
  remote: { type: "boolean" },
  env: { type: "string" },
  "persist-to": { type: "string" },
  dir: { type: "string" },
  tag: { type: "string" },
  owner: { type: "string" },
  "entity-type": { type: "string" },
  "computation-type": { type: "string" },
  out: { type: "string" },
  url: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

async function main(argv: string[]): Promise<number> {
  // biome-ignore lint/suspicious/noImplicitAnyLet: TypeScript types it from parseArgs' overloads at the assignment below
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const { values: flags, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (flags.help || command === undefined || command === "help") {
    console.log(USAGE);
    return command === undefined && !flags.help ? EXIT_USAGE : EXIT_OK;
  }
  const dir = path.resolve(flags.dir ?? FEATURES_DIR);
  const expectArgs = (n: number, what: string) => {
    if (rest.length !== n) throw new UsageError(`${command} takes ${what}; see npm run registry -- --help`);
  };
  switch (command) {
    case "validate":
      expectArgs(0, "no arguments");
      return validate(dir);
    case "plan":
      expectArgs(0, "no arguments");
      return plan(dir, flags);
    case "apply":
      expectArgs(0, "no arguments");
      return apply(dir, flags);
    case "list":
      expectArgs(0, "no arguments");
      return list(flags);
    case "services":
      expectArgs(0, "no arguments");
      return services(flags);
    case "describe":
      expectArgs(1, "one feature name (flat or group:name)");
      return describeFeature(rest[0] as string, flags);
    case "lineage":
      expectArgs(1, "one feature name (flat or group:name)");
      return lineage(rest[0] as string, flags);
    case "export-feast":
      expectArgs(0, "no arguments but --out DIR [--url URL]");
      return exportFeast(dir, flags);
    default:
      throw new UsageError(`unknown command "${command}" (validate, plan, apply, list, services, describe, lineage, export-feast)`);
  }
}

// ------------------------------------------------------------------ commands

/** Prints every catalog error; the exit code of a command that found any. */
function reportInvalid(dir: string, loaded: LoadedDefinitions): number {
  for (const e of loaded.errors) console.error(formatDefinitionError(e));
  const shown = path.relative(process.cwd(), dir);
  const count = loaded.errors.length;
  console.error(`✗ ${count} error${count === 1 ? "" : "s"} in ${shown && !shown.startsWith("..") ? shown : dir}; nothing was changed`);
  return EXIT_FAILED;
}

function exportFeast(dir: string, flags: Flags): number {
  if (!flags.out) throw new UsageError("export-feast needs --out DIR");
  const loaded = loadDefinitions(dir);
  if (loaded.errors.length > 0) return reportInvalid(dir, loaded);
  const out = path.resolve(flags.out);
  mkdirSync(path.join(out, "data"), { recursive: true });
  const files = feastRepoFiles(loaded.entities, loaded.features, { url: flags.url, services: loaded.featureServices });
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(out, name), content);
  console.log(`✓ Feast repo for ${loaded.features.length} features in ${out}: cd there, set FEATURE_STORE_API_KEY, run feast apply`);
  return EXIT_OK;
}

function validate(dir: string): number {
  const loaded = loadDefinitions(dir);
  if (loaded.errors.length > 0) return reportInvalid(dir, loaded);
  console.log(`✓ ${loaded.features.length} features in ${loaded.groups.length} groups valid (${loaded.entities.length} entity types)`);
  return EXIT_OK;
}

async function plan(dir: string, flags: Flags): Promise<number> {
  const outcome = await planCatalog(dir, requireDatabaseUrl());
  if (outcome.status === "invalid") return reportInvalid(dir, outcome.loaded);
  if (flags.json) console.log(JSON.stringify(planJson(outcome.plan), null, 2));
  else console.log(renderPlan(outcome.plan, outcome.loaded.features));
  return EXIT_OK;
}

function planJson(p: RegistryPlan) {
  return {
    empty: p.empty,
    from_version: p.appliedVersion,
    to_version: p.desiredVersion,
    created: p.features.created,
    updated: p.features.updated,
    deleted: p.features.deleted,
    entities: p.entities,
    event_types: p.eventTypes,
    feature_services: p.featureServices,
    breaking: p.breakingReasons,
  };
}

function publishTarget(flags: Flags): PublishTarget {
  if (flags.env !== undefined && !DEPLOY_ENVS.includes(flags.env))
    throw new UsageError(`--env must be one of ${DEPLOY_ENVS.join(", ")} (got "${flags.env}")`);
  if (flags.remote && flags["persist-to"] !== undefined)
    throw new UsageError("--persist-to is for the local KV; it cannot be combined with --remote");
  const env = flags.env === undefined ? {} : { env: flags.env };
  return flags.remote
    ? { kind: "remote", ...env }
    : { kind: "local", ...env, ...(flags["persist-to"] === undefined ? {} : { persistTo: path.resolve(flags["persist-to"]) }) };
}

async function apply(dir: string, flags: Flags): Promise<number> {
  const target = publishTarget(flags);
  const outcome = await applyCatalog({
    dir,
    databaseUrl: requireDatabaseUrl(),
    allowBreaking: flags["allow-breaking"] === true,
    republish: flags.republish === true,
    publish: flags["no-publish"] ? false : target,
    // Shown before anything is written, as terraform apply does.
    onPlan: (p, loaded) => console.log(renderPlan(p, loaded.features)),
  });
  switch (outcome.status) {
    case "invalid":
      return reportInvalid(dir, outcome.loaded);
    case "refused": {
      const reasons = outcome.plan.breakingReasons;
      console.error(
        [
          `error: refusing to apply ${reasons.length} breaking change${reasons.length === 1 ? "" : "s"} without --allow-breaking (nothing was changed):`,
          ...reasons.map((r) => `  - ${r}`),
        ].join("\n"),
      );
      return EXIT_FAILED;
    }
    case "unchanged":
      if (!flags.republish) {
        console.log("Nothing applied or published (use --republish to publish the current snapshot to KV again).");
        return EXIT_OK;
      }
      if (!outcome.snapshot) throw new Error("nothing has been applied yet, so there is no snapshot to republish");
      break;
    case "applied": {
      const s = outcome.snapshot;
      console.log(`\nApplied ${s.version} (registry version ${s.version_number}, ${s.features.length} features) by ${s.author}.`);
      const backfills = renderBackfillsNeeded(backfillsNeeded(outcome.plan, s.features));
      if (backfills) console.log(backfills);
      break;
    }
  }
  if (outcome.published && outcome.snapshot) console.log(`Published ${outcome.snapshot.version} to ${describeTarget(target)}.`);
  else console.log("Not published (--no-publish): Workers keep serving the previous registry until `apply --republish`.");
  return EXIT_OK;
}

async function readApplied(): Promise<AppliedRegistry> {
  return withPgClient(requireDatabaseUrl(), readAppliedRegistry);
}

function compiled(applied: AppliedRegistry): CompiledRegistry {
  return new CompiledRegistry({
    version: applied.latest ? registryVersionOf(applied.latest.contentHash) : "r-none",
    version_number: applied.latest?.id ?? 0,
    applied_at: (applied.latest?.appliedAt ?? new Date(0)).toISOString(),
    author: applied.latest?.author ?? "none",
    entities: applied.entities,
    features: applied.features.map((f) => f.definition),
    event_types: applied.eventTypes,
    feature_services: applied.featureServices,
  });
}

async function list(flags: Flags): Promise<number> {
  const applied = await readApplied();
  const matches = (f: FeatureDefinition) =>
    (flags.tag === undefined || f.tags.includes(flags.tag)) &&
    (flags.owner === undefined || f.owner === flags.owner) &&
    (flags["entity-type"] === undefined || f.entity_type === flags["entity-type"]) &&
    (flags["computation-type"] === undefined || f.computation_type === flags["computation-type"]);
  const rows = applied.features
    .filter((f) => matches(f.definition))
    .sort((a, b) =>
      a.definition.group === b.definition.group
        ? a.definition.name < b.definition.name
          ? -1
          : 1
        : a.definition.group < b.definition.group
          ? -1
          : 1,
    );
  if (flags.json) {
    console.log(
      JSON.stringify(
        rows.map((r) => ({ ...r.definition, version: r.version, content_hash: r.contentHash, updated_at: r.updatedAt.toISOString() })),
        null,
        2,
      ),
    );
    return EXIT_OK;
  }
  if (applied.features.length === 0) {
    console.log("The registry is empty: run `npm run registry -- apply` first.");
    return EXIT_OK;
  }
  console.log(renderFeatureTable(rows.map((r) => r.definition)));
  const version = applied.latest ? `${registryVersionOf(applied.latest.contentHash)} (version ${applied.latest.id})` : "unversioned";
  console.log(`\n${rows.length} of ${applied.features.length} features, registry ${version}`);
  return EXIT_OK;
}

async function services(flags: Flags): Promise<number> {
  const applied = await readApplied();
  if (flags.json) {
    console.log(JSON.stringify(applied.featureServices, null, 2));
    return EXIT_OK;
  }
  if (applied.featureServices.length === 0) {
    console.log("No feature services applied: declare them in features/services.yaml and run `npm run registry -- apply`.");
    return EXIT_OK;
  }
  for (const s of applied.featureServices) {
    console.log(`${s.name}  (${s.owner}; ${s.features.length} features${s.tags.length ? `; tags ${s.tags.join(", ")}` : ""})`);
    console.log(`  ${s.description}`);
    for (const f of s.features) console.log(`    - ${f}`);
  }
  return EXIT_OK;
}

/** Resolves a flat or qualified name, or throws with the closest names. */
function resolveFeature(registry: CompiledRegistry, name: string): FeatureDefinition {
  const found = registry.resolve(name);
  if (found) return found;
  const flat = name.includes(":") ? name.slice(name.indexOf(":") + 1) : name;
  const close = registry.features
    .map((f) => ({ name: f.name, distance: editDistance(flat, f.name) }))
    .filter((c) => c.distance <= MAX_SUGGESTION_DISTANCE)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, MAX_SUGGESTIONS)
    .map((c) => c.name);
  throw new Error(`unknown feature "${name}" in the applied registry${close.length ? ` (did you mean ${close.join(", ")}?)` : ""}`);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row.push(Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length] as number;
}

async function describeFeature(name: string, flags: Flags): Promise<number> {
  const applied = await readApplied();
  const registry = compiled(applied);
  const definition = resolveFeature(registry, name);
  const row = applied.features.find((f) => f.definition.name === definition.name);
  if (!row) throw new Error(`feature "${name}" vanished while reading`);
  const summary = summarizeLineage(lineageOf(registry, definition));
  if (flags.json) {
    console.log(
      JSON.stringify(
        {
          ...definition,
          version: row.version,
          content_hash: row.contentHash,
          created_at: row.createdAt.toISOString(),
          updated_at: row.updatedAt.toISOString(),
          registry_version: registry.version,
          lineage: summary,
          feature_services: registry.servicesOf(definition).map((s) => s.name),
        },
        null,
        2,
      ),
    );
  } else {
    console.log(
      renderDescribe({
        definition,
        version: row.version,
        contentHash: row.contentHash,
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
        registryVersion: registry.version,
        lineage: summary,
        services: registry.servicesOf(definition).map((s) => s.name),
      }),
    );
  }
  return EXIT_OK;
}

async function lineage(name: string, flags: Flags): Promise<number> {
  const registry = compiled(await readApplied());
  const result = lineageOf(registry, resolveFeature(registry, name));
  if (flags.json)
    console.log(JSON.stringify({ feature: result.feature.name, upstream: result.upstream, downstream: result.downstream }, null, 2));
  else console.log(renderLineageTree(result));
  return EXIT_OK;
}

// ------------------------------------------------------------------ entry

// Errors read `error: …`, as kubectl and terraform print them.
runIfMain("error", import.meta.url, () => main(process.argv.slice(2)));
