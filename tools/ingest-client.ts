// The admin CLIs' client of the ingest Worker: where it is (env, else the dev stack) and fetches with one-line errors.
import { readDevStack } from "./dev-stack";

/** How much of an answer that is not our JSON error shape (a proxy's HTML page, say) to quote. */
const MAX_QUOTED_BODY_CHARS = 300;

export interface IngestEndpoint {
  url: string;
  key: string;
  /** Where url and key came from, for error messages. */
  from: string;
}

/** INGEST_URL + FEATURE_STORE_API_KEY, else the running dev stack. */
export function ingestEndpoint(): IngestEndpoint {
  const url = process.env.INGEST_URL;
  const key = process.env.FEATURE_STORE_API_KEY;
  if (url && key) return { url: url.replace(/\/+$/, ""), key, from: "INGEST_URL" };
  const stack = readDevStack();
  if (stack) return { url: url?.replace(/\/+$/, "") ?? stack.ingestUrl, key: key ?? stack.devApiKey, from: ".data/dev-stack.json" };
  throw new Error(
    url
      ? "INGEST_URL is set but FEATURE_STORE_API_KEY is not: set the API key (scope admin/ingest) too."
      : "No ingest Worker known: start the stack with npm run dev, or set INGEST_URL and FEATURE_STORE_API_KEY.",
  );
}

/** A fetch to the ingest Worker; unreachable or a refused key is an Error with one line saying so. */
export async function callIngest(ep: IngestEndpoint, path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(`${ep.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${ep.key}`, "content-type": "application/json", ...(init.headers ?? {}) },
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `ingest Worker not reachable at ${ep.url} (${cause?.code ?? cause?.message ?? String(err)}): start it with npm run dev`,
    );
  }
  if (res.status === 401 || res.status === 403)
    throw new Error(`the ingest Worker at ${ep.url} refused the API key from ${ep.from} (${res.status}: ${await responseError(res)})`);
  return res;
}

/** The message of an error answer: our `{error: {message}}`, else the start of the body. */
export async function responseError(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    return body.error?.message ?? text.slice(0, MAX_QUOTED_BODY_CHARS);
  } catch {
    // Not our JSON error shape (a proxy's HTML page, say): show the start of it.
    return text.slice(0, MAX_QUOTED_BODY_CHARS) || res.statusText;
  }
}
