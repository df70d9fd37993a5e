// Errors with a public code, HTTP status and optional details; turned into JSON in one place.
import { z } from "zod";

export const ErrorCode = z.enum([
  "bad_request",
  "validation_failed",
  "unauthorized",
  "forbidden",
  "not_found",
  "method_not_allowed",
  "payload_too_large",
  "unsupported_media_type",
  "rate_limited",
  "unavailable",
  "conflict",
  "value_required",
  "internal",
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  value_required: 422,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export class FeatureStoreError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FeatureStoreError";
    this.code = code;
    this.status = STATUS[code];
    this.details = details;
  }
}

/** Every error answer of both Workers: `{"error": {"code", "message", "details"?}}`. */
export const ErrorBody = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    /** Machine-readable specifics, e.g. `issues: [{path, message}]` for bad input, `unknown_features`, `limit`. */
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export function errorBody(err: FeatureStoreError): ErrorBody {
  return {
    error: {
      code: err.code,
      message: err.message,
      ...(err.details === undefined ? {} : { details: err.details }),
    },
  };
}

/** Characters of client input an error message may echo (a path segment, a key, a JSON parser's excerpt). */
export const MAX_ECHOED_INPUT_CHARS = 64;

// biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Client input as an error message may echo it: at most `max` characters (then "…"), control
 * characters and lone surrogates written as \uXXXX, so an answer never carries raw hostile bytes.
 */
export function snippet(text: string, max = MAX_ECHOED_INPUT_CHARS): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut.replace(UNPRINTABLE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Names from client input for a message: the first `max` as snippets, then "(and N more)". */
export function listedSnippets(names: readonly string[], max = 10): string {
  const listed = names
    .slice(0, max)
    .map((n) => snippet(n))
    .join(", ");
  return names.length > max ? `${listed} (and ${names.length - max} more)` : listed;
}

/** zod issues → `[{path: "a.b", message}]`, so a 400 names the offending fields (keys and messages as snippets). */
export function describeZodIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({
    path: i.path.map((p) => snippet(String(p))).join(".") || "(root)",
    message: snippet(i.message, 300),
  }));
}

export function invalidInput(what: string, error: z.ZodError): FeatureStoreError {
  const issues = describeZodIssues(error);
  const named = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  return new FeatureStoreError("bad_request", `Invalid ${what}: ${named}`, { issues });
}

/** Postgres' five-character SQLSTATE (23505, 3D000, XX000: always with a digit); Node's EPIPE or ERR_… are not one. */
const SQLSTATE = /^(?=.*\d)[0-9A-Z]{5}$/;

/**
 * A readable message from anything thrown: Errors (with their SQLSTATE unless `sqlState: false`),
 * an AggregateError with no message of its own (pg's IPv4 + IPv6 connect attempts), WebSocket
 * ErrorEvents, strings.
 */
export function errorMessage(err: unknown, opts: { sqlState?: boolean } = {}): string {
  if (err instanceof AggregateError && !err.message) return err.errors.map((e: unknown) => errorMessage(e, opts)).join("; ");
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const message = err.message || err.name;
    return opts.sqlState !== false && typeof code === "string" && SQLSTATE.test(code) ? `${message} (SQLSTATE ${code})` : message;
  }
  if (err && typeof err === "object" && "message" in err && typeof (err as { message: unknown }).message === "string")
    return (err as { message: string }).message || "unknown error";
  return String(err);
}

/** The 400 of a push or event batch whose items broke rules: the first 10 issues in the message, all in details. */
export function validationFailed(subject: string, issues: readonly { path: string; message: string }[]): FeatureStoreError {
  const named = issues
    .slice(0, 10)
    .map((i) => `${i.path}: ${i.message}`)
    .join("; ");
  return new FeatureStoreError(
    "validation_failed",
    `Invalid ${subject}: ${named}${issues.length > 10 ? ` (and ${issues.length - 10} more)` : ""}`,
    {
      issues,
    },
  );
}
