import { setTimeout as sleep } from 'node:timers/promises';
import { fullJitterDelay } from '../domain/backoff.js';

/**
 * Waits a "full jitter" exponential backoff delay (`fullJitterDelay`: uniformly random in
 * `[0, min(maxMs, baseMs × 2^attempt))`), so retries of many callers spread out. `attempt` counts from 0.
 */
export async function backoff(attempt: number, baseMs: number, maxMs: number): Promise<void> {
  await sleep(fullJitterDelay(attempt, baseMs, maxMs, Math.random));
}
