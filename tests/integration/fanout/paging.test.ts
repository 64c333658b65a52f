/**
 * Paging a channel through the real channel index (dynalite) and the real queues (fauxqs): a job that runs
 * short of time hands over its continuation, and a channel of thousands is split into parallel jobs. Either
 * way every subscriber gets exactly one copy of every publish, in publish order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '#test-helpers/e2e.js';
import { fixedIds, idsInTopBuckets, startRig, type Rig } from './support.js';
import { RecordingLog } from '#test-helpers/fakes.js';

describe('fan-out paging against the real channel index and queues', () => {
  let rig: Rig | null = null;
  afterEach(async () => {
    await rig?.stop();
    rig = null;
  });

  it('hands over a continuation when the invocation runs short of time; each subscriber gets exactly one copy', async () => {
    // The worker keeps min(reserveMs, a quarter of the invocation) in reserve: 1 s of a 4 s invocation. Pages of
    // 10 through a Management API answering after 200 ms take 20 pages (4 s) for 200 subscribers, so the first
    // job runs short of time after about 15 pages and hands over the rest — with ~800 ms to spare for a slow page.
    rig = await startRig({
      delivery: 'management-api',
      managementApi: { latencyMs: 200 },
      config: { pageSize: 10, reserveMs: 60_000 },
      functionTimeoutMs: 4_000,
      log: new RecordingLog(),
    });
    const ids = idsInTopBuckets('cont-', 200, 65_000);
    await rig.seed('cont', ids);
    await rig.publish('cont', { kind: 'text', text: 'c-0' }, 'c-0');

    const r = rig;
    await waitFor(async () => r.sink.reached('c-0') === ids.length && (await r.drained()), 'every subscriber to get the message', 30_000);

    expect(r.metrics.counter('JobsContinued')).toBeGreaterThan(0);
    expect(r.metrics.counter('JobsSplit')).toBe(0);
    const wrong = ids.filter((id) => JSON.stringify(r.sink.received(id)) !== JSON.stringify(['c-0']));
    expect(wrong.map((id) => `${id}: ${JSON.stringify(r.sink.received(id))}`)).toEqual([]);
    expect(r.sink.posts).toBe(ids.length);
    expect(r.pollers.reduce((n, p) => n + p.stats().timeouts, 0)).toBe(0);
  }, 60_000);

  it('splits a channel of thousands (2,000) into parallel jobs; each subscriber gets exactly one copy', async () => {
    rig = await startRig({ delivery: 'direct', config: { pageSize: 100, buckets: 4 }, workers: 2, log: new RecordingLog() });
    const ids = fixedIds('big-', 2000);
    await rig.seed('big', ids);
    const messages = ['s-0', 's-1'];
    for (const m of messages) await rig.publish('big', { kind: 'text', text: m }, m);

    const r = rig;
    await waitFor(
      async () => messages.every((m) => r.sink.reached(m) === ids.length) && (await r.drained()),
      'every subscriber to get every message',
      30_000,
    );

    expect(r.metrics.counter('JobsSplit')).toBeGreaterThan(0);
    const wrong = ids.filter((id) => JSON.stringify(r.sink.received(id)) !== JSON.stringify(messages));
    expect(wrong.slice(0, 10).map((id) => `${id}: ${JSON.stringify(r.sink.received(id))}`)).toEqual([]);
    expect(r.sink.posts).toBe(ids.length * messages.length);
  }, 60_000);
});
