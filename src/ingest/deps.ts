// Builds everything the ingest Worker uses from its bindings, once per isolate; the only place reading env.

import type { WorkerSecrets } from "../config/secrets";
import { type ApiKeyEntry, parseApiKeys } from "../core/auth";
import type { CompiledRegistry } from "../core/registry";
import type { PostgresConfig } from "../db/postgres";
import type { MaterializerDeps } from "../materialize/materializer";
import { PostgresFeatureWriter } from "../stores/postgres-writer";
import { registryStoreFor } from "../stores/registry-store";
import { buildTiers, onlineWriteTargets, postgresConfigFrom, type TierEnv, type Tiers } from "../stores/tiers";
import type { IngestConsumerDeps } from "./consumer";
import type { DeadLetterConsumerDeps } from "./dead-letter-consumer";
import { DeadLetterStore } from "./dead-letter-store";

export type IngestEnv = IngestBindings & WorkerSecrets;

export type Logger = (event: Record<string, unknown>) => void;

/** Structured one-line JSON logs (Workers Logs indexes the fields). */
export const jsonLog: Logger = (event) => {
  const line = JSON.stringify(event);
  if (event.level === "error") console.error(line);
  else console.log(line);
};

export interface IngestDeps {
  tiers: Tiers;
  registry: () => Promise<CompiledRegistry>;
  registryVersion: () => string | null;
  apiKeys: () => Map<string, ApiKeyEntry>;
  /** Producer of feature-ingest, for the push endpoint. */
  ingestQueue: Pick<Queue, "sendBatch"> | undefined;
  consumer: IngestConsumerDeps;
  deadLetters: DeadLetterConsumerDeps;
  /** undefined without Postgres or the ingest queue: materialization needs both. */
  materializer: MaterializerDeps | undefined;
  postgres: PostgresConfig | undefined;
  now: () => number;
  log: Logger;
}

export function buildIngestDeps(env: IngestEnv, log: Logger = jsonLog, now: () => number = Date.now): IngestDeps {
  const tierEnv = env as unknown as TierEnv;
  const tiers = buildTiers(tierEnv);
  const postgres = postgresConfigFrom(tierEnv);
  const registryStore = registryStoreFor(env.REGISTRY_KV, postgres, now);
  let keys: Map<string, ApiKeyEntry> | undefined;
  return {
    tiers,
    registry: () => registryStore.get(),
    registryVersion: () => registryStore.peekVersion(),
    apiKeys: () => (keys ??= parseApiKeys(env.API_KEYS)),
    ingestQueue: env.INGEST_QUEUE,
    consumer: {
      registry: () => registryStore.get(),
      postgres: postgres ? new PostgresFeatureWriter(postgres) : undefined,
      online: onlineWriteTargets(tiers),
      dlq: env.DLQ,
      now,
      log,
    },
    deadLetters: { store: postgres ? new DeadLetterStore(postgres) : undefined, log },
    materializer: postgres && env.INGEST_QUEUE ? { postgres, queue: env.INGEST_QUEUE, now, log } : undefined,
    postgres,
    now,
    log,
  };
}
