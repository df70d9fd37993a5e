// Structured logs: one JSON line per event on the console, the one format of Workers (Workers Logs) and Node tooling.
import { errorMessage } from "./errors";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

/** An event as one record (`{ event, level?, ...fields }`), the shape injected loggers take. */
export type LogRecord = LogFields & { event: string; level?: LogLevel };
export type Logger = (record: LogRecord) => void;

/** Errors become their message: JSON.stringify would turn them into `{}`. */
function replacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? errorMessage(value) : value;
}

/**
 * Writes `{"level":…,"event":…,…fields}` as one line: errors on console.error, warnings on
 * console.warn (stderr in Node, the matching level in Workers Logs), the rest on console.log.
 */
export function log(level: LogLevel, event: string, fields: LogFields = {}): void {
  // Level and event come first and are never overwritten by a field of the same name.
  const line = JSON.stringify(Object.assign({ level, event }, fields, { level, event }), replacer);
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/** A Logger over log(): `level` defaults to info. */
export const logRecord: Logger = ({ event, level = "info", ...fields }) => log(level, event, fields);
