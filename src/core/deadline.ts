// One deadline helper: race work against a timer that is always cleared, for tiers, probes and shared flights.

/**
 * Settles like `work` if it settles within `ms`, else with `onExpiry()` (return a fallback value, or
 * throw to reject). The timer is cleared either way, so a finished request leaves none behind; while
 * it is pending it also keeps a workerd request alive that waits on another request's I/O.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, onExpiry: () => T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<T>((resolve, reject) => {
    timer = setTimeout(
      () => {
        try {
          resolve(onExpiry());
        } catch (err) {
          reject(err);
        }
      },
      Math.max(0, ms),
    );
  });
  return Promise.race([work, expiry]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/** `onExpiry` for withDeadline that rejects with "<what> did not answer within <ms> ms". */
export function expired(what: string, ms: number): () => never {
  return () => {
    throw new Error(`${what} did not answer within ${ms} ms`);
  };
}
