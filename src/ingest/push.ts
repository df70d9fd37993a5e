// POST /ingest/push: validate the envelope (and feature names), split into Queue batches, answer 202 with ids.

import { errorMessage, FeatureStoreError, invalidInput, validationFailed } from "../core/errors";
import {
  eventTimeMs,
  type FeatureUpdate,
  type IngestMessage,
  type IngestSource,
  jsonBytes,
  MAX_FUTURE_SKEW_MS,
  MAX_UPDATE_MESSAGE_BYTES,
  MAX_UPDATES_PER_PUSH,
  type PushBody,
  type PushResult,
  parsePushBody,
  planSendBatches,
  QUEUE_MAX_MESSAGE_BYTES,
  toIngestMessage,
} from "../core/ingest-message";
import type { Logger } from "../core/log";
import type { CompiledRegistry } from "../core/registry";
import { encodeWriteToken } from "../core/write-token";
import { nameProblems, nonFinitePath, valueProblem } from "./validate-update";

/** A push body larger than this is refused before parsing (split big imports into several pushes). */
export const MAX_PUSH_BODY_BYTES = 8 * 1024 * 1024;
/** Sources a client may claim over HTTP; "materialization" is reserved for the Worker's own runs. */
export const HTTP_SOURCES = ["push", "replay"] as const satisfies readonly IngestSource[];

export interface PushDeps {
  queue: Pick<Queue, "sendBatch"> | undefined;
  registry: () => Promise<CompiledRegistry>;
  now: () => number;
  log: Logger;
  newId?: () => string;
}

/** A 413 for more updates than one push may hold, before validating each of them. */
export function checkUpdateCount(raw: unknown): void {
  if (Array.isArray(raw) && raw.length > MAX_UPDATES_PER_PUSH)
    throw new FeatureStoreError(
      "payload_too_large",
      `Push holds ${raw.length} updates; the limit is ${MAX_UPDATES_PER_PUSH} per request. Split it into several pushes.`,
      {
        updates: raw.length,
        limit: MAX_UPDATES_PER_PUSH,
      },
    );
}

/** Validates a push body (as POST /ingest/push does) and queues it. */
export async function pushUpdates(raw: unknown, source: IngestSource, deps: PushDeps): Promise<PushResult> {
  checkUpdateCount(raw);
  const parsed = parsePushBody(raw);
  if (!parsed.success) throw invalidInput("push body", parsed.error);
  return queueUpdates(parsed.data, source, deps);
}

/**
 * Queues validated updates (all or, on a Queue failure, a reported part). A number that is not
 * finite is always refused (it would travel the queue as null). When the registry is loaded, names,
 * id prefixes and values (type, range, allowed values, null policy) are checked here too, so a bad
 * value is a 400 now instead of a dead letter later. Without a registry (KV and Postgres
 * unreachable) the push is still accepted: the queue is the durable buffer and the consumer
 * validates everything again.
 */
