// Routes declared once from their zod schemas: the validator, the typed handler input, the error answer and the OpenAPI entry.
//
// Library: @hono/zod-openapi, Hono's own. One `createRoute` declaration holds the request (path
// and query parameters, body) and every response with its status; the handler is typed from it
// (`c.req.valid(...)` from the request schemas, and `c.json(body, status)` must be one of the
// declared responses, so a new answer that is not documented fails the typecheck). Sub-apps merge
// their declarations on `app.route()`, and `getOpenAPI31Document()` writes OpenAPI 3.1. It takes
// zod ^4, which our schemas already are.
// hono-openapi was the other candidate: its `describeRoute` documents responses apart from the
// validator middleware and does not type handler answers against them, which is how the old
// hand-written table drifted.
//
// Declarations are registered by `openapiRoute` below instead of `OpenAPIHono.openapi()`, which
// answers 415 to a JSON body sent without `Content-Type: application/json`. Feast's SDK posts its
// JSON without one and Feast's docs call the server with `curl -d` (a form type), so, as before,
// every body is read as JSON whatever its declared type: after `hono/body-limit` (which also counts
// chunked bodies that carry no Content-Length), parsed, checked against the declared schema and
// refused with `invalidInput(...)`: one place for every route of both Workers.
//
// Schemas carry documentation through zod's own `.meta()` and become components with `component()`
// below, never through the `.openapi()` method @hono/zod-openapi adds to zod: zod 4 copies
// prototype methods onto a schema when it is built, so a schema of src/core built before that
// module loaded would lack the method, depending on import order.
import { zodToOpenAPIRegistry } from "@asteasolutions/zod-to-openapi";
import { type OpenAPIHono, type RouteConfig, type RouteHandler, z } from "@hono/zod-openapi";
import type { Context, Env, Hono, MiddlewareHandler, TypedResponse } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { JSONParsed } from "hono/utils/types";
import { ErrorBody, errorBody, errorMessage, FeatureStoreError, invalidInput, snippet } from "../core/errors";
import type { JsonText } from "../core/json-text";
import { duplicateKeyPath } from "./json-duplicate-keys";

/**
 * Makes `schema` the component `name`: documents refer to it (`#/components/schemas/<name>`)
 * wherever it appears, also inside other schemas (a batch of FeatureRequest). The schema object
 * itself is marked, so validation and documentation keep using the very schema of src/core.
 */
export function component<S extends z.ZodType>(schema: S, name: string): S {
  const meta = zodToOpenAPIRegistry.get(schema);
  zodToOpenAPIRegistry.add(schema, { ...meta, _internal: { ...meta?._internal, refId: name } });
  return schema;
}

/** The error shape as a component; every error response refers to it. */
export const ErrorResponse = component(ErrorBody, "Error");

/** What each error status means, shared by every route that can answer it. */
const ERROR_MEANINGS = {
  400: "Bad input; `details.issues` names each offending field",
  401: "Missing or unknown API key",
  403: "The API key lacks the scope this route needs (`details.required`)",
  404: "Unknown name (feature, entity key); `details` lists them",
  405: "Method not allowed on this path; the `Allow` header lists the methods it serves",
  413: "Body, batch or result over its limit; `details.limit` gives the limit",
  415: "The body's Content-Type is not JSON: send application/json (none, text/plain and the form type of `curl -d` are read as JSON too)",
  422: "A feature with null_policy reject has no value (`details.features`)",
  429: "Too many requests from this API key (or, without a known key, this client IP); wait the `Retry-After` seconds",
  500: "Internal error (a bug, never bad input); details are in the Worker logs",
  503: "No storage tier could answer, or a tier the route needs is not configured",
} as const;
export type ErrorStatus = keyof typeof ERROR_MEANINGS;

const errorContent = { "application/json": { schema: ErrorResponse } } as const;
const allowHeader = z.object({ Allow: z.string().meta({ description: "The methods this path serves, e.g. POST or GET, HEAD" }) });
const retryAfterHeader = z.object({
  "Retry-After": z.string().meta({ description: "Whole seconds until this caller's requests pass again" }),
});
const ERROR_HEADERS: Partial<Record<ErrorStatus, typeof allowHeader | typeof retryAfterHeader>> = {
  405: allowHeader,
  429: retryAfterHeader,
};

type ErrorResponseConfig = { description: string; content: typeof errorContent; headers?: typeof allowHeader | typeof retryAfterHeader };
type ErrorResponses<S extends ErrorStatus> = { [K in S]: ErrorResponseConfig };

/**
 * Error responses of a route. 405, 429 and 500 are added to every route (any path answers 405 to a
 * method it does not serve; every request passes the rate limiter of src/http/rate-limit.ts; 500
 * is a bug); `meanings` overrides the generic descriptions.
 */
