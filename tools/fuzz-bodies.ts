// Seeded generators of hostile request bodies: the fuzz tests of both Workers and the chaos run replay the same corpus (issue 13).
import fc from "fast-check";

/** The seed every fuzz run uses; fast-check prints the failing seed and path (replay with `{ seed, path }` in fc.assert). */
export const FUZZ_SEED = 13;

/** Any UTF-16 code unit: lone surrogates, NUL and other controls included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
export const hostileString = fc.oneof(
  fc.string({ unit: codeUnit, maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(
    "",
    "\u0000",
    "\ud800",
    "\udfff",
    "user_\u0000",
    "' OR 1=1 --",
    "<script>",
    "__proto__",
    "constructor",
    "=cmd|' /C calc'!A0",
  ),
  fc.integer({ min: 250, max: 5000 }).map((n) => `user_${"x".repeat(n)}`),
);

/** Numbers JSON can carry, and the literals that parse to something else (1e309 → Infinity). */
export const hostileNumberLiteral = fc.oneof(
  fc
    .double()
    .filter(Number.isFinite)
    .map((n) => JSON.stringify(n)),
  fc.constantFrom("1e309", "-1e309", "-0", "5e-324", "9007199254740993", "0.1234567890123456789012345", "1e-400"),
);

/** A JSON value built as text, so literals like 1e309 and duplicate keys survive into the body. */
export const hostileJson: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    hostileNumberLiteral,
    hostileString.map((s) => JSON.stringify(s)),
    fc.constantFrom("null", "true", "false"),
    fc.array(tie("value"), { maxLength: 4 }).map((items) => `[${items.join(",")}]`),
    fc
      .array(fc.tuple(fc.oneof(hostileString, fc.constantFrom("__proto__", "constructor", "entity_id")), tie("value")), { maxLength: 4 })
      .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`),
  ),
})).value;

/** Replaces one field of an object given as JSON text by a hostile value (or drops it, or adds a prototype key). */
export function mutatedObject(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const names = Object.keys(fields);
  const valid = fc.record(fields);
  return fc
    .tuple(valid, fc.constantFrom(...names), fc.constantFrom("replace", "drop", "proto", "duplicate", "keep"), hostileJson)
    .map(([record, field, how, hostile]) => {
      const entries = Object.entries(record as Record<string, string>)
        .filter(([k]) => !(how === "drop" && k === field))
        .map(([k, v]) => [k, how === "replace" && k === field ? hostile : v] as const);
      if (how === "proto") entries.push(["__proto__", hostile]);
      if (how === "duplicate") entries.push([field, hostile]);
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;
    });
}

/** A body: a mutation of a valid one, arbitrary JSON, or text that is not JSON at all. */
export function hostileBody(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const one = mutatedObject(fields);
  return fc.oneof(
    { arbitrary: one, weight: 6 },
    { arbitrary: fc.array(one, { minLength: 1, maxLength: 3 }).map((items) => `[${items.join(",")}]`), weight: 2 },
    { arbitrary: hostileJson, weight: 2 },
    { arbitrary: fc.string({ unit: codeUnit, maxLength: 60 }), weight: 1 },
  );
}
