import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../../src/adapters/backoff.js';

describe('backoffDelayMs', () => {
  it('draws from [0, min(max, base × 2^attempt))', () => {
    expect(backoffDelayMs(0, 25, 1000, () => 0.999)).toBe(24);
    expect(backoffDelayMs(3, 25, 1000, () => 0.5)).toBe(100);
    expect(backoffDelayMs(10, 25, 1000, () => 0.999)).toBe(999);
    expect(backoffDelayMs(2, 25, 1000, () => 0)).toBe(0);
  });
});
