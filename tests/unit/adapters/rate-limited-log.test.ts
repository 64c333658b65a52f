import { describe, expect, it } from 'vitest';
import { RateLimitedLog } from '#src/adapters/rate-limited-log.js';
import { RecordingLog } from '#test-helpers/fakes.js';

describe('RateLimitedLog', () => {
  it('writes at most N lines of a kind per interval, then says how many it dropped', () => {
    const inner = new RecordingLog();
    let now = 0;
    const log = new RateLimitedLog(inner, { perInterval: 3, intervalMs: 1_000, clock: () => now });
    for (let i = 0; i < 1_000; i++) log.warn('control request refused', { i });
    log.warn('another kind');
    expect(inner.find('warn', 'control request refused')).toHaveLength(3);
    expect(inner.find('warn', 'another kind')).toHaveLength(1);
    now = 1_000;
    log.warn('control request refused', { i: 'next' });
    const lines = inner.find('warn', 'control request refused');
    expect(lines).toHaveLength(4);
    expect(lines[3]?.attributes).toMatchObject({ suppressed: 997 });
  });

  it('never drops errors or info lines', () => {
    const inner = new RecordingLog();
    const log = new RateLimitedLog(inner, { perInterval: 1, clock: () => 0 });
    for (let i = 0; i < 5; i++) log.error('store down');
    for (let i = 0; i < 5; i++) log.info('connection accepted');
    expect(inner.find('error', 'store down')).toHaveLength(5);
    expect(inner.find('info', 'connection accepted')).toHaveLength(5);
  });
});
