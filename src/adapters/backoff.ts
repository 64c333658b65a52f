import { setTimeout as sleep } from 'node:timers/promises';

/**
 * "Full jitter" exponential backoff: a uniformly random delay in `[0, min(maxMs, baseMs × 2^attempt))`, so
 * retries of many callers spread out instead of arriving together. `attempt` counts from 0.
 */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/** Waits `backoffDelayMs(attempt, baseMs, maxMs)`. */
export async function backoff(attempt: number, baseMs: number, maxMs: number): Promise<void> {
  await sleep(backoffDelayMs(attempt, baseMs, maxMs));
}
