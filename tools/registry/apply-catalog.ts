// Plan and apply the YAML catalog against Postgres, then publish: the registry workflow without any printing.
import { errorMessage } from "../../src/core/errors";
import type { RegistrySnapshot } from "../../src/core/registry";
import { type Queryable, withPgClient } from "../postgres";
import { type LoadedDefinitions, loadDefinitions } from "./load-definitions";
import { planRegistry, type RegistryPlan } from "./plan";
import { describeTarget, type PublishTarget, publishSnapshot } from "./publish";
import { applyRegistry, featuresWithData, latestSnapshot, readAppliedRegistry, registryAuthor } from "./registry-db";

/** Diffs a loaded catalog against the registry applied in the database. */
export async function planAgainst(db: Queryable, loaded: LoadedDefinitions): Promise<RegistryPlan> {
  const applied = await readAppliedRegistry(db);
  const withData = await featuresWithData(db);
  return planRegistry(
    {
      entities: applied.entities,
      features: applied.features.map((f) => f.definition),
      eventTypes: applied.eventTypes,
      featureServices: applied.featureServices,
    },
    { entities: loaded.entities, features: loaded.features, eventTypes: loaded.eventTypes, featureServices: loaded.featureServices },
    (name) => withData.has(name),
  );
}

export type PlanOutcome =
  | { status: "invalid"; loaded: LoadedDefinitions }
  | { status: "planned"; loaded: LoadedDefinitions; plan: RegistryPlan };

export async function planCatalog(dir: string, databaseUrl: string): Promise<PlanOutcome> {
  const loaded = loadDefinitions(dir);
  if (loaded.errors.length > 0) return { status: "invalid", loaded };
  const plan = await withPgClient(databaseUrl, (client) => planAgainst(client, loaded));
  return { status: "planned", loaded, plan };
}

export interface ApplyOptions {
  dir: string;
  databaseUrl: string;
  allowBreaking?: boolean;
  /** Publish the newest snapshot even when nothing changed (e.g. after a failed publish). */
  republish?: boolean;
  /** Where to publish; false writes Postgres only. */
  publish: PublishTarget | false;
  author?: string;
  /** Called with the plan before anything is written, so a CLI can show it first. */
  onPlan?: (plan: RegistryPlan, loaded: LoadedDefinitions) => void;
}

export type ApplyOutcome =
  | { status: "invalid"; loaded: LoadedDefinitions }
  | { status: "refused"; loaded: LoadedDefinitions; plan: RegistryPlan }
  | { status: "unchanged"; loaded: LoadedDefinitions; plan: RegistryPlan; snapshot?: RegistrySnapshot; published: boolean }
  | { status: "applied"; loaded: LoadedDefinitions; plan: RegistryPlan; snapshot: RegistrySnapshot; published: boolean };

/** Thrown when Postgres was written but KV publishing failed: the fix is `apply --republish`. */
export class PublishFailedError extends Error {
  readonly snapshot: RegistrySnapshot;
  constructor(snapshot: RegistrySnapshot, applied: boolean, target: PublishTarget, cause: unknown) {
    const what = applied ? `${snapshot.version} is applied in Postgres, but publishing it` : `publishing ${snapshot.version}`;
    const reason = errorMessage(cause);
    super(`${what} to ${describeTarget(target)} failed (${reason}); retry with \`npm run registry -- apply --republish\``, { cause });
    this.name = "PublishFailedError";
    this.snapshot = snapshot;
  }
}

/**
 * validate -> plan -> refuse breaking changes unless allowed -> apply in one transaction -> publish.
 * An invalid catalog or a refused plan writes nothing; an empty plan writes nothing either.
 */
export async function applyCatalog(opts: ApplyOptions): Promise<ApplyOutcome> {
  const loaded = loadDefinitions(opts.dir);
  if (loaded.errors.length > 0) return { status: "invalid", loaded };

  const result = await withPgClient(opts.databaseUrl, async (client) => {
    const plan = await planAgainst(client, loaded);
    opts.onPlan?.(plan, loaded);
    if (plan.empty) {
      const snapshot = opts.republish ? await latestSnapshot(client) : undefined;
      return { status: "unchanged" as const, plan, ...(snapshot ? { snapshot } : {}) };
    }
    if (plan.breakingReasons.length > 0 && !opts.allowBreaking) return { status: "refused" as const, plan };
    const snapshot = await applyRegistry(client, {
      entities: loaded.entities,
      features: loaded.features,
      eventTypes: loaded.eventTypes,
      featureServices: loaded.featureServices,
      plan,
      author: opts.author ?? registryAuthor(),
    });
    return { status: "applied" as const, plan, snapshot };
  });

  if (result.status === "refused") return { ...result, loaded };
  const shouldPublish = opts.publish !== false && result.snapshot !== undefined && (result.status === "applied" || opts.republish === true);
  if (shouldPublish && opts.publish !== false && result.snapshot) {
    try {
      await publishSnapshot(result.snapshot, opts.publish);
    } catch (err) {
      throw new PublishFailedError(result.snapshot, result.status === "applied", opts.publish, err);
    }
  }
  return { ...result, loaded, published: shouldPublish };
}
