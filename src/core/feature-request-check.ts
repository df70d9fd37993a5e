// A hand check of the common FeatureRequest, in front of zod: a vector read's body is validated on every request.
//
// zod's parse of one 50-name request was about a tenth of the serving Worker's CPU on an L0 hit and
// allocated more than assembling the answer (a result object, issue arrays and a copy per value,
// the identifier rule run through superRefine for each name). The check below accepts only what the
// FeatureRequest schema accepts and returns the parsed JSON itself; anything it does not recognise
// (another key, a wrong type, an invalid name) goes to zod, which decides and words the 400.
// test/unit/feature-request-check.test.ts holds it to the schema on valid and invalid requests.
import { ENTITY_TYPES } from "./definitions";
import { identifierProblem, MAX_ENTITY_ID_BYTES, MAX_FEATURE_REF_BYTES } from "./identifiers";

/** The longest feature service name (FeatureServiceName in feature-request.ts), in UTF-16 code units as zod counts. */
export const MAX_FEATURE_SERVICE_CHARS = 128;
const ENTITY_TYPE_NAMES: ReadonlySet<string> = new Set(ENTITY_TYPES);

/**
 * Is `raw` a FeatureRequest of the plain shape (entity_id, feature_names and/or feature_service,
 * entity_type, include_metadata, max_staleness_ms, all valid)? False when zod must look at it (it
 * may still be valid: `context`, `entities`, `min_write_token`). Typed by feature-request.ts,
 * which imports this file (a type import back would be a cycle).
 */
export function isPlainFeatureRequest(raw: unknown): boolean {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || Object.getPrototypeOf(raw) !== Object.prototype) return false;
  const r = raw as Record<string, unknown>;
  let named = false;
  for (const key in r) {
    const v = r[key];
    switch (key) {
      case "entity_id":
        if (identifierProblem(v, MAX_ENTITY_ID_BYTES)) return false;
        break;
      case "entity_type":
        if (typeof v !== "string" || !ENTITY_TYPE_NAMES.has(v)) return false;
        break;
      case "feature_names":
        if (!Array.isArray(v) || v.length === 0) return false;
        for (let i = 0; i < v.length; i++) if (identifierProblem(v[i], MAX_FEATURE_REF_BYTES)) return false;
        named = true;
        break;
      case "feature_service":
        if (typeof v !== "string" || v.length === 0 || v.length > MAX_FEATURE_SERVICE_CHARS) return false;
        named = true;
        break;
      case "include_metadata":
        if (typeof v !== "boolean") return false;
        break;
      case "max_staleness_ms":
        if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) return false;
        break;
      default:
        return false;
    }
  }
  // entity_id is required; the schema's refine wants feature_names or feature_service.
  return named && "entity_id" in r;
}
