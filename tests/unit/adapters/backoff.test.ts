import { describe, expect, it } from 'vitest';
import { fullJitterDelay } from '#src/domain/backoff.js';

// The adapters' `backoff` (batch-write and send-batch retries) sleeps `fullJitterDelay`; these are its delays
// with the adapters' parameters (base 25 ms, cap 1 s).
describe('backoff delays (fullJitterDelay)', () => {
  it('draws from [0, min(max, base × 2^attempt))', () => {
    expect(fullJitterDelay(0, 25, 1000, () => 0.999)).toBe(24);
    expect(fullJitterDelay(3, 25, 1000, () => 0.5)).toBe(100);
    expect(fullJitterDelay(10, 25, 1000, () => 0.999)).toBe(999);
    expect(fullJitterDelay(2, 25, 1000, () => 0)).toBe(0);
  });
});
