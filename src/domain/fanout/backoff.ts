import { MAX_QUEUE_DELAY_SECONDS } from '../ports.js';

/**
 * "Full jitter" exponential backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniformly random
 * delay between 0 and min(cap, base × 2^attempt). Spreads retries of many throttled calls over time instead of
 * synchronising them into the next burst.
 *
 * @param attempt 0 for the first retry.
 * @param random a source of [0, 1) numbers (injected so tests are deterministic).
 */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Seconds to delay a re-enqueued retry job: 1, 2, 4, … up to SQS's 900 s maximum, with jitter on top. */
export function requeueDelaySeconds(attempt: number, random: () => number): number {
  const base = Math.min(MAX_QUEUE_DELAY_SECONDS, 2 ** Math.min(attempt, 10));
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(1, Math.round(base * (0.5 + random()))));
}
