// Waiting on a promise another request started (single flight): with a timer of the waiter's own.
//
// workerd cancels a request whose only pending work is a promise that some other request's I/O will
// settle ("The Workers runtime canceled this request because it detected that your Worker's code had
// hung"); the bench's stampede saw 111 of 150 joiners answered 500 that way. A pending timer is I/O
// of the waiting request, so it stays alive until the shared promise settles, and the timeout bounds
// the wait when the request that owns the work was cancelled and its promise never settles.
import { withDeadline } from "../core/deadline";

/** The shared promise's value, or `undefined` when it has not settled within `timeoutMs`. */
export function awaitShared<T>(shared: Promise<T>, timeoutMs: number): Promise<T | undefined> {
  return withDeadline<T | undefined>(shared, timeoutMs, () => undefined);
}
