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

/**
 * "Equal jitter" exponential backoff (same AWS Architecture Blog post): half of min(cap, base × 2^attempt) fixed,
 * the other half uniformly random. Unlike full jitter it guarantees a minimum total wait, so a series of retries
 * is sure to outlast a short outage (a backend restarting during a rolling deploy) while still spreading retries.
 *
 * @param attempt 0 for the first retry.
 * @param random a source of [0, 1) numbers (injected so tests are deterministic).
 *
 * @example
 * // Retries 1–5 with base 125 ms and cap 4 s wait at least 125 + 250 + 500 + 1,000 + 2,000 ms in total.
 * await sleep(equalJitterDelay(attempt, 125, 4_000, Math.random));
 */
export function equalJitterDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(ceiling / 2 + random() * (ceiling / 2));
}
