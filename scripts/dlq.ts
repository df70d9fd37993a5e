// npm run dlq: lists dead letters with their reasons and replays them through the ingest Worker's push endpoint.
import { parseArgs } from "node:util";
import type pg from "pg";
import { type DeadLetterReason, type FeatureUpdate, IngestMessage, updateOf } from "../src/core/ingest-message";
import type { deadLetters, SqlRow } from "../src/db/schema";
import { EXIT_OK, EXIT_USAGE, isParseArgsError, runIfMain, UsageError } from "../tools/cli";
import { requireDatabaseUrl } from "../tools/dev-stack";
import { callIngest, type IngestEndpoint, ingestEndpoint, responseError } from "../tools/ingest-client";
import { PgConnectError, withPgClient } from "../tools/postgres";

const USAGE = `Usage:
  npm run dlq -- list [--json] [--limit N] [--pending]
      dead letters, newest first: id, when, source, entity, reasons (--pending: not yet replayed)
  npm run dlq -- replay [ID ...]
      push the original updates again (source "replay") through the ingest Worker; without IDs,
      every dead letter not yet replayed. They are validated again: a replay that still fails
      becomes a new dead letter.

Postgres comes from DATABASE_URL, else the running dev stack; the ingest Worker from INGEST_URL and
FEATURE_STORE_API_KEY, else the dev stack.`;

const DEFAULT_LIST_LIMIT = 50;
/** Updates per replay push; far below the endpoint's limit so one bad letter costs little to isolate. */
const REPLAY_CHUNK = 100;
/** Characters of the reasons column in the table. */
const REASONS_WIDTH = 90;

/** A dead_letters row; `reasons` is what the ingest Worker stored in the jsonb column. */
type DeadLetter = Omit<SqlRow<typeof deadLetters>, "reasons"> & { reasons: DeadLetterReason[] };

function entityOf(message: unknown): string {
  const m = message as { entity_type?: unknown; entity_id?: unknown } | null;
  return m && typeof m.entity_type === "string" && typeof m.entity_id === "string" ? `${m.entity_type}:${m.entity_id}` : "?";
}

/** "tst_affinity max_value, tst_plays_1h min_value"; a whole-message reason shows its message. */
function summarizeReasons(reasons: DeadLetterReason[], width = REASONS_WIDTH): string {
  const parts = reasons.map((r) => (r.feature === "*" ? r.message : `${r.feature} ${r.rule}`));
  let text = parts.join(", ");
  if (text.length > width) {
    const shown: string[] = [];
    for (const p of parts) {
      if ([...shown, p].join(", ").length > width - 12) break;
      shown.push(p);
    }
    text = shown.length > 0 ? `${shown.join(", ")} +${parts.length - shown.length} more` : `${text.slice(0, width - 1)}…`;
  }
  return text;
}

const when = (d: Date) => `${d.toISOString().replace("T", " ").slice(0, 19)}Z`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r
      .map((c, i) => (i === 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  return lines.join("\n");
}

async function withDb<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  try {
    return await withPgClient(requireDatabaseUrl(), fn);
  } catch (err) {
    if (err instanceof PgConnectError)
      throw new Error(`cannot connect to Postgres (${err.message}): start it with npm run dev or fix DATABASE_URL`, { cause: err });
    throw err;
  }
}

