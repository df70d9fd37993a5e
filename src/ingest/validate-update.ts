// Validates an update's features against the registry: names, entity type, writability and every value rule.
import type { FeatureDefinition } from "../core/definitions";
import {
  type DeadLetterReason,
  eventTimeMs,
  type FeatureUpdate,
  MAX_FUTURE_SKEW_MS,
  MAX_REASON_MESSAGE_CHARS,
  MAX_REASON_VALUE_CHARS,
} from "../core/ingest-message";
import type { CompiledRegistry } from "../core/registry";
import { validateValue } from "../core/validation";

/** A feature of the update, resolved to its definition. */
export interface ResolvedWrite {
  def: FeatureDefinition;
  value: unknown;
}

export interface UpdateCheck {
  reasons: DeadLetterReason[];
  writes: ResolvedWrite[];
  eventTimestamp: number;
}

/**
 * Checks names only (unknown, other entity type, on_demand, given twice): what the push endpoint
 * can refuse early. Each problem keeps the reference as sent; its reason names the flat feature.
 */
export function nameProblems(
  registry: CompiledRegistry,
  update: Pick<FeatureUpdate, "entity_type" | "features">,
): { ref: string; reason: DeadLetterReason }[] {
  const problems: { ref: string; reason: DeadLetterReason }[] = [];
  const seen = new Map<string, string>();
  for (const ref of Object.keys(update.features)) {
    const def = registry.resolve(ref);
    if (!def) {
      problems.push({ ref, reason: reason(ref, "unknown_feature", `no feature "${ref}" in registry ${registry.version}`) });
      continue;
    }
    if (def.entity_type !== update.entity_type) {
      const message = `${def.name} belongs to entity type "${def.entity_type}", not "${update.entity_type}"`;
      problems.push({ ref, reason: reason(def.name, "wrong_entity_type", message) });
      continue;
    }
    if (def.computation_type === "on_demand") {
      const message = `${def.name} is on_demand: it is computed at request time by its transform and cannot be written`;
      problems.push({ ref, reason: reason(def.name, "not_writable", message) });
      continue;
    }
    if (def.computation_type === "aggregation") {
      const message = `${def.name} is an aggregation: it is computed from ${def.aggregation?.source_event ?? "raw"} events and cannot be written`;
      problems.push({ ref, reason: reason(def.name, "not_writable", message) });
      continue;
    }
    const earlier = seen.get(def.name);
    if (earlier !== undefined) {
      problems.push({
        ref,
        reason: reason(def.name, "duplicate_feature", `${def.name} is given twice in one update ("${earlier}" and "${ref}")`),
      });
      continue;
    }
    seen.set(def.name, ref);
  }
  return problems;
}

/** Full validation of one update; `reasons` empty means every feature may be written. */
export function checkUpdate(registry: CompiledRegistry, update: FeatureUpdate, now: number): UpdateCheck {
  const problems = nameProblems(registry, update);
  const reasons = problems.map((p) => p.reason);
  const rejectedRefs = new Set(problems.map((p) => p.ref));
  const eventTimestamp = eventTimeMs(update.event_timestamp);
  if (eventTimestamp > now + MAX_FUTURE_SKEW_MS)
    reasons.push(
      reason(
        "*",
        "event_timestamp",
        `event_timestamp ${new Date(eventTimestamp).toISOString()} is more than ${MAX_FUTURE_SKEW_MS / 60_000} min in the future`,
      ),
    );
  const writes: ResolvedWrite[] = [];
  for (const [ref, value] of Object.entries(update.features)) {
    if (rejectedRefs.has(ref)) continue;
    const def = registry.resolve(ref)!;
    const problem = valueProblem(def, value);
    if (problem) reasons.push(problem);
    else writes.push({ def, value });
  }
  return { reasons, writes, eventTimestamp };
}

/** Why `value` may not be written as `def` (type, range, allowed values, null policy, unstorable text); undefined when it may. */
export function valueProblem(def: FeatureDefinition, value: unknown): DeadLetterReason | undefined {
  const violation = validateValue(def, value) ?? unstorableTextViolation(def, value);
  return violation ? reason(def.name, violation.rule, violation.message, value) : undefined;
}

/**
 * Path of the first number in `value` that is not finite (JSON.parse turns `1e309` into Infinity,
 * which JSON.stringify later writes as null: the value would change meaning on the queue).
 */
export function nonFinitePath(value: unknown, path = ""): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nonFinitePath(value[i], path ? `${path}.${i}` : String(i));
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value && typeof value === "object")
    for (const [k, v] of Object.entries(value)) {
      const found = nonFinitePath(v, path ? `${path}.${k}` : k);
      if (found !== undefined) return found;
    }
  return undefined;
}

/** A lone UTF-16 surrogate: valid in a JS string, refused by Postgres jsonb. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Postgres jsonb cannot store U+0000 or lone surrogates; such a value would fail the write on
 * every retry, so it is rejected as a type error up front.
 */
function unstorableTextViolation(def: FeatureDefinition, value: unknown): { rule: string; message: string } | undefined {
  if (!hasUnstorableText(value)) return undefined;
  return { rule: "type", message: `${def.name} contains a NUL character (\\u0000) or a lone surrogate, which cannot be stored` };
}

function hasUnstorableText(value: unknown): boolean {
  const bad = (text: string) => text.includes("\u0000") || LONE_SURROGATE.test(text);
  if (typeof value === "string") return bad(value);
  if (Array.isArray(value)) return value.some(hasUnstorableText);
  if (value && typeof value === "object") return Object.entries(value).some(([k, v]) => bad(k) || hasUnstorableText(v));
  return false;
}

export function reason(feature: string, rule: string, message: string, value?: unknown): DeadLetterReason {
  const out: DeadLetterReason = { feature, rule, message: truncate(message, MAX_REASON_MESSAGE_CHARS) };
  if (value !== undefined) {
    const json = JSON.stringify(value);
    if (json !== undefined && json.length <= MAX_REASON_VALUE_CHARS) out.value = value;
  }
  return out;
}

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
