// Parsers for the serving Worker's tuning vars: a malformed value is reported and the default used.
import { log } from "../core/log";

/**
 * A positive integer var, or `fallback` when unset. A malformed value is reported and ignored: a
 * typo in a tuning knob must not take serving down.
 */
export function positiveIntVar<K extends string>(env: Partial<Record<NoInfer<K>, unknown>>, name: K, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (Number.isInteger(n) && n > 0) return n;
  log("error", "invalid_var", {
    var: name,
    message: `${name}=${JSON.stringify(raw)} is not a positive integer; using the default ${fallback}`,
  });
  return fallback;
}

/**
 * A var with a fixed set of values (case-insensitive; `aliases` maps extra spellings such as
 * "true" → "on"), or `fallback` when unset; anything else is reported and ignored.
 */
export function choiceVar<T extends string, K extends string>(
  env: Partial<Record<NoInfer<K>, unknown>>,
  name: K,
  choices: readonly T[],
  fallback: T,
  aliases: Record<string, T> = {},
): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = String(raw).trim().toLowerCase();
  const hit = choices.find((c) => c === v) ?? aliases[v];
  if (hit) return hit;
  log("error", "invalid_var", {
    var: name,
    message: `${name}=${JSON.stringify(raw)} is not one of ${choices.join(", ")}; using the default ${fallback}`,
  });
  return fallback;
}

/** "true"/"1" and "false"/"0" for a var whose values include on and off. */
export const ON_OFF_ALIASES = { true: "on", "1": "on", false: "off", "0": "off" } as const;
