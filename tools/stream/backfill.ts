// The backfill client: pages POST /admin/backfill of the ingest Worker through every entity of an aggregation feature,
// keeping its cursor in a state file so an interrupted run resumes where it stopped (each page is idempotent).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { callIngest, type IngestEndpoint, responseError } from "../ingest-client";
import { DATA_DIR } from "../paths";

/** Entities per request. */
export const BACKFILL_PAGE_SIZE = 50;

export interface BackfillOptions {
  feature: string;
  /** ISO time; default: the oldest tile the feature's window and lateness can reach. */
  since?: string;
  /** Ignore a saved cursor and start from the first entity. */
  restart?: boolean;
  pageSize?: number;
  stateDir?: string;
  onPage?: (done: number, total: number, page: BackfillPageAnswer) => void;
}

export interface BackfillPageAnswer {
  feature: string;
  entity_type: string;
  from: string;
  total_entities: number;
  entities: number;
  events: number;
  replaced_tiles: number;
  next_after: string | null;
}

export interface BackfillSummary {
  feature: string;
  entities: number;
  events: number;
  pages: number;
  resumedAfter: string | undefined;
}

interface SavedCursor {
  feature: string;
  since: string | null;
  after: string;
  done: number;
}

const stateFile = (dir: string, feature: string) => path.join(dir, `backfill-${feature.replace(/[^a-z0-9_:-]/gi, "_")}.json`);

function readCursor(file: string, feature: string, since: string | undefined): SavedCursor | undefined {
  try {
    const saved = JSON.parse(readFileSync(file, "utf8")) as SavedCursor;
    return saved.feature === feature && saved.since === (since ?? null) ? saved : undefined;
  } catch {
    // No state file (or an unreadable one): start from the first entity; every page is idempotent anyway.
    return undefined;
  }
}

/** Runs the backfill to the end; the state file is removed once the last page is done. */
export async function runBackfill(ep: IngestEndpoint, opts: BackfillOptions): Promise<BackfillSummary> {
  const dir = opts.stateDir ?? DATA_DIR;
  mkdirSync(dir, { recursive: true });
  const file = stateFile(dir, opts.feature);
  const saved = opts.restart ? undefined : readCursor(file, opts.feature, opts.since);
  let after = saved?.after;
  let done = saved?.done ?? 0;
  const summary: BackfillSummary = { feature: opts.feature, entities: 0, events: 0, pages: 0, resumedAfter: saved?.after };
  for (;;) {
    const res = await callIngest(ep, "/admin/backfill", {
      method: "POST",
      body: JSON.stringify({ feature: opts.feature, since: opts.since, after, limit: opts.pageSize ?? BACKFILL_PAGE_SIZE }),
    });
    if (res.status !== 200) throw new Error(`POST /admin/backfill answered ${res.status}: ${await responseError(res)}`);
    const page = (await res.json()) as BackfillPageAnswer;
    summary.pages++;
    summary.entities += page.entities;
    summary.events += page.events;
    done += page.entities;
    opts.onPage?.(done, page.total_entities, page);
    if (page.next_after === null) break;
    after = page.next_after;
    writeFileSync(file, JSON.stringify({ feature: opts.feature, since: opts.since ?? null, after, done } satisfies SavedCursor));
  }
  rmSync(file, { force: true });
  return summary;
}
