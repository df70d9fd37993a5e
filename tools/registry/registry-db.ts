// The applied registry in Postgres: read it, see which features hold data, and apply a new catalog in one transaction.
import { spawnSync } from "node:child_process";
import type pg from "pg";
import type { z } from "zod";
import { EntityType, FeatureDefinition } from "../../src/core/definitions";
import { errorMessage } from "../../src/core/errors";
import { EventType } from "../../src/core/event-types";
import { FeatureServiceDefinition } from "../../src/core/feature-services";
import { sha256Hex } from "../../src/core/hash";
import { log } from "../../src/core/log";
import { canonicalJson, RegistrySnapshot, registryContentHash } from "../../src/core/registry";
import type {
  entityTypes,
  eventTypes,
  featureDefinitions,
  featureLatest,
  featureServices,
  registryVersions,
  SqlRow,
} from "../../src/db/schema";
import type { Queryable } from "../postgres";
import { type RegistryPlan, registryVersionOf } from "./plan";

const GIT_TIMEOUT_MS = 2_000;
/** pg_advisory_xact_lock key shared by every apply, so two applies never interleave (arbitrary constant). */
const APPLY_LOCK_KEY = 4_651_983_271;

export interface AppliedFeature {
  definition: FeatureDefinition;
  version: number;
  contentHash: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface AppliedRegistry {
  entities: EntityType[];
  features: AppliedFeature[];
  eventTypes: EventType[];
  featureServices: FeatureServiceDefinition[];
  /** The newest registry_versions row, if any apply happened. */
  latest?: { id: number; contentHash: string; author: string; appliedAt: Date };
}

/** sha256 of the canonical JSON of one definition: equal definitions hash equal whatever their key order. */
export function featureContentHash(definition: FeatureDefinition): Promise<string> {
  return sha256Hex(canonicalJson(definition));
}

/** git config user.name, else $USER, else "unknown": who to credit in registry_versions. */
export function registryAuthor(): string {
  const fromEnv = process.env.REGISTRY_AUTHOR?.trim();
  if (fromEnv) return fromEnv;
  const git = spawnSync("git", ["config", "user.name"], { encoding: "utf8", timeout: GIT_TIMEOUT_MS });
  const name = git.status === 0 ? git.stdout.trim() : "";
  return name || process.env.USER?.trim() || "unknown";
}

type FeatureRow = Pick<SqlRow<typeof featureDefinitions>, "definition" | "version" | "content_hash" | "created_at" | "updated_at">;
type EntityRow = Pick<SqlRow<typeof entityTypes>, "name" | "join_key" | "description" | "id_prefix">;
type EventTypeRow = Pick<SqlRow<typeof eventTypes>, "definition">;
type ServiceRow = Pick<SqlRow<typeof featureServices>, "definition">;
type VersionRow = Pick<SqlRow<typeof registryVersions>, "id" | "content_hash" | "author" | "applied_at">;

export async function readAppliedRegistry(db: Queryable): Promise<AppliedRegistry> {
  const entityRows = await db.query<EntityRow>("SELECT name, join_key, description, id_prefix FROM entity_types ORDER BY name");
  const featureRows = await db.query<FeatureRow>(
    "SELECT definition, version, content_hash, created_at, updated_at FROM feature_definitions ORDER BY name",
  );
  const eventRows = await db.query<EventTypeRow>("SELECT definition FROM event_types ORDER BY name");
  const serviceRows = await db.query<ServiceRow>("SELECT definition FROM feature_services ORDER BY name");
  const latestRows = await db.query<VersionRow>(
    "SELECT id, content_hash, author, applied_at FROM registry_versions ORDER BY id DESC LIMIT 1",
  );
  const entities = entityRows.rows.map((r) =>
    EntityType.parse({
      name: r.name,
      join_key: r.join_key,
      description: r.description,
      ...(r.id_prefix === null ? {} : { id_prefix: r.id_prefix }),
    }),
  );
  const features = featureRows.rows.map((r) => {
    const parsed = FeatureDefinition.safeParse(r.definition);
    if (!parsed.success) {
      const name = (r.definition as { name?: unknown } | null)?.name;
      throw new Error(
        `applied definition of "${String(name)}" no longer matches the schema: ${parsed.error.issues[0]?.message ?? "invalid"}`,
      );
    }
    return { definition: parsed.data, version: r.version, contentHash: r.content_hash, createdAt: r.created_at, updatedAt: r.updated_at };
  });
  const latest = latestRows.rows[0];
  return {
    entities,
    features,
    eventTypes: eventRows.rows.map((r) => parseApplied(EventType, "event type", r.definition)),
    featureServices: serviceRows.rows.map((r) => parseApplied(FeatureServiceDefinition, "feature service", r.definition)),
    ...(latest ? { latest: { id: latest.id, contentHash: latest.content_hash, author: latest.author, appliedAt: latest.applied_at } } : {}),
  };
}

/** An applied definition read back; one that the current schema refuses stops the command with its name. */
function parseApplied<T>(schema: z.ZodType<T>, what: string, definition: unknown): T {
  const parsed = schema.safeParse(definition);
  if (parsed.success) return parsed.data;
  const name = (definition as { name?: unknown } | null)?.name;
  throw new Error(`applied ${what} "${String(name)}" no longer matches the schema: ${parsed.error.issues[0]?.message ?? "invalid"}`);
}

/** Names of features with at least one stored value: tightening their validation may reject existing data. */
export async function featuresWithData(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<Pick<SqlRow<typeof featureLatest>, "feature_name">>("SELECT DISTINCT feature_name FROM feature_latest");
  return new Set(rows.map((r) => r.feature_name));
}

/** The snapshot of the newest apply, as published to KV. */
export async function latestSnapshot(db: Queryable): Promise<RegistrySnapshot | undefined> {
  const { rows } = await db.query<{ snapshot: unknown }>("SELECT snapshot FROM registry_versions ORDER BY id DESC LIMIT 1");
  return rows[0] ? RegistrySnapshot.parse(rows[0].snapshot) : undefined;
}

/** Thrown when the registry changed between plan and apply (another apply ran meanwhile). */
export class RegistryChangedError extends Error {
  constructor(expected: string, actual: string) {
    super(
      `the applied registry changed since it was planned (expected ${registryVersionOf(expected)}, found ${registryVersionOf(actual)}): run the command again`,
    );
    this.name = "RegistryChangedError";
  }
}

export interface ApplyInput {
  entities: EntityType[];
  features: FeatureDefinition[];
  eventTypes: EventType[];
  featureServices: FeatureServiceDefinition[];
  /** The plan being applied; its appliedHash must still be the database's. */
  plan: RegistryPlan;
  author: string;
}

const UPSERT_FEATURE = `
INSERT INTO feature_definitions (
  name, group_name, entity_type, feature_type, item_type, dimension, computation_type, source_query,
  update_frequency, retention_days, ttl_seconds, description, owner, tags, min_value, max_value,
  allowed_values, null_policy, default_value, transform, aggregation, depends_on, definition,
  version, content_hash, created_at, updated_at
) VALUES (
  $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
  $19::jsonb, $20::jsonb, $21::jsonb, $22::jsonb, $23::jsonb, 1, $24, now(), now()
)
ON CONFLICT (name) DO UPDATE SET
  group_name = excluded.group_name, entity_type = excluded.entity_type, feature_type = excluded.feature_type,
  item_type = excluded.item_type, dimension = excluded.dimension, computation_type = excluded.computation_type,
  source_query = excluded.source_query, update_frequency = excluded.update_frequency,
  retention_days = excluded.retention_days, ttl_seconds = excluded.ttl_seconds, description = excluded.description,
  owner = excluded.owner, tags = excluded.tags, min_value = excluded.min_value, max_value = excluded.max_value,
  allowed_values = excluded.allowed_values, null_policy = excluded.null_policy, default_value = excluded.default_value,
  transform = excluded.transform, aggregation = excluded.aggregation, depends_on = excluded.depends_on,
  definition = excluded.definition, content_hash = excluded.content_hash,
  version = feature_definitions.version + 1, updated_at = now()
WHERE feature_definitions.content_hash IS DISTINCT FROM excluded.content_hash`;

const json = (value: unknown): string | null => (value === undefined || value === null ? null : JSON.stringify(value));

async function featureParams(d: FeatureDefinition): Promise<unknown[]> {
  return [
    d.name,
    d.group,
    d.entity_type,
    d.feature_type,
    d.item_type ?? null,
    d.dimension ?? null,
    d.computation_type,
    d.source_query ?? null,
    d.update_frequency,
    d.retention_days,
    d.ttl_seconds,
    d.description,
    d.owner,
    d.tags,
    d.min_value ?? null,
    d.max_value ?? null,
    d.allowed_values ?? null,
    d.null_policy,
    json(d.default_value),
    json(d.transform),
    json(d.aggregation),
    json(d.depends_on),
    json(d),
    await featureContentHash(d),
  ];
}

/**
 * Makes a table of whole definitions (event_types, feature_services: name, definition, version,
 * content_hash) hold exactly `items`: version + 1 where the content changed, removals deleted.
 */
async function replaceDefinitions(
  client: pg.ClientBase,
  table: "event_types" | "feature_services",
  items: readonly { name: string }[],
): Promise<void> {
  for (const item of items) {
    await client.query(
      `INSERT INTO ${table} (name, definition, content_hash) VALUES ($1, $2::jsonb, $3)
       ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, content_hash = excluded.content_hash,
         version = ${table}.version + 1, updated_at = now()
       WHERE ${table}.content_hash IS DISTINCT FROM excluded.content_hash`,
      [item.name, JSON.stringify(item), await sha256Hex(canonicalJson(item))],
    );
  }
  await client.query(`DELETE FROM ${table} WHERE name <> ALL($1::text[])`, [items.map((i) => i.name)]);
}

/**
 * Writes the catalog as the applied registry in ONE transaction: entity types, feature definitions
 * (version + 1 where the content changed), removals, and a registry_versions row holding the diff and
 * the snapshot. Returns that snapshot, ready to publish.
 */
export async function applyRegistry(client: pg.ClientBase, input: ApplyInput): Promise<RegistrySnapshot> {
  const entities = [...input.entities].sort((a, b) => (a.name < b.name ? -1 : 1));
  const features = [...input.features].sort((a, b) => (a.name < b.name ? -1 : 1));
  const events = [...input.eventTypes].sort((a, b) => (a.name < b.name ? -1 : 1));
  const services = [...input.featureServices].sort((a, b) => (a.name < b.name ? -1 : 1));
  const contentHash = await registryContentHash(entities, features, events, services);
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [APPLY_LOCK_KEY]);
    // Under the lock: the plan the user approved must still describe what is in the database.
    const current = await readAppliedRegistry(client);
    const currentHash = await registryContentHash(
      current.entities,
      current.features.map((f) => f.definition),
      current.eventTypes,
      current.featureServices,
    );
    if (currentHash !== input.plan.appliedHash) throw new RegistryChangedError(input.plan.appliedHash, currentHash);

