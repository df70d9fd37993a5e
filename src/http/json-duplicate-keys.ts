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
 */
export function duplicateKeyPath(text: string): string | undefined {
  const stack: Frame[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (; j < text.length; j++) {
        const c = text.charCodeAt(j);
        if (c === 0x5c /* \ */) {
          escaped = true;
          j++;
        } else if (c === 0x22) break;
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
