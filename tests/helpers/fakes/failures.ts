/** Failure injection shared by the fakes, and the errors they fail with. */
import type { QueueError, StoreError } from '#src/domain/ports.js';

/** Per-method scripted failures: after `after` good calls, that many calls fail (Infinity: every later call). */
export class Failures<M extends string, E> {
  readonly #plans = new Map<M, { error: E; remaining: number; skip: number }>();
  set(method: M, error: E, times: number, after = 0): void {
    this.#plans.set(method, { error, remaining: times, skip: after });
  }
  /** The error for this call, if it is to fail (and uses one of the plan's failures). */
  take(method: M): E | null {
    const plan = this.#plans.get(method);
    if (plan === undefined || plan.remaining <= 0) return null;
    if (plan.skip > 0) {
      plan.skip--;
      return null;
    }
    plan.remaining--;
    return plan.error;
  }
}

export const storeError = (kind: StoreError['kind'] = 'unavailable', message = `store ${kind}`): StoreError => ({ kind, message });
export const queueError = (kind: QueueError['kind'] = 'unavailable', message = `queue ${kind}`): QueueError => ({ kind, message });
