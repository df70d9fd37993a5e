// npm run dlq: lists dead letters with their reasons and replays them through the ingest Worker's push endpoint (src/ingest/dead-letter-replay.ts).
import { parseArgs } from "node:util";
import type pg from "pg";
import type { DeadLetterReason } from "../src/core/ingest-message";
import { DEFAULT_DEAD_LETTER_LIMIT, listDeadLetters, type ReplayPush, replayDeadLetters } from "../src/ingest/dead-letter-replay";
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

/** Characters of the reasons column in the table. */
const REASONS_WIDTH = 90;

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

const when = (iso: string) => `${iso.replace("T", " ").slice(0, 19)}Z`;

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
      limit: { type: "string", default: String(DEFAULT_DEAD_LETTER_LIMIT) },
      pending: { type: "boolean", default: false },
    },
    strict: true,
  });
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, not "${values.limit}"`);
  const rows = await withDb((client) => listDeadLetters(client, { limit, pending: values.pending }));
  if (values.json) {
    console.log(JSON.stringify(rows, null, 2));
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
        r.entity,
        summarizeReasons(r.reasons),
        r.replayed_at ? when(r.replayed_at) : "-",
      ]),
    ]),
  );
  return 0;
}

/** The ingest Worker's push endpoint over HTTP, as the replay's push. */
function httpPush(ep: IngestEndpoint): ReplayPush {
  return async (updates) => {
    const res = await callIngest(ep, "/ingest/push?source=replay", { method: "POST", body: JSON.stringify(updates) });
    if (res.status === 202) return { accepted: true };
    const error = await responseError(res);
    if (res.status === 400 || res.status === 413) return { accepted: false, error };
    throw new Error(`the ingest Worker answered ${res.status}: ${error}`);
  };
}

async function replay(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, options: {}, strict: true, allowPositionals: true });
  const ids = positionals.map((p) => {
    if (!/^\d+$/.test(p)) throw new UsageError(`dead letter ids are numbers (see npm run dlq -- list), not "${p}"`);
    return Number(p);
  });
  const ep = ingestEndpoint();
  const report = await withDb((client) => replayDeadLetters(client, ids, httpPush(ep)));
  for (const id of report.missing) console.error(`dead letter ${id} does not exist`);
  if (report.considered === 0) {
    console.log(ids.length > 0 ? "nothing to replay" : "no dead letters waiting for a replay");
    return report.missing.length > 0 ? 1 : 0;
  }
  for (const a of report.again) console.log(`dead letter ${a.id} was already replayed at ${when(a.replayed_at)}; replaying it again`);
  for (const u of report.unusable)
    console.error(`dead letter ${u.id} (${u.source}) holds no valid update and cannot be replayed: ${u.error}`);
  for (const r of report.refused) console.error(`dead letter ${r.id} refused by the push endpoint: ${r.error}`);
  const failed = report.refused.length + report.unusable.length;
  console.log(
    `replayed ${report.replayed.length} of ${report.considered} dead letter${report.considered === 1 ? "" : "s"} (queued again with source "replay")` +
      (failed > 0 ? `; ${failed} could not be replayed` : ""),
  );
  return failed + report.missing.length > 0 ? 1 : 0;
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
