// One place where thrown errors become JSON responses: public message out, internals to the log.

import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { errorBody, FeatureStoreError } from "../core/errors";
import { log } from "../core/log";

export const onError: ErrorHandler = (err, c) => {
  if (err instanceof FeatureStoreError) return c.json(errorBody(err), err.status as 400);
  if (err instanceof HTTPException) {
    const code = err.status === 401 ? "unauthorized" : err.status === 413 ? "payload_too_large" : "bad_request";
    const fse = new FeatureStoreError(err.status >= 500 ? "internal" : code, err.message || "Request failed");
    return c.json(errorBody(fse), err.status);
  }
  // The stack goes to the Worker's logs only; the client gets the generic body below.
  log("error", "unhandled_error", {
    method: c.req.method,
    path: c.req.path,
    error: err,
    stack: err instanceof Error ? err.stack : undefined,
  });
  return c.json(errorBody(new FeatureStoreError("internal", "Internal error; see the Worker logs")), 500);
};

export const notFound: NotFoundHandler = (c: Context) =>
  c.json(errorBody(new FeatureStoreError("not_found", `No route for ${c.req.method} ${c.req.path}`)), 404);
