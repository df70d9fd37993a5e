// A stand-in for the ingest Worker's POST /admin/materialize behind the serving Worker's INGEST service
// binding in the serving tests (that project runs one Worker). It answers NDJSON progress as the real one
// does, one succeeded run per feature whose interval_start echoes the `since` it was sent. The real path
// (both Workers, real runs) is exercised by Feast's SDK in `npm run feast:e2e`.
// For the console (test/workers/ui.test.ts) it also plays GET /health and the dead letter routes, with
// one dead letter (id 7) that replays and any other id missing; the real routes are test/ingest/dead-letters.test.ts.
export const FAKE_DEAD_LETTER_ID = 7;

export async function fakeIngest(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (request.method === "GET" && url.pathname === "/health")
    return Response.json({ status: "ok", worker: "feature-ingest", tiers: { postgres: { status: "ok", latency_ms: 1 } } });
  if (!request.headers.get("authorization"))
    return Response.json({ error: { code: "unauthorized", message: "fake ingest: no key forwarded" } }, { status: 401 });
  if (request.method === "GET" && url.pathname === "/admin/dead-letters")
    return Response.json({
      dead_letters: [
        {
          id: FAKE_DEAD_LETTER_ID,
          message_id: "m-7",
          created_at: new Date().toISOString(),
          source: "validation",
          attempts: 1,
          entity: "user:user_1",
          message: {},
          reasons: [{ feature: "skip_rate_7d", rule: "max_value", message: "1.5 is above max_value 1" }],
          replayed_at: null,
        },
      ],
    });
  if (request.method === "POST" && url.pathname === "/admin/dead-letters/replay") {
    const { ids = [] } = (await request.json()) as { ids?: number[] };
    const known = ids.filter((id) => id === FAKE_DEAD_LETTER_ID);
    return Response.json({
      considered: known.length,
      replayed: known,
      refused: [],
      unusable: [],
      missing: ids.filter((id) => id !== FAKE_DEAD_LETTER_ID),
      again: [],
    });
  }
  if (request.method !== "POST" || url.pathname !== "/admin/materialize")
    return Response.json({ error: { code: "not_found", message: "fake ingest: only POST /admin/materialize" } }, { status: 404 });
  const body = (await request.json()) as { features: string[]; since?: string };
  const now = new Date().toISOString();
  const runs = body.features.map((feature, i) => ({
    id: i + 1,
    feature,
    status: "succeeded",
    trigger: "api",
    interval_start: body.since ?? null,
    interval_end: now,
    rows_read: 3,
    rows_written: 3,
    rejects: 0,
    cursor: null,
    error: null,
    started_at: now,
    finished_at: now,
    duration_ms: 1,
    complete: true,
  }));
  const lines = [{ type: "start", features: body.features }, ...runs.map((run) => ({ type: "run_finished", run })), { type: "done", runs }];
  return new Response(lines.map((l) => `${JSON.stringify(l)}\n`).join(""), { headers: { "content-type": "application/x-ndjson" } });
}
