/** The local gateway's per-connection fair share (issue 10: one noisy client slowed every other one). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MessagePump } from '#src/local/message-pump.js';

function harness(concurrency: number, ratePerSecond: number) {
  const started: number[] = [];
  const finish = new Map<number, () => void>();
  const events: string[] = [];
  const pump = new MessagePump<number>({
    concurrency,
    ratePerSecond,
    run: (n) =>
      new Promise<void>((resolve) => {
        started.push(n);
        finish.set(n, resolve);
      }),
    pause: () => events.push('pause'),
    resume: () => events.push('resume'),
  });
  return { pump, started, finish, events };
}

describe('MessagePump', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs at most `concurrency` at once, in order, pausing the source while any wait and resuming once none do', async () => {
    const h = harness(2, 1_000);
    for (let n = 1; n <= 5; n++) h.pump.push(n);
    expect(h.started).toEqual([1, 2]);
    expect(h.events).toEqual(['pause']);
    h.finish.get(1)?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.started).toEqual([1, 2, 3]);
    for (const n of [2, 3, 4]) {
      h.finish.get(n)?.();
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(h.started).toEqual([1, 2, 3, 4, 5]);
    expect(h.pump.waiting).toBe(0);
    expect(h.events).toEqual(['pause', 'resume']);
  });

  it('starts at most `ratePerSecond` a second after the first second’s burst, and drops nothing', async () => {
    const h = harness(1_000, 10);
    for (let n = 1; n <= 25; n++) h.pump.push(n);
    expect(h.started).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(500);
    expect(h.started).toHaveLength(15);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(h.started).toHaveLength(25);
    expect(h.started).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(h.events).toEqual(['pause', 'resume']);
  });

  it('forgets what waits once closed', async () => {
    const h = harness(1, 100);
    h.pump.push(1);
    h.pump.push(2);
    h.pump.close();
    h.finish.get(1)?.();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.started).toEqual([1]);
  });
});
