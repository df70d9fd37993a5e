// Finds an object key given twice in JSON text: JSON.parse keeps the last one, so such a body means what the parser decides.

interface Frame {
  /** Keys seen so far; null for an array. */
  keys: Set<string> | null;
  /** The current key (object) or index (array): where a nested value sits. */
  at: string | number;
}

/**
 * The path ("requests.0.entity_id") of the first key that appears twice in one object of `text`,
 * or undefined. `text` must already be valid JSON (JSON.parse accepted it): the scan only tracks
 * strings, brackets, colons and commas. Keys are compared decoded ("a" and "\u0061" are the same).
 * With `parsed` (JSON.parse of `text`), most bodies are cleared without the scan (`keysAllKept`).
 */
export function duplicateKeyPath(text: string, parsed?: unknown): string | undefined {
  if (parsed !== undefined && keysAllKept(text, parsed)) return undefined;
  const stack: Frame[] = [];
  let expectKey = false;
  // The next backslash at or after where a string starts (Infinity: none left). Strings are found
  // with indexOf, not code unit by code unit: that loop was most of the scan (a body is mostly strings).
  let backslash = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      let j = text.indexOf('"', i + 1);
      if (j < 0) j = text.length;
      if (backslash <= i) {
        backslash = text.indexOf("\\", i + 1);
        if (backslash < 0) backslash = Number.POSITIVE_INFINITY;
      }
      const escaped = backslash < j;
      if (escaped) {
        for (j = backslash; j < text.length; j++) {
          const c = text.charCodeAt(j);
          if (c === 0x5c /* \ */) j++;
          else if (c === 0x22) break;
        }
      }
      const top = stack[stack.length - 1];
      if (expectKey && top?.keys) {
        const raw = text.slice(i + 1, j);
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : raw;
        if (top.keys.has(key)) return [...stack.slice(0, -1).map((f) => String(f.at)), key].join(".");
        top.keys.add(key);
        top.at = key;
        expectKey = false;
      }
      i = j;
    } else if (ch === 0x7b /* { */) {
      stack.push({ keys: new Set(), at: "" });
      expectKey = true;
    } else if (ch === 0x5b /* [ */) {
      stack.push({ keys: null, at: 0 });
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (ch === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.keys) expectKey = true;
      else if (top) top.at = (top.at as number) + 1;
    }
  }
  return undefined;
}

/** A quote, optional JSON whitespace, a colon: where a key ends (or a string value starting with a colon begins). */
const KEY_END = /"[ \t\n\r]*:/g;

/**
 * True when no key of `text` was dropped by JSON.parse, decided without tracking the structure:
 * in text without a backslash every quote delimits a string, so each key ends in a match of
 * KEY_END, and the only other matches are strings whose text starts with a colon. The matches
 * are then at least the keys in the text, which are at least the keys JSON.parse kept (`parsed`),
 * and a duplicate makes the last fewer: equal counts mean no duplicate. Unequal counts, or a
 * backslash, leave it to the scan (false).
 */
function keysAllKept(text: string, parsed: unknown): boolean {
  if (text.indexOf("\\") >= 0) return false;
  const kept = keyCount(parsed);
  let matches = 0;
  KEY_END.lastIndex = 0;
  while (KEY_END.test(text)) if (++matches > kept) return false;
  return matches === kept;
}

/** Own keys of every object in a parsed JSON value. */
function keyCount(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v === "object" && v !== null) n += keyCount(v);
    }
    return n;
  }
  for (const key in value) {
    n++;
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === "object" && v !== null) n += keyCount(v);
  }
  return n;
}
