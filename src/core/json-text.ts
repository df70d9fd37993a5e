// A string typed by what it is the JSON text of: JSON written by hand (src/serving/feature-json.ts) keeps its response type.

/** A string that is the JSON text of a T (what JSON.stringify of a T gives). */
export type JsonText<T> = string & { readonly __jsonOf?: T };

/** The JSON text of an array from the JSON text of each item or the item itself (an object), as JSON.stringify writes the array. */
export function jsonArray<T extends object, U extends object>(items: readonly (JsonText<T> | U)[]): JsonText<(T | U)[]> {
  let out = "[";
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (i) out += ",";
    out += typeof item === "string" ? item : (JSON.stringify(item) ?? "null");
  }
  return `${out}]`;
}
