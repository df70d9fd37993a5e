// Health probes: each tier reports ok, off (not configured) or down, with the probe's latency.
import { expired, withDeadline } from "../core/deadline";
import { errorMessage } from "../core/errors";

export type TierState = "ok" | "off" | "down";

export interface TierHealth {
  status: TierState;
  latency_ms?: number;
  detail?: string;
}

/** A health probe slower than this reports the tier as down. */
export const HEALTH_PROBE_TIMEOUT_MS = 2_000;

export async function probe(fn: () => Promise<string | undefined>, timeoutMs = HEALTH_PROBE_TIMEOUT_MS): Promise<TierHealth> {
  const started = performance.now();
  try {
    const detail = await withDeadline(fn(), timeoutMs, expired("probe", timeoutMs));
    return { status: "ok", latency_ms: round(performance.now() - started), ...(detail ? { detail } : {}) };
  } catch (err) {
    return { status: "down", latency_ms: round(performance.now() - started), detail: errorMessage(err) };
  }
}

export function off(detail: string): TierHealth {
  return { status: "off", detail };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Overall: ok when every configured tier is ok, degraded when one is down, down when all are. */
export function overallStatus(tiers: Record<string, TierHealth>): "ok" | "degraded" | "down" {
  const configured = Object.values(tiers).filter((t) => t.status !== "off");
  const down = configured.filter((t) => t.status === "down").length;
  if (down === 0) return "ok";
  return down === configured.length ? "down" : "degraded";
}
