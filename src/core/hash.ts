// SHA-256 as lowercase hex through WebCrypto: the one hash helper of Workers, Node tooling and tests.

/** Hex digest of the UTF-8 bytes of `text` (crypto.subtle exists in Workers and in Node 22). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
