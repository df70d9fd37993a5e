// Training sets: rows/s of a point-in-time join of a spine (100,000 rows in the full run) against
// feature_values history, through src/training (the library `npm run dataset` uses).
import { existsSync } from "node:fs";
import path from "node:path";
import { CompiledRegistry } from "../../src/core/registry";
import { PROJECT_ROOT } from "../../tools/paths";
import { withPgClient } from "../../tools/postgres";
import { benchRegistry, featureValueSql, prng } from "../lib/dataset";
import { round, type ScenarioResult, skipped } from "../lib/stats";
import type { BenchContext } from "./context";

/** History loaded for the join: users × features × observations spread over HISTORY_DAYS. */
const HISTORY_FEATURES = 10;
const HISTORY_OBSERVATIONS = 10;
const HISTORY_DAYS = 30;
const DAY_MS = 86_400_000;

/**
 * The slice of src/training this scenario uses. It is imported at run time, so a change of that
 * (young) API turns this scenario into "skipped" with the reason instead of breaking the typecheck.
 */
interface TrainingModule {
  sqlRunner(client: { query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }> }): unknown;
  spineFromObjects(objects: readonly Record<string, unknown>[]): unknown;
  openTrainingDataset(
    runner: unknown,
    registry: CompiledRegistry,
    input: { spine: unknown; features: readonly string[] },
  ): Promise<{ totalRows: number; batches(): AsyncIterable<Record<string, unknown>[]>; close(): Promise<void> }>;
}

async function loadTrainingModule(): Promise<TrainingModule | string> {
  if (!existsSync(path.join(PROJECT_ROOT, "src", "training", "index.ts"))) return "src/training does not exist yet";
  const mod = (await import("../../src/training/index")) as Partial<TrainingModule>;
  const missing = (["sqlRunner", "spineFromObjects", "openTrainingDataset"] as const).filter((k) => typeof mod[k] !== "function");
  return missing.length ? `src/training lacks ${missing.join(", ")} (API changed?)` : (mod as TrainingModule);
}

export async function trainingSet(ctx: BenchContext): Promise<ScenarioResult> {
  const training = await loadTrainingModule();
  if (typeof training === "string") return skipped("training-set", training);
  const { spineRows } = ctx.cfg.training;
  const users = Math.min(ctx.cfg.entities.user, Math.max(1_000, Math.ceil(spineRows / 10)));
  const features = ctx.names.userBatch.slice(0, HISTORY_FEATURES);
  const now = Date.now();
  return withPgClient(ctx.stack.databaseUrl, async (db) => {
    const loadStarted = Date.now();
    await db.query("set synchronous_commit = off");
    const inserted = await db.query(
      `insert into feature_values (feature_name, entity_type, entity_id, feature_value, event_timestamp, idempotency_key)
       select 'ub_' || lpad(f::text, 2, '0'), 'user', 'user_' || e, ${featureValueSql("(e + h)", "f")},
              to_timestamp(($1::bigint - ((h * $2::bigint) / $3::int) - (e * 7919 + f * 104729) % 3600000) / 1000.0),
              md5('bench-history|' || e || '|' || f || '|' || h)
         from generate_series(1, $4::int) e, generate_series(0, $5::int - 1) f, generate_series(0, $3::int - 1) h`,
      [now, HISTORY_DAYS * DAY_MS, HISTORY_OBSERVATIONS, users, HISTORY_FEATURES],
    );
    await db.query("analyze feature_values");
    const loadMs = Date.now() - loadStarted;

    const random = prng(7);
    const spine = training.spineFromObjects(
      Array.from({ length: spineRows }, () => ({
        entity_id: `user_${1 + Math.floor(random() * users)}`,
        event_timestamp: new Date(now - Math.floor(random() * HISTORY_DAYS * DAY_MS)).toISOString(),
        label: random() < 0.3 ? 1 : 0,
      })),
    );
    const registry = new CompiledRegistry(benchRegistry(ctx.cfg.featuresPerVector));
    const started = Date.now();
    const dataset = await training.openTrainingDataset(training.sqlRunner(db), registry, { spine, features });
    let rows = 0;
    let withValues = 0;
    try {
      for await (const batch of dataset.batches()) {
        rows += batch.length;
        for (const row of batch) if (row[features[0]!] !== null && row[features[0]!] !== undefined) withValues++;
      }
    } finally {
      await dataset.close();
    }
    const seconds = (Date.now() - started) / 1000;
    return {
      name: "training-set",
      p50_ms: null,
      p95_ms: null,
      p99_ms: null,
      rps: round(rows / seconds, 0),
      errors: rows === spineRows ? 0 : Math.abs(spineRows - rows),
      requests: 1,
      extra: {
        spine_rows: spineRows,
        rows_out: rows,
        seconds: round(seconds, 2),
        features: features.length,
        rows_with_values_share: round(withValues / Math.max(1, rows), 3),
        history_rows: inserted.rowCount,
        history_users: users,
        history_load_s: round(loadMs / 1000, 1),
      },
      notes: `${spineRows.toLocaleString("en-US")}-row spine × ${features.length} features, point-in-time join over ${inserted.rowCount?.toLocaleString("en-US")} feature_values rows (src/training, in-process)`,
    };
  });
}
