/**
 * Retry backoff shared by the fan-out worker, the adapters and the client library (which compiles this file in),
 * so it imports nothing.
 */

/**
 * "Full jitter" exponential backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniformly random
 * delay between 0 and min(cap, base × 2^attempt). Spreads retries of many throttled calls over time instead of
 * synchronising them into the next burst.
 *
 * @param attempt 0 for the first retry.
 * @param random a source of [0, 1) numbers (injected so tests are deterministic).
 *
 * @example
 * await sleep(fullJitterDelay(attempt, 50, 2_000, Math.random));
 */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