export async function queueUpdates(body: PushBody, source: IngestSource, deps: PushDeps): Promise<PushResult> {
  const single = !Array.isArray(body);
  const updates = single ? [body] : body;
  const path = (i: number, rest: string) => (single ? rest : `${i}.${rest}`);

  const now = deps.now();
  const issues: { path: string; message: string; rule?: string }[] = [];
  updates.forEach((u, i) => {
    if (eventTimeMs(u.event_timestamp) > now + MAX_FUTURE_SKEW_MS)
      issues.push({
        path: path(i, "event_timestamp"),
        rule: "event_timestamp",
        message: `is more than ${MAX_FUTURE_SKEW_MS / 60_000} min in the future`,
      });
  });
  updates.forEach((u, i) => {
    for (const [ref, value] of Object.entries(u.features)) {
      const at = nonFinitePath(value);
      if (at !== undefined)
        issues.push({
          path: path(i, `features.${ref}${at ? `.${at}` : ""}`),
          rule: "finite",
          message: "must be a finite number (a JSON number beyond ±1.8e308 overflows to Infinity)",
        });
    }
  });
  const newId = deps.newId ?? (() => crypto.randomUUID());
  const messages: IngestMessage[] = updates.map((u: FeatureUpdate) => toIngestMessage(u, { update_id: newId(), source, received_at: now }));
  const sizes = messages.map((m) => jsonBytes(m));
  const tooBig = sizes.findIndex((s) => s > MAX_UPDATE_MESSAGE_BYTES);
  if (tooBig >= 0) {
    const u = updates[tooBig]!;
    throw new FeatureStoreError(
      "payload_too_large",
      `Update ${single ? "" : `${tooBig} `}(${u.entity_type} ${u.entity_id}) is ${sizes[tooBig]} bytes as a queue message; the limit is ${MAX_UPDATE_MESSAGE_BYTES} bytes per update (the ${QUEUE_MAX_MESSAGE_BYTES}-byte Queue message limit minus room for dead-letter reasons). Split its features over several updates.`,
      { index: tooBig, bytes: sizes[tooBig], limit: MAX_UPDATE_MESSAGE_BYTES },
    );
  }
  const registry = await loadRegistry(deps);
  if (registry && registry.features.length > 0) {
    updates.forEach((u, i) => {
      const typeOfId = registry.entityTypeOf(u.entity_id);
      if (typeOfId !== undefined && typeOfId !== u.entity_type)
        issues.push({
          path: path(i, "entity_id"),
          rule: "entity_id_prefix",
          message: `is the id of a ${typeOfId} (by its prefix), not of a ${u.entity_type}`,
        });
      const misnamed = nameProblems(registry, u);
      for (const p of misnamed) issues.push({ path: path(i, `features.${p.ref}`), rule: p.reason.rule, message: p.reason.message });
      const skip = new Set(misnamed.map((p) => p.ref));
      for (const [ref, value] of Object.entries(u.features)) {
        const def = skip.has(ref) ? undefined : registry.resolve(ref);
        const problem = def && nonFinitePath(value) === undefined ? valueProblem(def, value) : undefined;
        if (problem) issues.push({ path: path(i, `features.${ref}`), rule: problem.rule, message: problem.message });
      }
    });
  }
  if (issues.length > 0) throw validationFailed("push", issues);

  if (!deps.queue) throw new FeatureStoreError("unavailable", "No INGEST_QUEUE binding: this Worker cannot accept pushes");

  const sizeOf = new Map(messages.map((m, i) => [m, sizes[i]!]));
  const batches = planSendBatches(messages, (m) => sizeOf.get(m)!);
  const queue = deps.queue;
  const settled = await Promise.allSettled(batches.map((b) => queue.sendBatch(b.map((body) => ({ body, contentType: "json" as const })))));
  const failed = settled.findIndex((s) => s.status === "rejected");
  if (failed >= 0) {
    const queued = batches.flatMap((b, i) => (settled[i]!.status === "fulfilled" ? b.map((m) => m.update_id) : []));
    const error = errorMessage((settled[failed] as PromiseRejectedResult).reason);
    deps.log({ event: "push_queue_failed", level: "error", batches: batches.length, queued: queued.length, error });
    throw new FeatureStoreError(
      "unavailable",
      `The ingest queue refused ${settled.filter((s) => s.status === "rejected").length} of ${batches.length} batches (${error}); ${queued.length} of ${messages.length} updates were queued. Retrying the whole push is safe: writes are idempotent.`,
      { queued_message_ids: queued },
    );
  }
  const writeToken = encodeWriteToken(
    updates.map((u) => ({
      entityType: u.entity_type,
      entityId: u.entity_id,
      features: Object.fromEntries(Object.keys(u.features).map((ref) => [flatName(registry, ref), eventTimeMs(u.event_timestamp)])),
    })),
  );
  return {
    accepted: messages.length,
    message_ids: messages.map((m) => m.update_id),
    batches: batches.length,
    ...(writeToken ? { write_token: writeToken } : {}),
  };
}

/** The flat name a read reports a feature under (`group:name` → `name`; the registry's name when loaded). */
function flatName(registry: CompiledRegistry | undefined, ref: string): string {
  return registry?.resolve(ref)?.name ?? ref.slice(ref.indexOf(":") + 1);
}

async function loadRegistry(deps: PushDeps): Promise<CompiledRegistry | undefined> {
  try {
    return await deps.registry();
  } catch (err) {
    deps.log({ event: "push_registry_unavailable", error: errorMessage(err) });
    return undefined;
  }
}
