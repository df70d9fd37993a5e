// Listing and replaying dead letters: one home for `npm run dlq` and the admin routes (GET /admin/dead-letters, POST /admin/dead-letters/replay).
import { type DeadLetterReason, type FeatureUpdate, IngestMessage, updateOf } from "../core/ingest-message";

/** What both a pg Client (the script) and a Neon Client (the Worker) offer. */
export interface SqlClient {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

export const DEFAULT_DEAD_LETTER_LIMIT = 50;
export const MAX_DEAD_LETTER_LIMIT = 500;
/** Updates per replay push; far below the endpoint's limit so one bad letter costs little to isolate. */
export const REPLAY_CHUNK = 100;

export interface DeadLetterView {
  id: number;
  message_id: string;
  created_at: string;
  source: string;
  attempts: number;
  /** entity_type:entity_id of the original update, "?" when the message holds none. */
  entity: string;
  message: unknown;
  reasons: DeadLetterReason[];
  replayed_at: string | null;
}

interface DeadLetterRow {
  id: number;
  message_id: string;
  created_at: Date | string;
  source: string;
  attempts: number;
  message: unknown;
  reasons: DeadLetterReason[];
  replayed_at: Date | string | null;
}

const iso = (d: Date | string) => (d instanceof Date ? d : new Date(d)).toISOString();

export function entityOf(message: unknown): string {
  const m = message as { entity_type?: unknown; entity_id?: unknown } | null;
  return m && typeof m.entity_type === "string" && typeof m.entity_id === "string" ? `${m.entity_type}:${m.entity_id}` : "?";
}

/** Dead letters newest first; `pending`: only those not replayed yet. */
export async function listDeadLetters(client: SqlClient, opts: { limit: number; pending: boolean }): Promise<DeadLetterView[]> {
  const res = await client.query(
    `select id, message_id, created_at, source, attempts, message, reasons, replayed_at
       from dead_letters where ($2::boolean is false or replayed_at is null)
      order by id desc limit $1`,
    [opts.limit, opts.pending],
  );
  return (res.rows as DeadLetterRow[]).map((r) => ({
    id: r.id,
    message_id: r.message_id,
    created_at: iso(r.created_at),
    source: r.source,
    attempts: r.attempts,
    entity: entityOf(r.message),
    message: r.message,
    reasons: r.reasons,
    replayed_at: r.replayed_at === null ? null : iso(r.replayed_at),
  }));
}

/**
 * Sends updates again with source "replay". `refused` is the push endpoint's 400/413 (the whole
 * push refused for its content); any other failure throws, and nothing is marked replayed.
 */
export type ReplayPush = (updates: FeatureUpdate[]) => Promise<{ accepted: true } | { accepted: false; error: string }>;

export interface ReplayReport {
  /** Dead letters looked at: the ids asked for that exist, or every pending one. */
  considered: number;
  replayed: number[];
  refused: { id: number; error: string }[];
  /** Stored messages that hold no valid update (a parse dead letter): nothing to push. */
  unusable: { id: number; source: string; error: string }[];
  missing: number[];
  /** Asked for by id although replayed before: replayed again. */
  again: { id: number; replayed_at: string }[];
}

interface Replayable {
  id: number;
  update: FeatureUpdate;
}

/** Pushes a chunk; when its content is refused, one at a time to isolate the bad letters. */
async function pushChunk(push: ReplayPush, items: Replayable[]): Promise<{ accepted: number[]; refused: { id: number; error: string }[] }> {
  const out = await push(items.map((i) => i.update));
  if (out.accepted) return { accepted: items.map((i) => i.id), refused: [] };
  if (items.length === 1) return { accepted: [], refused: [{ id: items[0]!.id, error: out.error }] };
  const all = { accepted: [] as number[], refused: [] as { id: number; error: string }[] };
  for (const item of items) {
    const one = await pushChunk(push, [item]);
    all.accepted.push(...one.accepted);
    all.refused.push(...one.refused);
  }
  return all;
}

/**
 * Replays the dead letters `ids` (none: every one not replayed yet) through `push`, marking each
 * accepted one replayed. A replay is validated again: one that still fails becomes a new dead letter.
 */
export async function replayDeadLetters(client: SqlClient, ids: readonly number[], push: ReplayPush): Promise<ReplayReport> {
  const res = await client.query(
    ids.length > 0
      ? "select id, message, replayed_at, source from dead_letters where id = any($1::int[]) order by id"
      : "select id, message, replayed_at, source from dead_letters where replayed_at is null order by id",
    ids.length > 0 ? [ids] : [],
  );
  const rows = res.rows as Pick<DeadLetterRow, "id" | "message" | "replayed_at" | "source">[];
  const report: ReplayReport = {
    considered: rows.length,
    replayed: [],
    refused: [],
    unusable: [],
    missing: ids.filter((id) => !rows.some((r) => r.id === id)),
    again: [],
  };
  const items: Replayable[] = [];
  for (const row of rows) {
    if (row.replayed_at !== null) report.again.push({ id: row.id, replayed_at: iso(row.replayed_at) });
    const parsed = IngestMessage.safeParse(row.message);
    if (!parsed.success) {
      report.unusable.push({ id: row.id, source: row.source, error: parsed.error.issues[0]?.message ?? "invalid" });
      continue;
    }
    items.push({ id: row.id, update: updateOf(parsed.data) });
  }
  for (let i = 0; i < items.length; i += REPLAY_CHUNK) {
    const out = await pushChunk(push, items.slice(i, i + REPLAY_CHUNK));
    report.replayed.push(...out.accepted);
    report.refused.push(...out.refused);
    if (out.accepted.length > 0)
      await client.query("update dead_letters set replayed_at = now() where id = any($1::int[])", [out.accepted]);
  }
  return report;
}
