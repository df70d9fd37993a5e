// A stand-in for the ingest Worker's POST /admin/materialize behind the serving Worker's INGEST service
// binding in the serving tests (that project runs one Worker). It answers NDJSON progress as the real one
// does, one succeeded run per feature whose interval_start echoes the `since` it was sent. The real path
// (both Workers, real runs) is exercised by Feast's SDK in `npm run feast:e2e`.
export async function fakeIngest(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (request.method !== "POST" || url.pathname !== "/admin/materialize")
    return Response.json({ error: { code: "not_found", message: "fake ingest: only POST /admin/materialize" } }, { status: 404 });
  if (!request.headers.get("authorization"))
    return Response.json({ error: { code: "unauthorized", message: "fake ingest: no key forwarded" } }, { status: 401 });
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
