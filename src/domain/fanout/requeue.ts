import { MAX_QUEUE_DELAY_SECONDS } from '../ports.js';

/** The longest a failed job waits before its queue hands it out again (its whole FIFO group waits with it). */
export const MAX_REDELIVERY_DELAY_SECONDS = 60;

/**
 * Seconds until a failed or skipped queue message is handed out again: 1, 2, 4, … up to a minute with the
 * receive count, with jitter (×0.5–1.5) so a burst of failures does not come back at once. Instead of the
 * queue's visibility timeout (six function timeouts): on a FIFO queue nothing else of the message's group is
 * handed out meanwhile, so a transient error must cost seconds, not minutes.
 *
 * @param receiveCount how many times the queue has handed the message out (1 on the first delivery).
 */
export function redeliveryDelaySeconds(receiveCount: number, random: () => number): number {
  return doublingSeconds(Math.max(receiveCount - 1, 0), MAX_REDELIVERY_DELAY_SECONDS, random);
}

/** Seconds to delay a re-enqueued retry job: 1, 2, 4, … up to SQS's 900 s maximum, with jitter on top. */
export function requeueDelaySeconds(attempt: number, random: () => number): number {
  return doublingSeconds(attempt, MAX_QUEUE_DELAY_SECONDS, random);
}

/** 2^step seconds (step capped at 10), ×0.5–1.5 jitter, whole seconds from 1 to `capSeconds`. */
function doublingSeconds(step: number, capSeconds: number, random: () => number): number {
  const base = Math.min(capSeconds, 2 ** Math.min(step, 10));
  return Math.min(capSeconds, Math.max(1, Math.round(base * (0.5 + random()))));
}
