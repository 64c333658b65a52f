import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_REDELIVERY_DELAY_SECONDS, redeliveryDelaySeconds, requeueDelaySeconds } from '#src/domain/fanout/requeue.js';

const unit = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

describe('redeliveryDelaySeconds', () => {
  it('is 1–60 s, roughly doubling per receive, so a transient failure costs seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), unit, (receives, r) => {
        const delay = redeliveryDelaySeconds(receives, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(1);
        expect(delay).toBeLessThanOrEqual(MAX_REDELIVERY_DELAY_SECONDS);
      }),
    );
    expect([1, 2, 3, 4, 5].map((n) => redeliveryDelaySeconds(n, () => 0.5))).toEqual([1, 2, 4, 8, 16]);
    expect(redeliveryDelaySeconds(30, () => 0.99)).toBe(60);
  });
});

describe('requeueDelaySeconds', () => {
  it('is 1–900 s, roughly doubling per attempt', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), unit, (attempt, r) => {
        const delay = requeueDelaySeconds(attempt, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(1);
        expect(delay).toBeLessThanOrEqual(900);
      }),
    );
    expect(requeueDelaySeconds(0, () => 0.5)).toBe(1);
    expect(requeueDelaySeconds(3, () => 0.5)).toBe(8);
    expect(requeueDelaySeconds(20, () => 0.99)).toBe(900);
  });
});
