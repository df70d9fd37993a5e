// A hand check of the common FeatureRequest, in front of zod: a vector read's body is validated on every request.
//
// zod's parse of one 50-name request was about a tenth of the serving Worker's CPU on an L0 hit and
// allocated more than assembling the answer (a result object, issue arrays and a copy per value,
// the identifier rule run through superRefine for each name). The check below accepts only what the
// FeatureRequest schema accepts and returns the parsed JSON itself; anything it does not recognise
// (another key, a wrong type, an invalid name) goes to zod, which decides and words the 400.
// test/unit/feature-request-check.test.ts holds it to the schema on valid and invalid requests.
import { ENTITY_TYPES } from "./definitions";
import type { FeatureRequest } from "./feature-request";
import { identifierProblem, MAX_ENTITY_ID_BYTES, MAX_FEATURE_REF_BYTES } from "./identifiers";

/** The longest feature service name (FeatureServiceName in feature-request.ts), in UTF-16 code units as zod counts. */
export const MAX_FEATURE_SERVICE_CHARS = 128;
const ENTITY_TYPE_NAMES: ReadonlySet<string> = new Set(ENTITY_TYPES);

/**
 * `raw` as a FeatureRequest when it is one of the plain shape (entity_id, feature_names and/or
 * feature_service, entity_type, include_metadata, max_staleness_ms, all valid); undefined when
 * zod must look at it (it may still be valid: `context`, `entities`, `min_write_token`).
 */
export function plainFeatureRequest(raw: unknown): FeatureRequest | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || Object.getPrototypeOf(raw) !== Object.prototype) return undefined;
  const r = raw as Record<string, unknown>;
  let named = false;
  for (const key in r) {
    const v = r[key];
    switch (key) {
      case "entity_id":
        if (identifierProblem(v, MAX_ENTITY_ID_BYTES)) return undefined;
        break;
      case "entity_type":
        if (typeof v !== "string" || !ENTITY_TYPE_NAMES.has(v)) return undefined;
        break;
      case "feature_names":
        if (!Array.isArray(v) || v.length === 0) return undefined;
        for (let i = 0; i < v.length; i++) if (identifierProblem(v[i], MAX_FEATURE_REF_BYTES)) return undefined;
        named = true;
        break;
      case "feature_service":
        if (typeof v !== "string" || v.length === 0 || v.length > MAX_FEATURE_SERVICE_CHARS) return undefined;
        named = true;
        break;
      case "include_metadata":
        if (typeof v !== "boolean") return undefined;
        break;
      case "max_staleness_ms":
        if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) return undefined;
        break;
      default:
        return undefined;
    }
  }
  // entity_id is required; the schema's refine wants feature_names or feature_service.
  return named && "entity_id" in r ? (r as FeatureRequest) : undefined;
}
