// Write-path scenarios: messages/s from push to Postgres through the Queue consumer, and push-to-visible
// freshness of a stream feature as a client of POST /features/get sees it.
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { withPgClient } from "../../tools/postgres";
import { msSince, nowNs } from "../lib/http";
import { percentile, round, type ScenarioResult, summarize } from "../lib/stats";
import { type BenchContext, type FeatureResponseBody, parseBody } from "./context";

const PUSH = "/ingest/push";
const GET = "/features/get";
/** How often the ingest scenario counts feature_values rows while waiting for the consumer. */
const COUNT_POLL_MS = 100;
/** The consumer must drain the pushed messages within this long, or the scenario reports what arrived. */
const INGEST_DRAIN_TIMEOUT_MS = 180_000;

async function countRows(client: pg.Client, like: string): Promise<number> {
  const res = await client.query<{ n: string }>("select count(*)::text as n from feature_values where entity_id like $1", [like]);
  return Number(res.rows[0]?.n ?? 0);
}

/** M messages (stream features of many users) pushed 100 per request; done when all rows are in Postgres. */
export async function ingest(ctx: BenchContext): Promise<ScenarioResult> {
  const { messages, updatesPerPush, featuresPerMessage, entities, pushConcurrency } = ctx.cfg.ingest;
  const features = ctx.names.userStream.slice(0, featuresPerMessage);
  const base = Date.now() - 60_000;
  const update = (j: number) => ({
    entity_type: "user",
    entity_id: `user_ing_${j % entities}`,
    event_timestamp: base + j,
    features: Object.fromEntries(features.map((f, k) => [f, ((j * 13 + k * 7) % 10_000) / 100])),
  });
  const pushes = Array.from({ length: Math.ceil(messages / updatesPerPush) }, (_, p) =>
    Array.from({ length: Math.min(updatesPerPush, messages - p * updatesPerPush) }, (_, k) => update(p * updatesPerPush + k)),
  );
  return withPgClient(ctx.stack.databaseUrl, async (db) => {
    const expectedRows = messages * features.length;
    const pushLatencies: number[] = [];
    let pushErrors = 0;
    const started = nowNs();
    let next = 0;
    await Promise.all(
      Array.from({ length: pushConcurrency }, async () => {
        while (next < pushes.length) {
          const body = pushes[next++]!;
          try {
            const res = await ctx.ingest.post(PUSH, body);
            if (res.status === 202) pushLatencies.push(res.ms);
            else {
              pushErrors++;
              ctx.log(`ingest push answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
            }
          } catch (err) {
            pushErrors++;
            ctx.log(`ingest push failed: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
      }),
    );
    const pushedMs = msSince(started);
    let rows = 0;
    while (msSince(started) < INGEST_DRAIN_TIMEOUT_MS) {
      rows = await countRows(db, "user_ing_%");
      if (rows >= expectedRows) break;
      await sleep(COUNT_POLL_MS);
    }
    const drainedMs = msSince(started);
    const deadLetters = Number((await db.query<{ n: string }>("select count(*)::text as n from dead_letters")).rows[0]?.n ?? 0);
    const result = summarize("ingest", pushLatencies, { errors: pushErrors, elapsedMs: pushedMs, requests: pushes.length });
    const delivered = Math.floor(rows / features.length);
    result.rps = round((delivered / drainedMs) * 1000, 1);
    result.errors = pushErrors + (messages - delivered) + deadLetters;
    result.extra = {
      messages,
      messages_in_postgres: delivered,
      dead_letters: deadLetters,
      features_per_message: features.length,
      push_requests: pushes.length,
      updates_per_push: updatesPerPush,
      push_accept_messages_per_s: round((messages / pushedMs) * 1000, 0),
      push_to_all_in_postgres_s: round(drainedMs / 1000, 2),
    };
    result.notes = `rps = messages/s from first push until all ${expectedRows} feature_values rows are in Postgres; p50/95/99 = POST /ingest/push (100 updates)`;
    return result;
  });
}

/**
 * Pushes of a unique value to stream feature us_00 of fresh users, at a fixed rate; for each, polls
 * /features/get (every pollIntervalMs) until the value shows, and the loader's direct Durable Object
 * read (no L0) to split queue+consumer time from the L0 staleness bound (≤1 s for stream features).
 */
export async function freshness(ctx: BenchContext): Promise<ScenarioResult> {
  const { pushes, pushesPerSecond, pollIntervalMs, timeoutMs } = ctx.cfg.freshness;
  const feature = ctx.names.userStream[0]!;
  const visible: number[] = [];
  const stored: number[] = [];
  let errors = 0;
  const tasks: Promise<void>[] = [];
  const started = Date.now();
  const runOne = async (k: number) => {
    const id = `user_fr_${k}`;
    const value = 100_000 + k + Math.round(Math.random() * 1000) / 1000;
    const t0 = nowNs();
    const res = await ctx.ingest.post(PUSH, {
      entity_type: "user",
      entity_id: id,
      event_timestamp: Date.now(),
      features: { [feature]: value },
    });
    if (res.status !== 202) {
      errors++;
      return;
    }
    let seenStored = false;
    let seenVisible = false;
    while (!seenVisible && msSince(t0) < timeoutMs) {
      const [api, direct] = await Promise.all([
        ctx.serving.post(GET, { entity_id: id, feature_names: [feature], include_metadata: true }),
        seenStored ? undefined : ctx.loader.post("/do/get", { name: `user:${id}`, features: [feature] }),
      ]);
      if (!seenStored && direct && direct.status === 200) {
        const got = parseBody<Record<string, { value: unknown }>>(direct)[feature];
        if (got?.value === value) {
          seenStored = true;
          stored.push(msSince(t0));
        }
      }
      if (api.status === 200 && parseBody<FeatureResponseBody>(api).features[feature] === value) {
        seenVisible = true;
        visible.push(msSince(t0));
      } else await sleep(pollIntervalMs);
    }
    if (!seenVisible) errors++;
  };
  for (let k = 0; k < pushes; k++) {
    const due = started + (k * 1000) / pushesPerSecond;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    tasks.push(runOne(k));
  }
  await Promise.all(tasks);
  const result = summarize("freshness", visible, { errors, elapsedMs: 0, requests: pushes });
  result.rps = null;
  const sortedStored = [...stored].sort((a, b) => a - b);
  result.extra = {
    pushes,
    pushes_per_second: pushesPerSecond,
    poll_interval_ms: pollIntervalMs,
    push_to_durable_object_p50_ms: round(percentile(sortedStored, 50)),
    push_to_durable_object_p95_ms: round(percentile(sortedStored, 95)),
  };
  result.notes = `push → value visible via POST /features/get (stream feature ${feature}); extra: push → stored in the Durable Object`;
  return result;
}
