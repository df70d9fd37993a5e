// How the console's pages read: the serving Worker's own routes in process (same validation, scopes and errors as
// over HTTP, with the session's key), and the ingest Worker's admin routes over the INGEST service binding.
import type { Context } from "hono";
import type { ServingHonoEnv } from "../serving/context";
import type { Session } from "./session";

/** The serving app's fetch, handed to the console by src/serving/app.ts (so src/ui does not import the app). */
export type AppFetch = (request: Request, env: ServingHonoEnv["Bindings"], ctx: ExecutionContext | undefined) => Promise<Response>;

/** `text` is the raw answer (GET /metrics is text); `body` of a failure is its JSON, e.g. a 503 health report. */
export type ApiResult<T> =
  | { ok: true; status: number; body: T; text: string }
  | { ok: false; status: number; message: string; code: string; body: unknown };

export function executionCtxOf(c: Context<ServingHonoEnv>): ExecutionContext | undefined {
  try {
    return c.executionCtx as ExecutionContext;
  } catch {
    // app.request in a handler test passes none.
    return undefined;
  }
}

async function resultOf<T>(res: Response): Promise<ApiResult<T>> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (res.ok) return { ok: true, status: res.status, body: body as T, text };
  const err = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  return {
    ok: false,
    status: res.status,
    code: err?.code ?? "error",
    message: err?.message ?? (text.slice(0, 200) || res.statusText),
    body,
  };
}

function init(session: Session, method: string, body: unknown): RequestInit {
  const headers: Record<string, string> = { authorization: `Bearer ${session.key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  return { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
}

export interface ConsoleApi {
  serving<T>(path: string, method?: string, body?: unknown): Promise<ApiResult<T>>;
  ingest<T>(path: string, method?: string, body?: unknown): Promise<ApiResult<T>>;
}

export function consoleApi(c: Context<ServingHonoEnv>, appFetch: AppFetch, session: Session): ConsoleApi {
  const base = new URL(c.req.url).origin;
  return {
    async serving<T>(path: string, method = "GET", body?: unknown) {
      return resultOf<T>(await appFetch(new Request(`${base}${path}`, init(session, method, body)), c.env, executionCtxOf(c)));
    },
    async ingest<T>(path: string, method = "GET", body?: unknown) {
      const ingest = c.env.INGEST as Fetcher | undefined;
      if (!ingest)
        return {
          ok: false,
          status: 503,
          code: "unavailable",
          message: "No INGEST service binding: the ingest Worker is out of reach",
          body: undefined,
        };
      try {
        return resultOf<T>(await ingest.fetch(`https://feature-ingest${path}`, init(session, method, body)));
      } catch (err) {
        return {
          ok: false,
          status: 503,
          code: "unavailable",
          message: `the ingest Worker did not answer: ${String(err).slice(0, 200)}`,
          body: undefined,
        };
      }
    },
  };
}
