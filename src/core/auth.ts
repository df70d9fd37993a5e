// API keys: stored only as SHA-256 hashes with scopes; a request's Bearer key is hashed and looked up.
import { FeatureStoreError } from "./errors";
import { sha256Hex } from "./hash";

export const SCOPES = ["serve", "ingest", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyEntry {
  hash: string;
  scopes: ReadonlySet<Scope>;
}

/** API_KEYS = "<sha256hex>:serve+ingest,<sha256hex>:admin". Malformed entries are reported, not ignored. */
export function parseApiKeys(spec: string | undefined): Map<string, ApiKeyEntry> {
  const keys = new Map<string, ApiKeyEntry>();
  if (!spec) return keys;
  for (const raw of spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [hash, scopeList] = raw.split(":");
    if (!hash || !/^[0-9a-f]{64}$/.test(hash) || !scopeList)
      throw new Error(`API_KEYS entry is not "<sha256hex>:scope+scope": ${raw.slice(0, 12)}…`);
    const scopes = new Set<Scope>();
    for (const s of scopeList.split("+")) {
      if (!(SCOPES as readonly string[]).includes(s)) throw new Error(`API_KEYS entry has unknown scope "${s}"`);
      scopes.add(s as Scope);
    }
    keys.set(hash, { hash, scopes });
  }
  return keys;
}

/** Checks the Authorization header against the key table; throws 401/403 as FeatureStoreError. */
export async function authorize(header: string | undefined, keys: Map<string, ApiKeyEntry>, scope: Scope): Promise<void> {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) throw new FeatureStoreError("unauthorized", "Missing API key: send Authorization: Bearer <key>");
  const entry = keys.get(await hashKey(match[1]));
  if (!entry) throw new FeatureStoreError("unauthorized", "Unknown API key");
  if (!entry.scopes.has(scope) && !entry.scopes.has("admin"))
    throw new FeatureStoreError("forbidden", `This API key lacks the "${scope}" scope`, { required: scope, granted: [...entry.scopes] });
}

/** Hashing on every request would cost a digest per call; remember the hashes of keys already seen. */
const MAX_REMEMBERED_KEYS = 1_000;
const rememberedHashes = new Map<string, string>();

async function hashKey(key: string): Promise<string> {
  const known = rememberedHashes.get(key);
  if (known) return known;
  const hash = await sha256Hex(key);
  if (rememberedHashes.size >= MAX_REMEMBERED_KEYS) rememberedHashes.clear();
  rememberedHashes.set(key, hash);
  return hash;
}
