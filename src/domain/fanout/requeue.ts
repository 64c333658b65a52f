import { MAX_QUEUE_DELAY_SECONDS } from '../ports.js';

/** Seconds to delay a re-enqueued retry job: 1, 2, 4, … up to SQS's 900 s maximum, with jitter on top. */
export function requeueDelaySeconds(attempt: number, random: () => number): number {
  const base = Math.min(MAX_QUEUE_DELAY_SECONDS, 2 ** Math.min(attempt, 10));
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(1, Math.round(base * (0.5 + random()))));
}
