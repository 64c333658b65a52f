import { performance } from 'node:perf_hooks';

/**
 * Milliseconds since the epoch with sub-millisecond resolution. Every process on the machine reads the same
 * system clock, so instants taken in the host processes and in the bench process can be subtracted.
 */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

export { setTimeout as sleep } from 'node:timers/promises';
