import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrency } from '#src/domain/fanout/rate.js';
import { ManualClock } from '#test-helpers/fakes.js';

describe('AdaptiveConcurrency', () => {
  it('starts at the maximum and halves on a throttle', () => {
    const time = new ManualClock();
    const rate = new AdaptiveConcurrency(100, time.clock);
    expect(rate.current).toBe(100);
    rate.onThrottle();
    expect(rate.current).toBe(50);
  });

  it('treats a burst of throttles within the cooldown as one signal', () => {
    const time = new ManualClock();
    const rate = new AdaptiveConcurrency(100, time.clock, 100);
    rate.onThrottle();
    time.advance(99);
    rate.onThrottle();
    rate.onThrottle();
    expect(rate.current).toBe(50);
    time.advance(1);
    rate.onThrottle();
    expect(rate.current).toBe(25);
  });

  it('adds one after a window’s worth of successes, up to the maximum', () => {
    const time = new ManualClock();
    const rate = new AdaptiveConcurrency(10, time.clock);
    rate.onThrottle();
    expect(rate.current).toBe(5);
    for (let i = 0; i < 4; i++) rate.onSuccess();
    expect(rate.current).toBe(5);
    rate.onSuccess();
    expect(rate.current).toBe(6);
    for (let i = 0; i < 1000; i++) rate.onSuccess();
    expect(rate.current).toBe(10);
  });

  it('a throttle resets the success count', () => {
    const time = new ManualClock();
    const rate = new AdaptiveConcurrency(16, time.clock);
    rate.onThrottle(); // 8
    for (let i = 0; i < 7; i++) rate.onSuccess();
    time.advance(1000);
    rate.onThrottle(); // 4
    for (let i = 0; i < 3; i++) rate.onSuccess();
    expect(rate.current).toBe(4);
    rate.onSuccess();
    expect(rate.current).toBe(5);
  });

  it('never leaves [min, max], whatever the sequence of events', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.oneof(fc.constant('ok' as const), fc.constant('throttle' as const), fc.integer({ min: 0, max: 500 })), {
          maxLength: 300,
        }),
        (max, minRaw, events) => {
          const min = Math.min(minRaw, max);
          const time = new ManualClock();
          const rate = new AdaptiveConcurrency(max, time.clock, 100, min);
          for (const e of events) {
            if (e === 'ok') rate.onSuccess();
            else if (e === 'throttle') rate.onThrottle();
            else time.advance(e);
            expect(rate.current).toBeGreaterThanOrEqual(min);
            expect(rate.current).toBeLessThanOrEqual(max);
          }
        },
      ),
    );
  });
});
