// The one definition of a valid entity id and feature reference, enforced at every edge (serving, ingest, training spines).
//
// Every tier keys an entity by its id: KV as `row:<entity_type>:<id>` (KV keys are at most 512
// bytes), Redis as a hash key with our prefix, the Durable Object by `idFromName("<type>:<id>")`,
// Postgres in text columns (which refuse U+0000). An id a tier cannot store must be refused at the
// edge with a 400, never reach the tier and count as that tier's failure for every other caller.
import { z } from "zod";

/**
 * Largest entity id in UTF-8 bytes. KV's key limit is 512 bytes; `row:` + the longest entity
 * type name + `:` and any environment prefix stay well under the 256 bytes left.
 */
export const MAX_ENTITY_ID_BYTES = 256;
/** Largest feature reference in UTF-8 bytes: group (128) + ":" + name (128). */
export const MAX_FEATURE_REF_BYTES = 257;

/** C0 controls (NUL, tab, line breaks...), DEL and C1 controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** A lone UTF-16 surrogate: a JS string, but no valid UTF-8 (TextEncoder would turn it into U+FFFD). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const encoder = new TextEncoder();

export type IdentifierRule = "empty" | "control_character" | "lone_surrogate" | "too_long" | "not_a_string";

export interface IdentifierProblem {
  rule: IdentifierRule;
  message: string;
}

/** Why `value` is not a valid identifier of at most `maxBytes` UTF-8 bytes; undefined when it is one. */
export function identifierProblem(value: unknown, maxBytes: number): IdentifierProblem | undefined {
  if (typeof value !== "string") return { rule: "not_a_string", message: "must be a string" };
  if (value.length === 0) return { rule: "empty", message: "must not be empty" };
  if (CONTROL.test(value)) return { rule: "control_character", message: "must not contain control characters (NUL, tab, line breaks)" };
  if (LONE_SURROGATE.test(value)) return { rule: "lone_surrogate", message: "must be valid Unicode (it holds a lone UTF-16 surrogate)" };
  // Each UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no encoding.
  if (value.length * 3 > maxBytes) {
    const bytes = encoder.encode(value).byteLength;
    if (bytes > maxBytes) return { rule: "too_long", message: `must be at most ${maxBytes} UTF-8 bytes (it has ${bytes})` };
  }
  return undefined;
}

/** Why `id` is not a valid entity id; undefined when it is one. */
export function entityIdProblem(id: unknown): IdentifierProblem | undefined {
  return identifierProblem(id, MAX_ENTITY_ID_BYTES);
}

/** A plain predicate, for code that is not behind a zod schema. */
export function isValidEntityId(id: unknown): id is string {
  return entityIdProblem(id) === undefined;
}

function identifierSchema(maxBytes: number) {
  return z.string().superRefine((value, ctx) => {
    const problem = identifierProblem(value, maxBytes);
    if (problem) ctx.addIssue({ code: "custom", message: problem.message, params: { rule: problem.rule } });
  });
}

/** An entity id as every route and message takes it. */
export const EntityId = identifierSchema(MAX_ENTITY_ID_BYTES).meta({
  description: `An entity id: 1 to ${MAX_ENTITY_ID_BYTES} UTF-8 bytes of valid Unicode without control characters`,
});

/** A feature reference (flat `skip_rate_7d` or qualified `group:skip_rate_7d`). */
export const FeatureRef = identifierSchema(MAX_FEATURE_REF_BYTES).meta({
  description: `A feature name, flat or qualified by its group: 1 to ${MAX_FEATURE_REF_BYTES} UTF-8 bytes without control characters`,
});