export function errors<S extends ErrorStatus>(
  statuses: readonly S[],
  meanings: Partial<Record<S, string>> = {},
): ErrorResponses<S | 405 | 429 | 500> {
  const out: Partial<Record<ErrorStatus, ErrorResponseConfig>> = {};
  for (const status of [...statuses, 405 as const, 429 as const, 500 as const]) {
    const headers = ERROR_HEADERS[status];
    out[status] = {
      description: meanings[status as S] ?? ERROR_MEANINGS[status],
      content: errorContent,
      ...(headers ? { headers } : {}),
    };
  }
  return out as ErrorResponses<S | 405 | 429 | 500>;
}

/** A JSON response. */
export function json<S extends z.ZodType>(schema: S, description: string) {
  return { description, content: { "application/json": { schema } } } as const;
}

/**
 * A 200-style JSON answer from text already written (src/core/json-text.ts): the response c.json
 * gives for the value, typed as c.json types it, without stringifying an object graph.
 */
export function jsonText<T, S extends ContentfulStatusCode>(
  c: Context,
  text: JsonText<T>,
  status: S,
): Response & TypedResponse<JSONParsed<T>, S, "json"> {
  return c.body(text, status, { "Content-Type": "application/json" }) as unknown as Response & TypedResponse<JSONParsed<T>, S, "json">;
}

/**
 * A response the handler streams itself (CSV, NDJSON): documented with its media types, typed as a
 * plain Response (the media type keys are widened to string on purpose, so no typed body is expected).
 */
export function streamed(
  description: string,
  content: Partial<Record<string, { schema: z.ZodType }>>,
  headers?: z.ZodObject,
): { description: string; content: Partial<Record<string, { schema: z.ZodType }>>; headers?: z.ZodObject } {
  return { description, content, ...(headers ? { headers } : {}) };
}

/** Bearer API key, the security of every route but /health, /metrics and /openapi.json. */
export const BEARER = [{ bearer: [] }];

/** A zod result with any error type: the declared schema's, or a route's own parser's. */
export type Parsed<T> = { success: true; data: T } | { success: false; error: z.ZodError };

export interface JsonBodyOptions<T> {
  /** Named by the 400 answer: "Invalid <subject>: <path>: <problem>; ...". */
  subject: string;
  /** Bytes the body may have (Content-Length or, for chunked bodies, what actually arrives). */
  maxBytes: number;
  /** Appended to the 413 message: where bigger inputs go. */
  hint?: string;
  /** Runs on the parsed JSON before validation, e.g. a 413 for too many items before checking each of them. */
  precheck?: (raw: unknown) => void;
  /** A parser with more precise issue paths than the declared schema's (it must accept exactly what the schema does). */
  parse?: (raw: unknown) => Parsed<T>;
}

const bodyOptions = new WeakMap<object, JsonBodyOptions<unknown>>();

/** A required JSON request body, validated by `schema` (or `options.parse`) within `options.maxBytes`. */
export function jsonBody<S extends z.ZodType>(schema: S, options: JsonBodyOptions<z.output<S>>) {
  const body = { required: true, content: { "application/json": { schema } } } as const;
  bodyOptions.set(body, options as JsonBodyOptions<unknown>);
  return body;
}

const subjects = new WeakMap<z.ZodType, string>();

/** Names what a query or path schema validates in its 400 answer ("Invalid runs query: ..."); default "query" / "path". */
export function named<S extends z.ZodType>(schema: S, subject: string): S {
  subjects.set(schema, subject);
  return schema;
}

/** A 413 in our error shape; also for chunked bodies, which carry no Content-Length. */
export function limitBody(maxBytes: number, hint?: string): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) => {
      const declared = c.req.header("content-length");
      const size = declared === undefined ? "" : ` of ${declared} bytes`;
      throw new FeatureStoreError("payload_too_large", `Body${size} exceeds the limit of ${maxBytes} bytes${hint ? `; ${hint}` : ""}`, {
        limit: maxBytes,
        ...(declared === undefined ? {} : { bytes: Number(declared) }),
      });
    },
  });
}

function validateInput(target: "param" | "query", schema: z.ZodType): MiddlewareHandler {
  const subject = subjects.get(schema) ?? (target === "param" ? "path" : "query");
  return async (c, next) => {
    const parsed = schema.safeParse(target === "param" ? c.req.param() : c.req.query());
    if (!parsed.success) throw invalidInput(subject, parsed.error);
    c.req.addValidatedData(target, parsed.data as object);
    await next();
  };
}

/**
 * Media types a JSON body may be declared as, each read as JSON: none (Feast's SDK), JSON, the
 * form type `curl -d` sends (Feast's docs call the server so) and text/plain (what the Fetch API
 * declares for a string body sent without a type). Anything else (text/xml, text/csv,
 * multipart/form-data, ...) is a 415, so a body in another format is never guessed at.
 */
