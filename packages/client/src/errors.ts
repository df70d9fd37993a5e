// The error a call rejects with: the server's JSON error (code, message, details) and the HTTP status.

export class FeatureStoreClientError extends Error {
  constructor(
    /** HTTP status, or 0 when no answer arrived (network error, timeout). */
    readonly status: number,
    /** The server's `error.code` (e.g. bad_request, not_found, unavailable), or `network` / `timeout`. */
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "FeatureStoreClientError";
  }
}

/** Reads our error shape `{"error": {"code", "message", "details"?}}` off a failed response. */
export async function errorFrom(res: Response): Promise<FeatureStoreClientError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error?.code) return new FeatureStoreClientError(res.status, body.error.code, body.error.message ?? text, body.error.details);
  } catch {
    // Not our JSON (a proxy's page): fall through with the raw text.
  }
  return new FeatureStoreClientError(res.status, `http_${res.status}`, text.slice(0, 200) || res.statusText);
}