    for (const e of entities) {
      await client.query(
        `INSERT INTO entity_types (name, join_key, description, id_prefix) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET join_key = excluded.join_key, description = excluded.description, id_prefix = excluded.id_prefix`,
        [e.name, e.join_key, e.description, e.id_prefix ?? null],
      );
    }
    for (const f of features) await client.query(UPSERT_FEATURE, await featureParams(f));
    await client.query("DELETE FROM feature_definitions WHERE name <> ALL($1::text[])", [features.map((f) => f.name)]);
    await client.query("DELETE FROM entity_types WHERE name <> ALL($1::text[])", [entities.map((e) => e.name)]);
    await replaceDefinitions(client, "event_types", events);
    await replaceDefinitions(client, "feature_services", services);

    const { rows } = await client.query<{ id: string; now: Date }>(
      "SELECT nextval(pg_get_serial_sequence('registry_versions', 'id')) AS id, now() AS now",
    );
    const row = rows[0] as { id: string; now: Date };
    const snapshot: RegistrySnapshot = {
      version: registryVersionOf(contentHash),
      version_number: Number(row.id),
      applied_at: row.now.toISOString(),
      author: input.author,
      entities,
      features,
      event_types: events,
      feature_services: services,
    };
    const diff = {
      features: input.plan.features,
      entities: input.plan.entities,
      event_types: input.plan.eventTypes,
      feature_services: input.plan.featureServices,
      from: input.plan.appliedVersion,
      to: snapshot.version,
    };
    await client.query(
      `INSERT INTO registry_versions (id, content_hash, author, diff, snapshot, feature_count, applied_at)
       VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7)`,
      [snapshot.version_number, contentHash, input.author, JSON.stringify(diff), JSON.stringify(snapshot), features.length, row.now],
    );
    await client.query("COMMIT");
    return snapshot;
  } catch (err) {
    await client.query("ROLLBACK").catch((rollbackErr: unknown) => {
      // The original error matters more; the connection is closed right after anyway.
      log("warn", "registry_rollback_failed", { error: errorMessage(rollbackErr) });
    });
    throw err;
  }
}