export const JSON_BODY_MEDIA_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain"] as const;

function checkContentType(): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header("content-type");
    const media = header?.split(";")[0]?.trim().toLowerCase();
    if (media && !(JSON_BODY_MEDIA_TYPES as readonly string[]).includes(media))
      throw new FeatureStoreError(
        "unsupported_media_type",
        `Content-Type ${snippet(media)} is not supported; send the body as application/json`,
        { accepted: [...JSON_BODY_MEDIA_TYPES] },
      );
    await next();
  };
}

function parseJsonBody(schema: z.ZodType, options: JsonBodyOptions<unknown>): MiddlewareHandler {
  return async (c, next) => {
    const text = await c.req.text();
    if (text.trim() === "") throw new FeatureStoreError("bad_request", "Request body is empty; expected JSON");
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new FeatureStoreError("bad_request", `Malformed JSON body: ${snippet(errorMessage(err), 120)}`);
    }
    // JSON.parse keeps the last of two equal keys; a body whose meaning depends on that is refused.
    const duplicate = duplicateKeyPath(text, raw);
    if (duplicate !== undefined)
      throw new FeatureStoreError("bad_request", `Duplicate key in JSON body: ${snippet(duplicate)}`, {
        issues: [{ path: snippet(duplicate), message: "is given twice" }],
      });
    options.precheck?.(raw);
    const parsed = options.parse ? options.parse(raw) : schema.safeParse(raw);
    if (!parsed.success) throw invalidInput(options.subject, parsed.error);
    c.req.addValidatedData("json", parsed.data as object);
    await next();
  };
}

/** `/registry/features/{name}` → `/registry/features/:name`. */
export function honoPath(openApiPath: string): string {
  return openApiPath.replaceAll(/\{([^}]+)\}/g, ":$1");
}

/**
 * Registers a declared route: documents it, then runs its middleware (auth), its body limit, the
 * validation of its path, query and body, and the handler typed from the declaration.
 */
export function openapiRoute<E extends Env, R extends RouteConfig>(app: OpenAPIHono<E>, route: R, handler: RouteHandler<R, E>): void {
  const { middleware, hide, ...declaration } = route;
  // Every route with a body can answer 415 (checkContentType): documented here, once for all of them.
  const documented = route.request?.body
    ? { ...declaration, responses: { 415: errors([415])[415], ...declaration.responses } }
    : declaration;
  if (!hide) app.openAPIRegistry.registerPath(documented);
  const steps: MiddlewareHandler[] = middleware === undefined ? [] : Array.isArray(middleware) ? [...middleware] : [middleware];
  const { params, query, body } = route.request ?? {};
  if (params) steps.push(validateInput("param", params));
  if (query) steps.push(validateInput("query", query));
  if (body) {
    const options = bodyOptions.get(body);
    const media = body.content["application/json"];
    const schema = media && "schema" in media ? media.schema : undefined;
    if (!options || !(schema instanceof z.ZodType)) throw new Error(`${route.method} ${route.path}: declare its body with jsonBody()`);
    steps.push(checkContentType(), limitBody(options.maxBytes, options.hint), parseJsonBody(schema, options));
  }
  app.on([route.method.toUpperCase()], [honoPath(route.path)], ...steps, handler as MiddlewareHandler);
}

/**
 * After every route is registered: a known path answers other methods with 405, an `Allow` header
 * and our error shape (HEAD comes with GET); unknown paths stay 404.
 */
export function answerOtherMethodsWith405<E extends Env>(app: Hono<E>): void {
  const methods = new Map<string, Set<string>>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    const set = methods.get(r.path) ?? new Set<string>();
    set.add(r.method);
    methods.set(r.path, set);
  }
  for (const [path, set] of methods) {
    const allow = [...set, ...(set.has("GET") ? ["HEAD"] : [])].join(", ");
    app.all(path, (c) =>
      c.json(
        errorBody(new FeatureStoreError("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}; use ${allow}`, { allow })),
        405,
        { Allow: allow },
      ),
    );
  }
}

type OpenAPIObject = ReturnType<OpenAPIHono["getOpenAPI31Document"]>;

/** The OpenAPI 3.1 document of an app, built once (after every route is registered) and then served as is. */
export function openApiDocument<E extends Env>(app: OpenAPIHono<E>, title: string, description: string): () => OpenAPIObject {
  let doc: OpenAPIObject | undefined;
  return () => {
    if (!doc) {
      app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
        type: "http",
        scheme: "bearer",
        description: "An API key; its scopes (serve, ingest, admin) decide which routes it may call",
      });
      doc = app.getOpenAPI31Document({ openapi: "3.1.0", info: { title, version: "1.0.0", description } });
    }
    return doc;
  };
}
