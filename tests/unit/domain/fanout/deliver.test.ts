import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import { deliver, emptyReport, type DeliveryTools } from '#src/domain/fanout/deliver.js';
import type { Payload } from '#src/domain/message.js';
import { AdaptiveConcurrency } from '#src/domain/fanout/rate.js';
import { FakeSender, FATAL, ManualClock, RecordingLane, RecordingMetrics, seededRandom } from '#test-helpers/fakes.js';

const text = (t: string): Payload => ({ kind: 'text', text: t });

function tools(options: { concurrency?: number; inJobAttempts?: number } = {}) {
  const time = new ManualClock();
  const sender = new FakeSender();
  const metrics = new RecordingMetrics();
  const concurrency = options.concurrency ?? 4;
  const rate = new AdaptiveConcurrency(concurrency, time.clock);
  const lane = new RecordingLane();
  const t: DeliveryTools = {
    sender,
    polls: lane,
    metrics,
    limit: pLimit(concurrency),
    rate,
    clock: time.clock,
    sleep: time.sleep,
    random: seededRandom(1),
    retry: { inJobAttempts: options.inJobAttempts ?? 3, baseMs: 10, maxMs: 100 },
  };
  return { t, time, sender, metrics, rate, lane };
}

describe('deliver', () => {
  it('delivers every payload, in order, to every connection', async () => {
    const { t, sender, metrics } = tools();
    const report = await deliver(t, ['a', 'b', 'c'], [text('1'), { kind: 'binary', base64: 'AQI=' }, text('3')], emptyReport());

    expect(report).toEqual({ delivered: 9, gone: [], deferred: [], rejected: [], fatal: null });
    for (const id of ['a', 'b', 'c']) expect(sender.posted(id)).toEqual(['1', new Uint8Array([1, 2]), '3']);
    expect(metrics.total('Deliveries')).toBe(9);
  });

  it('keeps at most `concurrency` calls in flight, and does overlap them', async () => {
    const { t, sender } = tools({ concurrency: 4 });
    const ids = Array.from({ length: 40 }, (_, i) => `c${i}`);
    await deliver(t, ids, [text('x')], emptyReport());
    expect(sender.calls).toHaveLength(40);
    expect(sender.maxInFlight).toBeLessThanOrEqual(4);
    expect(sender.maxInFlight).toBeGreaterThan(1);
  });

  it('retries a throttled delivery in the job with backoff, and shrinks the window', async () => {
    const { t, sender, metrics, rate, time } = tools({ concurrency: 8 });
    sender.script('a', 'throttled', 'failed', 'ok');

    const report = await deliver(t, ['a'], [text('x')], emptyReport());

    expect(report.delivered).toBe(1);
    expect([...report.deferred].sort((x, y) => x.connectionId.localeCompare(y.connectionId))).toEqual([]);
    expect(sender.posted('a')).toEqual(['x', 'x', 'x']);
    expect(time.sleeps).toHaveLength(2);
    for (const [i, ms] of time.sleeps.entries()) expect(ms).toBeLessThan(10 * 2 ** i);
    expect(metrics.total('DeliveriesRetried')).toBe(2);
    expect(metrics.total('DeliveriesThrottled')).toBe(1);
    expect(rate.current).toBe(4);
    expect(t.limit.concurrency).toBe(4);
  });

  it('defers a connection that keeps failing, with the payloads it still needs', async () => {
    const { t, sender } = tools({ inJobAttempts: 3 });
    sender.script('a', 'ok', 'throttled', 'throttled', 'throttled');
    sender.script('b', 'failed', 'failed', 'failed');

    const report = await deliver(t, ['a', 'b', 'c'], [text('1'), text('2'), text('3')], emptyReport());

    expect([...report.deferred].sort((x, y) => x.connectionId.localeCompare(y.connectionId))).toEqual([
      { connectionId: 'a', payloads: [text('2'), text('3')], reason: 'throttled: LimitExceededException' },
      { connectionId: 'b', payloads: [text('1'), text('2'), text('3')], reason: 'failed: InternalServerError' },
    ]);
    expect(sender.posted('a')).toEqual(['1', '2', '2', '2']);
    expect(sender.posted('c')).toEqual(['1', '2', '3']);
    expect(report.delivered).toBe(4);
  });

  it('marks a 410 connection gone and sends it nothing more', async () => {
    const { t, sender, metrics } = tools();
    sender.script('a', 'gone');

    const report = await deliver(t, ['a', 'b'], [text('1'), text('2')], emptyReport());

    expect(report.gone).toEqual(['a']);
    expect(sender.posted('a')).toEqual(['1']);
    expect(sender.posted('b')).toEqual(['1', '2']);
    expect(metrics.total('DeliveriesGone')).toBe(1);
  });

  it('skips a payload that is too large (413) and goes on with the next', async () => {
    const { t, sender, metrics } = tools();
    sender.script('a', 'too-large');

    const report = await deliver(t, ['a'], [text('huge'), text('small')], emptyReport());

    expect(report.rejected).toEqual([{ connectionId: 'a', reason: expect.stringContaining('payload 0 too large') }]);
    expect(sender.posted('a')).toEqual(['huge', 'small']);
    expect(report.delivered).toBe(1);
    expect(metrics.total('DeliveriesFailed')).toBe(1);
  });

  it('rejects a binary payload that is not base64 without calling the gateway for it', async () => {
    const { t, sender } = tools();
    const report = await deliver(t, ['a'], [{ kind: 'binary', base64: '@@@' }, text('after')], emptyReport());
    expect(report.rejected).toEqual([{ connectionId: 'a', reason: 'binary payload is not valid base64' }]);
    expect(sender.posted('a')).toEqual(['after']);
  });

  it('a non-retryable failure is fatal: no retry, and connections not yet started are not attempted', async () => {
    const { t, sender } = tools({ concurrency: 1 });
    sender.script('a', FATAL);

    const report = await deliver(t, ['a', 'b', 'c'], [text('1')], emptyReport());

    expect(report.fatal).toContain('ForbiddenException');
    expect(sender.calls.map((c) => c.connectionId)).toEqual(['a']);
  });

  it('a gateway that throws (an adapter bug) rejects, but only after every started delivery settled: no work is left running', async () => {
    const { t, sender } = tools({ concurrency: 2 });
    const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
    sender.script('c1', new Error('adapter bug'));

    await expect(deliver(t, ids, [text('x')], emptyReport())).rejects.toThrow('adapter bug');

    const callsAtReturn = sender.calls.length;
    for (let i = 0; i < 50; i++) await Promise.resolve();
    expect(sender.calls.length).toBe(callsAtReturn);
    expect(sender.inFlight).toBe(0);
    expect(callsAtReturn).toBeLessThan(20);
  });

  it('during the grace period a 410 means "not connected yet" and is retried until it succeeds', async () => {
    const { t, sender, time } = tools();
    sender.script('a', 'gone', 'gone', 'gone', 'ok', 'ok');

    const report = await deliver(t, ['a'], [text('welcome'), text('next')], emptyReport(), { graceUntil: time.now + 5_000 });

    expect(report.gone).toEqual([]);
    expect(report.delivered).toBe(2);
    expect(sender.posted('a')).toEqual(['welcome', 'welcome', 'welcome', 'welcome', 'next']);
    expect(time.sleeps.every((ms) => ms >= 1)).toBe(true);
  });

  it('after the grace period a 410 means gone', async () => {
    const { t, sender, time } = tools();
    sender.always('a', 'gone');
    const graceUntil = time.now + 2_000;

    const report = await deliver(t, ['a'], [text('welcome')], emptyReport(), { graceUntil });

    expect(report.gone).toEqual(['a']);
    expect(time.now).toBeGreaterThanOrEqual(graceUntil);
    expect(sender.calls.length).toBeGreaterThan(1);
  });

  it('takes the grace per connection: a young connection’s 410 is retried, an old one’s is gone', async () => {
    const { t, sender, time } = tools();
    sender.script('young', 'gone', 'gone', 'ok');
    sender.always('old', 'gone');
    const graceUntil = (id: string) => (id === 'young' ? time.now + 5_000 : undefined);

    const report = await deliver(t, ['young', 'old'], [text('news')], emptyReport(), { graceUntil });

    expect(report.gone).toEqual(['old']);
    expect(report.delivered).toBe(1);
    expect(sender.posted('young')).toEqual(['news', 'news', 'news']);
    expect(sender.calls.filter((c) => c.connectionId === 'old')).toHaveLength(1);
  });

  it('stops retrying a 410 within grace once the connection is known to have left', async () => {
    const { t, sender, time } = tools();
    sender.always('left', 'gone');
    const asked: string[] = [];
    const stillJoining = async (id: string) => {
      asked.push(id);
      return false;
    };

    const report = await deliver(t, ['left'], [text('news')], emptyReport(), { graceUntil: time.now + 15_000, stillJoining });

    expect(report.gone).toEqual(['left']);
    expect(sender.calls).toHaveLength(1);
    expect(asked).toEqual(['left']);
  });

  it('a 400 rejects that connection only: its remaining payloads are skipped, the job goes on, nothing is fatal', async () => {
    const { t, sender } = tools();
    sender.always('bad', 'rejected');
    const report = await deliver(t, ['good', 'bad'], [text('1'), text('2')], emptyReport());
    expect(report.fatal).toBeNull();
    expect(report.delivered).toBe(2);
    expect(report.rejected).toEqual([
      { connectionId: 'bad', reason: 'rejected by API Gateway (400): BadRequestException: Invalid connectionId' },
    ]);
    expect(sender.calls.filter((c) => c.connectionId === 'bad')).toHaveLength(1);
  });

  it('a close payload ends the connection’s sequence', async () => {
    const { t, sender } = tools();
    const report = await deliver(t, ['a'], [text('bye'), { kind: 'close', code: 4000, reason: 'done' }, text('never')], emptyReport());

    expect(sender.calls.map((c) => c.op)).toEqual(['post', 'close']);
    expect(sender.posted('a')).toEqual(['bye']);
    expect(sender.closes('a')[0]?.request).toMatchObject({ code: 4000, reason: 'done' });
    expect(report.delivered).toBe(1);
  });

  it('a close without code or reason passes neither', async () => {
    const { t, sender } = tools();
    await deliver(t, ['a'], [{ kind: 'close' }], emptyReport());
    expect(sender.closes('a')).toHaveLength(1);
    const request = sender.closes('a')[0]?.request;
    expect(request?.code).toBeUndefined();
    expect(request?.reason).toBeUndefined();
  });

  it('a refresh asks for a backend request on each connection’s lane, sends nothing to the client, and defers on a lane failure', async () => {
    const { t, sender, lane } = tools();
    const report = await deliver(t, ['a', 'b'], [{ kind: 'refresh' }, text('after')], emptyReport());
    expect(report.delivered).toBe(2);
    expect(lane.queued.map((q) => [q.message.connectionId, 'poll' in q.message ? q.message.poll : null])).toEqual([
      ['a', 'refresh'],
      ['b', 'refresh'],
    ]);
    expect(sender.posted('a')).toEqual(['after']);

    lane.failNext();
    const failed = await deliver(t, ['c'], [{ kind: 'refresh' }, text('after')], emptyReport());
    expect(failed.deferred).toEqual([
      { connectionId: 'c', payloads: [{ kind: 'refresh' }, text('after')], reason: expect.stringContaining('refresh not queued') },
    ]);
    expect(sender.posted('c')).toEqual([]);
  });
});
