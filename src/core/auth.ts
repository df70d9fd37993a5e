// API keys: stored only as SHA-256 hashes with scopes; a request's Bearer key is hashed and looked up.
import { FeatureStoreError } from "./errors";
import { sha256Hex } from "./hash";

/** `metrics`: a scrape-only key for GET /metrics (METRICS_AUTH=key), so Prometheus holds no data key. */
export const SCOPES = ["serve", "ingest", "admin", "metrics"] as const;
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

/** Checks a request's key hash (requestKeyHash) against the key table; throws 401/403 as FeatureStoreError. */
export function authorize(hash: string | undefined, keys: ReadonlyMap<string, ApiKeyEntry>, scope: Scope): void {
  if (!hash) throw new FeatureStoreError("unauthorized", "Missing API key: send Authorization: Bearer <key>");
  const entry = findApiKey(hash, keys);
  if (!entry) throw new FeatureStoreError("unauthorized", "Unknown API key");
  if (!entry.scopes.has(scope) && !entry.scopes.has("admin"))
    throw new FeatureStoreError("forbidden", `This API key lacks the "${scope}" scope`, { required: scope, granted: [...entry.scopes] });
}

const requestHashes = new WeakMap<Request, Promise<string | undefined>>();

/**
 * The hash of a request's Bearer key, computed once per request: the rate limiter and the scope
 * check both need it. Kept by the Request object only, so no raw key outlives its request.
 */
export function requestKeyHash(request: Request): Promise<string | undefined> {
  let hash = requestHashes.get(request);
  if (!hash) {
    hash = bearerKeyHash(request.headers.get("authorization") ?? undefined);
    requestHashes.set(request, hash);
  }
  return hash;
}

/** The SHA-256 hex of the Bearer key of an Authorization header; undefined without one. */
export async function bearerKeyHash(header: string | undefined): Promise<string | undefined> {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1] ? hashKey(match[1]) : undefined;
}

/**
 * The entry whose hash equals `hash`, compared in constant time against every entry: the time
 * taken does not depend on how many leading characters match, nor on whether any entry matches,
 * so an unknown key and a wrong key take the same path.
 */
export function findApiKey(hash: string, keys: ReadonlyMap<string, ApiKeyEntry>): ApiKeyEntry | undefined {
  let found: ApiKeyEntry | undefined;
  for (const entry of keys.values()) {
    const same = constantTimeEqual(hash, entry.hash);
    found = same ? entry : found;
  }
  return found;
}

/** String equality whose time depends only on the lengths, not on where the strings differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
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
