// Hashes: SHA-256 as lowercase hex through WebCrypto (the one cryptographic hash of Workers, tooling and tests), and a sync fingerprint.

/** Hex digest of the UTF-8 bytes of `text` (crypto.subtle exists in Workers and in Node 22). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const FNV_PRIME = 0x01000193;
/** Two FNV-1a offset bases: two independent 32-bit hashes make one 64-bit fingerprint. */
const FNV_BASES = [0x811c9dc5, 0x050c5d1f] as const;

/**
 * A synchronous, non-cryptographic 64-bit fingerprint (16 hex digits) of `text`: for naming things
 * the caller controls (e.g. tile sets of an aggregation spec), where WebCrypto's promise is in the way.
 */
export function fingerprint64(text: string): string {
  return FNV_BASES.map((base) => {
    let h: number = base;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, FNV_PRIME);
    }
    return (h >>> 0).toString(16).padStart(8, "0");
  }).join("");
}
