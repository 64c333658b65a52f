import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fullJitterDelay } from '#src/domain/backoff.js';

const unit = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

describe('fullJitterDelay', () => {
  it('stays within [0, min(cap, base × 2^attempt)) and is a whole number of ms', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        unit,
        (attempt, base, cap, r) => {
          const delay = fullJitterDelay(attempt, base, cap, () => r);
          const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(ceiling);
        },
      ),
    );
  });

  it('doubles its ceiling per attempt until the cap', () => {
    const max = () => 0.999999;
    expect(fullJitterDelay(0, 50, 2000, max)).toBe(49);
    expect(fullJitterDelay(1, 50, 2000, max)).toBe(99);
    expect(fullJitterDelay(3, 50, 2000, max)).toBe(399);
    expect(fullJitterDelay(10, 50, 2000, max)).toBe(1999);
    expect(fullJitterDelay(5, 50, 2000, () => 0)).toBe(0);
  });
});