async function list(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      limit: { type: "string", default: String(DEFAULT_LIST_LIMIT) },
      pending: { type: "boolean", default: false },
    },
    strict: true,
  });
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, not "${values.limit}"`);
  const rows = await withDb(async (client) => {
    const res = await client.query<DeadLetter>(
      `select id, message_id, created_at, source, attempts, message, reasons, replayed_at
         from dead_letters where ($2::boolean is false or replayed_at is null)
        order by id desc limit $1`,
      [limit, values.pending],
    );
    return res.rows;
  });
  if (values.json) {
    console.log(
      JSON.stringify(
        rows.map((r) => ({
          ...r,
          entity: entityOf(r.message),
          created_at: r.created_at.toISOString(),
          replayed_at: r.replayed_at?.toISOString() ?? null,
        })),
        null,
        2,
      ),
    );
    return 0;
  }
  if (rows.length === 0) {
    console.log(values.pending ? "no dead letters waiting for a replay" : "no dead letters");
    return 0;
  }
  console.log(
    table([
      ["id", "when", "source", "attempts", "entity", "reasons", "replayed"],
      ...rows.map((r) => [
        String(r.id),
        when(r.created_at),
        r.source,
        String(r.attempts),
        entityOf(r.message),
        summarizeReasons(r.reasons),
        r.replayed_at ? when(r.replayed_at) : "-",
      ]),
    ]),
  );
  return 0;
}

interface Replayable {
  id: number;
  update: FeatureUpdate;
}

/** Pushes updates with source=replay; returns the ids accepted and, for refused ones, why. */
async function pushReplays(
  ep: IngestEndpoint,
  items: Replayable[],
): Promise<{ accepted: number[]; refused: { id: number; error: string }[] }> {
  const res = await callIngest(ep, "/ingest/push?source=replay", { method: "POST", body: JSON.stringify(items.map((i) => i.update)) });
  if (res.status === 202) return { accepted: items.map((i) => i.id), refused: [] };
  const error = await responseError(res);
  if ((res.status === 400 || res.status === 413) && items.length > 1) {
    // One bad letter refuses the whole push: isolate it by pushing one at a time.
    const out = { accepted: [] as number[], refused: [] as { id: number; error: string }[] };
    for (const item of items) {
      const one = await pushReplays(ep, [item]);
      out.accepted.push(...one.accepted);
      out.refused.push(...one.refused);
    }
    return out;
  }
  if (res.status === 400 || res.status === 413) return { accepted: [], refused: [{ id: items[0]!.id, error }] };
  throw new Error(`the ingest Worker answered ${res.status}: ${error}`);
}

async function replay(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, options: {}, strict: true, allowPositionals: true });
  const ids = positionals.map((p) => {
    if (!/^\d+$/.test(p)) throw new UsageError(`dead letter ids are numbers (see npm run dlq -- list), not "${p}"`);
    return Number(p);
  });
  const ep = ingestEndpoint();
  return withDb(async (client) => {
    const res = await client.query<Pick<DeadLetter, "id" | "message" | "replayed_at" | "source">>(
      ids.length > 0
        ? "select id, message, replayed_at, source from dead_letters where id = any($1::int[]) order by id"
        : "select id, message, replayed_at, source from dead_letters where replayed_at is null order by id",
      ids.length > 0 ? [ids] : [],
    );
    const missing = ids.filter((id) => !res.rows.some((r) => r.id === id));
    for (const id of missing) console.error(`dead letter ${id} does not exist`);
    if (res.rows.length === 0) {
      console.log(ids.length > 0 ? "nothing to replay" : "no dead letters waiting for a replay");
      return missing.length > 0 ? 1 : 0;
    }
    const items: Replayable[] = [];
    let unusable = 0;
    for (const row of res.rows) {
      if (row.replayed_at) console.log(`dead letter ${row.id} was already replayed at ${when(row.replayed_at)}; replaying it again`);
      const parsed = IngestMessage.safeParse(row.message);
      if (!parsed.success) {
        unusable += 1;
        console.error(
          `dead letter ${row.id} (${row.source}) holds no valid update and cannot be replayed: ${parsed.error.issues[0]?.message ?? "invalid"}`,
        );
        continue;
      }
      items.push({ id: row.id, update: updateOf(parsed.data) });
    }
    const accepted: number[] = [];
    const refused: { id: number; error: string }[] = [];
    for (let i = 0; i < items.length; i += REPLAY_CHUNK) {
      const out = await pushReplays(ep, items.slice(i, i + REPLAY_CHUNK));
      accepted.push(...out.accepted);
      refused.push(...out.refused);
      if (out.accepted.length > 0)
        await client.query("update dead_letters set replayed_at = now() where id = any($1::int[])", [out.accepted]);
    }
    for (const r of refused) console.error(`dead letter ${r.id} refused by the push endpoint: ${r.error}`);
    console.log(
      `replayed ${accepted.length} of ${res.rows.length} dead letter${res.rows.length === 1 ? "" : "s"} (queued again with source "replay")` +
        (refused.length + unusable > 0 ? `; ${refused.length + unusable} could not be replayed` : ""),
    );
    return refused.length + unusable + missing.length > 0 ? 1 : 0;
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "list":
      return list(rest);
    case "replay":
      return replay(rest);
    case undefined:
    case "-h":
    case "--help":
    case "help":
      console.log(USAGE);
      return command === undefined ? EXIT_USAGE : EXIT_OK;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

runIfMain("dlq", import.meta.url, async () => {
  try {
    return await main(process.argv.slice(2));
  } catch (err) {
    // An unknown option is a usage mistake: show the usage with it.
    throw isParseArgsError(err) ? new UsageError(`${(err as Error).message}\n\n${USAGE}`) : err;
  }
});
