import { describe, expect, it } from 'vitest';
import { bucketOf, BUCKET_SPACE } from '#src/domain/channel.js';
import type { KeepAlive } from '#src/domain/connection.js';
import {
  parseJob,
  serializeJob,
  type ChannelJob,
  type ConnectionsJob,
  type BackendPollJob,
  type FanoutJob,
  type KeepAliveJob,
} from '#src/domain/fanout/jobs.js';
import type { Payload } from '#src/domain/message.js';
import { channelOrderKey, WHOLE_SPACE } from '#src/domain/fanout/ranges.js';
import { createFanoutWorker, type FanoutWorker, type QueueRecord } from '#src/domain/fanout/worker.js';
import { FATAL, storeError, type RecordingQueue } from '#test-helpers/fakes.js';
import { connectionIds, connectionRecord, fanoutHarness, tiles } from '#test-helpers/harness.js';

const PAYLOAD: Payload = { kind: 'text', text: 'news' };
const PUBLISHED_AT = 1_799_999_999_000;
const plenty = () => 60_000;

function channelJob(channel = 'room', overrides: Partial<ChannelJob> = {}): ChannelJob {
  return {
    v: 1,
    kind: 'channel',
    channel,
    payload: PAYLOAD,
    partition: WHOLE_SPACE,
    range: WHOLE_SPACE,
    cursor: null,
    publishId: 'pub-1',
    publishedAt: PUBLISHED_AT,
    ...overrides,
  };
}

function connectionsJob(ids: readonly string[], overrides: Partial<ConnectionsJob> = {}): ConnectionsJob {
  return {
    v: 1,
    kind: 'connections',
    connectionIds: ids,
    payloads: [PAYLOAD],
    attempt: 0,
    publishId: 'pub-2',
    publishedAt: PUBLISHED_AT,
    ...overrides,
  };
}

let nextId = 1;
function rec(job: FanoutJob | string, overrides: Partial<QueueRecord> = {}): QueueRecord {
  const body = typeof job === 'string' ? job : serializeJob(job);
  const group = typeof job === 'string' ? null : job.kind === 'channel' ? channelOrderKey(job.channel, job.partition) : null;
  return { id: `rec-${nextId++}`, body, group, receiveCount: 1, sequence: group === null ? null : String(nextId), ...overrides };
}

/** Runs everything queued through the worker, ten at a time, the way the event source mapping would. */
async function drain(worker: FanoutWorker, queue: RecordingQueue, remainingMs = plenty): Promise<number> {
  let jobs = 0;
  for (let round = 0; queue.queued.length > 0; round++) {
    if (round > 10_000) throw new Error('queue never drained');
    const batch = queue.take(10);
    jobs += batch.length;
    const failed = await worker.processBatch(batch, remainingMs);
    if (failed.length > 0) throw new Error(`jobs failed while draining: ${failed.join(', ')}`);
  }
  return jobs;
}

describe('fan-out worker: channel jobs', () => {
  it('a small channel costs one job and one index query', async () => {
    const h = fanoutHarness({ pageSize: 50 });
    const ids = connectionIds(30);
    h.store.seedSubscribers('room', ids);
    const worker = createFanoutWorker(h.deps);

    const failed = await worker.processBatch([rec(channelJob())], plenty);

    expect(failed).toEqual([]);
    expect(h.store.callsOf('pageSubscribers')).toHaveLength(1);
    expect(h.store.callsOf('pageSubscribers')[0]?.args).toEqual(['room', WHOLE_SPACE, null, 50]);
    expect([...h.sender.postCounts().values()]).toEqual(ids.map(() => 1));
    expect(h.sender.postCounts().size).toBe(30);
    expect(h.queue.enqueueCalls).toHaveLength(0);
    expect(h.store.callsOf('save')).toHaveLength(0);
    expect(h.store.callsOf('clear')).toHaveLength(0);
    expect(h.metrics.timings).toEqual([{ name: 'PublishLatency', milliseconds: h.time.now - PUBLISHED_AT }]);
  });

  it('a channel of a few pages is paged by one job, with a checkpoint after each page, cleared at the end', async () => {
    const h = fanoutHarness({ pageSize: 50 });
    const ids = connectionIds(120);
    h.store.seedSubscribers('room', ids);
    const worker = createFanoutWorker(h.deps);

    const record = rec(channelJob());
    expect(await worker.processBatch([record], plenty)).toEqual([]);

    expect(h.metrics.total('JobsSplit')).toBe(0);
    expect(h.store.callsOf('pageSubscribers')).toHaveLength(3);
    expect(h.sender.postCounts().size).toBe(120);
    expect([...h.sender.postCounts().values()].every((n) => n === 1)).toBe(true);
    expect(h.store.callsOf('save').map((c) => c.args[0])).toEqual([record.id, record.id]);
    expect(h.store.callsOf('clear').map((c) => c.args[0])).toEqual([record.id]);
    expect(h.store.checkpoints.size).toBe(0);
  });

  it('skips expired subscriptions', async () => {
    const h = fanoutHarness();
    h.store.seedSubscribers('room', ['live-1', 'live-2']);
    h.store.seedSubscribers('room', ['stale'], h.store.nowSeconds() - 1);
    await createFanoutWorker(h.deps).processBatch([rec(channelJob())], plenty);
    expect([...h.sender.postCounts().keys()].sort()).toEqual(['live-1', 'live-2']);
  });

  describe('a big channel', () => {
    /** 2,000 subscribers, pages of 50, 4-way splits: the first job delivers one page and splits. */
    async function splitOnce() {
      const h = fanoutHarness({ pageSize: 50, buckets: 4 });
      const ids = connectionIds(2000);
      h.store.seedSubscribers('room', ids);
      const worker = createFanoutWorker(h.deps);
      const record = rec(channelJob());
      expect(await worker.processBatch([record], plenty)).toEqual([]);
      const pieces = h.queue.entries();
      return { h, worker, record, pieces, jobs: pieces.map((e) => e.job as ChannelJob) };
    }

    it('delivers its first page and splits the rest in one enqueue (no read-ahead once it splits)', async () => {
      const { h, pieces } = await splitOnce();
      expect(h.store.callsOf('pageSubscribers')).toHaveLength(1);
      expect(h.sender.calls).toHaveLength(50);
      expect(h.queue.enqueueCalls).toHaveLength(1);
      expect(pieces).toHaveLength(4);
    });

    it('splits over aligned partitions, each its own ordered group, deduplicated by the record id', async () => {
      const { record, pieces, jobs } = await splitOnce();
      expect(jobs.map((j) => j.partition)).toEqual([
        { from: 0, to: 16384 },
        { from: 16384, to: 32768 },
        { from: 32768, to: 49152 },
        { from: 49152, to: BUCKET_SPACE },
      ]);
      expect(pieces.map((e) => e.orderKey)).toEqual(jobs.map((j) => channelOrderKey('room', j.partition)));
      expect(pieces.map((e) => e.dedupId)).toEqual([0, 1, 2, 3].map((i) => `${record.id}:split:${i}`));
      expect(pieces.every((e) => e.delaySeconds === undefined)).toBe(true);
    });

    it('gives the pieces ranges that tile the rest exactly, the cursor only to the first, and the same publish', async () => {
      const { h, jobs } = await splitOnce();
      const lastBucket = bucketOf(h.store.indexOf('room')[49]?.connectionId ?? '');
      expect(
        tiles(
          jobs.map((j) => j.range),
          lastBucket,
          BUCKET_SPACE,
        ),
      ).toBe(true);
      expect(jobs.map((j) => j.cursor !== null)).toEqual([true, false, false, false]);
      for (const j of jobs) expect(j).toMatchObject({ channel: 'room', payload: PAYLOAD, publishId: 'pub-1', publishedAt: PUBLISHED_AT });
      for (const m of h.queue.queued) expect(parseJob(m.body).ok).toBe(true);
    });

    it('reaches every subscriber exactly once once the pieces (and their splits) have run', async () => {
      const { h, worker } = await splitOnce();
      const processed = await drain(worker, h.queue);
      expect(processed).toBeGreaterThan(4);
      expect(h.metrics.total('JobsSplit')).toBeGreaterThan(1);
      const counts = h.sender.postCounts();
      expect(counts.size).toBe(2000);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
    });
  });

  it('hands over a continuation that resumes at the cursor when invocation time runs short', async () => {
    const h = fanoutHarness({ pageSize: 50, reserveMs: 1_000 });
    const ids = connectionIds(120);
    h.store.seedSubscribers('room', ids);
    const worker = createFanoutWorker(h.deps);
    const record = rec(channelJob());

    // The invocation starts with a minute left; after the first page less than the reserve remains.
    let calls = 0;
    expect(await worker.processBatch([record], () => (calls++ === 0 ? 60_000 : 999))).toEqual([]);

    expect(h.sender.calls).toHaveLength(50);
    expect(h.metrics.total('JobsContinued')).toBe(1);
    const [entry] = h.queue.entries();
    const cursor = (entry?.job as ChannelJob).cursor;
    expect(cursor).not.toBeNull();
    expect(entry).toEqual({
      orderKey: 'ch:room',
      dedupId: `${record.id}:continue:${cursor}`,
      // The continuation carries the publish's sequence (its record's), which a resumed subscription compares with.
      job: { ...channelJob(), cursor, sequence: record.sequence },
    });

    await drain(worker, h.queue);
    expect(h.store.callsOf('pageSubscribers').slice(-2)[0]?.args[2]).toBe(cursor);
    expect(h.sender.postCounts().size).toBe(120);
    expect([...h.sender.postCounts().values()].every((n) => n === 1)).toBe(true);
  });

  it('a job that handed over and comes back anyway (its deletion lost) does nothing: the hand-over is in its checkpoint', async () => {
    const h = fanoutHarness({ pageSize: 50, reserveMs: 1_000 });
    h.store.seedSubscribers('room', connectionIds(120));
    const worker = createFanoutWorker(h.deps);
    const record = rec(channelJob());
    let calls = 0;
    expect(await worker.processBatch([record], () => (calls++ === 0 ? 60_000 : 999))).toEqual([]);
    expect(h.queue.enqueueCalls).toHaveLength(1);

    expect(await worker.processBatch([{ ...record, receiveCount: 2 }], plenty)).toEqual([]);
    expect(h.queue.enqueueCalls).toHaveLength(1);
    expect(h.sender.calls).toHaveLength(50);
    expect(h.store.checkpoints.has(record.id)).toBe(false);
  });

  it('keeps at most a quarter of a short invocation in reserve, so a short timeout still makes progress', async () => {
    const h = fanoutHarness({ pageSize: 50, reserveMs: 10_000 });
    h.store.seedSubscribers('room', connectionIds(120));
    const worker = createFanoutWorker(h.deps);
    // 8 s left in all: a 10 s reserve would hand over after every page; a quarter (2 s) lets it finish.
    expect(await worker.processBatch([rec(channelJob())], () => 8_000)).toEqual([]);
    expect(h.metrics.total('JobsContinued')).toBe(0);
    expect(h.sender.postCounts().size).toBe(120);
  });

  it('a redelivered job (receiveCount > 1) resumes at its checkpoint: only the page in flight is sent twice', async () => {
    const h = fanoutHarness({ pageSize: 50 });
    const ids = connectionIds(140);
    h.store.seedSubscribers('room', ids);
    const order = h.store.indexOf('room').map((e) => e.connectionId);
    const firstPages = order.slice(0, 100);
    h.sender.script(order[120] ?? '', new Error('adapter bug: socket exploded'));
    const worker = createFanoutWorker(h.deps);
    const record = rec(channelJob());

    expect(await worker.processBatch([record], plenty)).toEqual([record.id]);
    const saved = h.store.checkpoints.get(record.id)?.progress.cursor;
    expect(saved).toBeDefined();
    expect(h.log.find('error', 'adapter bug')).toHaveLength(1);

    const readsBefore = h.store.callsOf('pageSubscribers').length;
    expect(await worker.processBatch([{ ...record, receiveCount: 2 }], plenty)).toEqual([]);

    expect(h.store.callsOf('load').map((c) => c.args[0])).toEqual([record.id]);
    expect(h.store.callsOf('pageSubscribers')[readsBefore]?.args[2]).toBe(saved);
    const counts = h.sender.postCounts();
    expect(order.every((id) => (counts.get(id) ?? 0) >= 1)).toBe(true);
    expect(firstPages.every((id) => counts.get(id) === 1)).toBe(true);
    const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
    expect(duplicates).toBeLessThanOrEqual(50);
    expect(h.store.checkpoints.has(record.id)).toBe(false);
  });

  it('a first delivery does not look for a checkpoint', async () => {
    const h = fanoutHarness();
    h.store.seedSubscribers('room', connectionIds(3));
    await createFanoutWorker(h.deps).processBatch([rec(channelJob())], plenty);
    expect(h.store.callsOf('load')).toHaveLength(0);
  });

  it('a retried job does not split again, even past FIFO deduplication’s 5 minutes: the split is in its checkpoint', async () => {
    const h = fanoutHarness({ pageSize: 50, buckets: 4 });
    h.store.seedSubscribers('room', connectionIds(2000));
    const firstPage = h.store
      .indexOf('room')
      .slice(0, 50)
      .map((e) => e.connectionId);
    h.sender.script(firstPage[10] ?? '', FATAL);
    const worker = createFanoutWorker(h.deps);
    const record = rec(channelJob());

    expect(await worker.processBatch([record], plenty)).toEqual([record.id]);
    expect(await worker.processBatch([{ ...record, receiveCount: 2 }], plenty)).toEqual([]);

    expect(h.queue.enqueueCalls).toHaveLength(1);
    expect(h.queue.queued).toHaveLength(4);
    expect(h.queue.deduplicated).toHaveLength(0);
    await drain(worker, h.queue);
    const counts = h.sender.postCounts();
    expect(counts.size).toBe(2000);
    // Only the page in flight when the first try failed may be sent twice.
    expect([...counts].filter(([id, n]) => n !== 1 && !firstPage.includes(id))).toEqual([]);
    expect(Math.max(...firstPage.map((id) => counts.get(id) ?? 0))).toBeLessThanOrEqual(2);
  });

  it('fails the job, and delivers nothing, when its split cannot be queued', async () => {
    const h = fanoutHarness({ pageSize: 50, buckets: 4 });
    h.store.seedSubscribers('room', connectionIds(2000));
    h.queue.failOnce('enqueue');
    const record = rec(channelJob());

    expect(await createFanoutWorker(h.deps).processBatch([record], plenty)).toEqual([record.id]);
    expect(h.sender.calls).toHaveLength(0);
  });

  it('fails the job when the index cannot be read, at the start or midway', async () => {
    const start = fanoutHarness();
    start.store.seedSubscribers('room', connectionIds(10));
    start.store.fail('pageSubscribers', storeError('throttled'));
    const first = rec(channelJob());
    expect(await createFanoutWorker(start.deps).processBatch([first], plenty)).toEqual([first.id]);
    expect(start.sender.calls).toHaveLength(0);

    const midway = fanoutHarness({ pageSize: 50 });
    midway.store.seedSubscribers('room', connectionIds(120));
    midway.store.fail('pageSubscribers', storeError('unavailable'), 1, 1);
    const second = rec(channelJob());
    expect(await createFanoutWorker(midway.deps).processBatch([second], plenty)).toEqual([second.id]);
    expect(midway.sender.calls).toHaveLength(50);
  });

  it('deletes 410 connections in one batch and does not count them as failures', async () => {
    const h = fanoutHarness();
    const ids = connectionIds(30);
    h.store.seedSubscribers('room', ids);
    const gone = ids.slice(3, 8);
    for (const id of gone) h.sender.always(id, 'gone');

    expect(await createFanoutWorker(h.deps).processBatch([rec(channelJob())], plenty)).toEqual([]);

    const deletes = h.store.callsOf('deleteConnections');
    expect(deletes).toHaveLength(1);
    expect([...(deletes[0]?.args[0] as string[])].sort()).toEqual([...gone].sort());
    expect(gone.every((id) => !h.store.hasItems(id))).toBe(true);
    expect(h.store.indexOf('room')).toHaveLength(25);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });

  it('fails the job on a non-retryable gateway failure', async () => {
    const h = fanoutHarness();
    h.store.seedSubscribers('room', ['a', 'b']);
    h.sender.otherwise(FATAL);
    const record = rec(channelJob());
    expect(await createFanoutWorker(h.deps).processBatch([record], plenty)).toEqual([record.id]);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });
});

describe('fan-out worker: retries and dead letters', () => {
  /** 20 subscribers of which two throttle every call; 3 attempts of 2 in-job tries each. */
  function stuckDeliveries() {
    const h = fanoutHarness({ maxAttempts: 3, inJobAttempts: 2 });
    const ids = connectionIds(20);
    h.store.seedSubscribers('room', ids);
    const stuck = [ids[4] ?? '', ids[9] ?? ''];
    for (const id of stuck) h.sender.always(id, 'throttled');
    return { h, ids, stuck, worker: createFanoutWorker(h.deps) };
  }

  it('re-enqueues deferred deliveries as a delayed ConnectionsJob with attempt + 1', async () => {
    const { h, stuck, worker } = stuckDeliveries();

    expect(await worker.processBatch([rec(channelJob())], plenty)).toEqual([]);

    const [retry] = h.queue.entries();
    expect(h.queue.entries()).toHaveLength(1);
    expect(retry?.orderKey).toBeUndefined();
    expect(retry?.delaySeconds).toBeGreaterThanOrEqual(1);
    expect(retry?.delaySeconds).toBeLessThanOrEqual(900);
    expect(retry?.job).toEqual({
      v: 1,
      kind: 'connections',
      connectionIds: expect.arrayContaining(stuck),
      payloads: [PAYLOAD],
      attempt: 1,
      lastError: 'throttled: LimitExceededException',
      publishId: 'pub-1',
      publishedAt: PUBLISHED_AT,
    });
    expect((retry?.job as ConnectionsJob).connectionIds).toHaveLength(2);
  });

  it('dead-letters the deferred deliveries once maxAttempts attempts failed, with the count and last error', async () => {
    const { h, ids, stuck, worker } = stuckDeliveries();
    expect(await worker.processBatch([rec(channelJob())], plenty)).toEqual([]);

    // Attempt 1 fails again → attempt 2 is queued; attempt 2 fails → 3 attempts made: dead-lettered.
    expect(await worker.processBatch(h.queue.take(), plenty)).toEqual([]);
    expect(h.queue.jobs()).toEqual([expect.objectContaining({ kind: 'connections', attempt: 2 })]);
    expect(await worker.processBatch(h.queue.take(), plenty)).toEqual([]);

    expect(h.queue.queued).toHaveLength(0);
    expect(h.queue.dead).toHaveLength(1);
    expect(h.queue.dead[0]?.reason).toBe('delivery failed 3 times: throttled: LimitExceededException');
    const body = parseJob(h.queue.dead[0]?.body ?? '');
    expect(body.ok && body.value.kind === 'connections' ? [...body.value.connectionIds].sort() : null).toEqual([...stuck].sort());
    expect(h.metrics.total('DeliveriesDeadLettered')).toBe(2);
    expect(stuck.every((id) => h.sender.posted(id).length === 6)).toBe(true);
    expect(ids.filter((id) => !stuck.includes(id)).every((id) => h.sender.posted(id).length === 1)).toBe(true);
  });

  it('a retry job carries the remaining payloads of each connection', async () => {
    const h = fanoutHarness({ inJobAttempts: 1 });
    h.sender.script('a', 'ok', 'failed');
    const payloads: Payload[] = [
      { kind: 'text', text: '1' },
      { kind: 'text', text: '2' },
      { kind: 'close', code: 4000 },
    ];

    await createFanoutWorker(h.deps).processBatch([rec(connectionsJob(['a', 'b'], { payloads, attempt: 1 }))], plenty);

    expect(h.queue.jobs()).toEqual([
      expect.objectContaining({
        connectionIds: ['a'],
        payloads: payloads.slice(1),
        attempt: 2,
        publishId: 'pub-2',
        lastError: 'failed: InternalServerError',
      }),
    ]);
  });

  it('splits a large retry into jobs of at most 100 connections', async () => {
    const h = fanoutHarness({ inJobAttempts: 1, concurrency: 50 });
    const ids = connectionIds(250);
    h.sender.otherwise('throttled');

    await createFanoutWorker(h.deps).processBatch([rec(connectionsJob(ids))], plenty);

    const jobs = h.queue.jobs() as ConnectionsJob[];
    expect(jobs.map((j) => j.connectionIds.length)).toEqual([100, 100, 50]);
    expect(new Set(jobs.flatMap((j) => j.connectionIds)).size).toBe(250);
  });

  it('fails the job when deferred deliveries cannot be re-enqueued or dead-lettered', async () => {
    const requeue = fanoutHarness({ inJobAttempts: 1 });
    requeue.sender.otherwise('throttled');
    requeue.queue.fail('enqueue');
    const a = rec(connectionsJob(['a']));
    expect(await createFanoutWorker(requeue.deps).processBatch([a], plenty)).toEqual([a.id]);

    const dead = fanoutHarness({ inJobAttempts: 1, maxAttempts: 1 });
    dead.sender.otherwise('throttled');
    dead.queue.fail('deadLetter');
    const b = rec(connectionsJob(['a']));
    expect(await createFanoutWorker(dead.deps).processBatch([b], plenty)).toEqual([b.id]);
  });

  it('an OPEN-reply job retries 410s until graceUntil', async () => {
    const h = fanoutHarness();
    h.sender.script('new-conn', 'gone', 'gone', 'ok');
    const job = connectionsJob(['new-conn'], { graceUntil: h.time.now + 5_000, payloads: [{ kind: 'text', text: 'welcome' }] });

    expect(await createFanoutWorker(h.deps).processBatch([rec(job)], plenty)).toEqual([]);

    expect(h.sender.posted('new-conn')).toEqual(['welcome', 'welcome', 'welcome']);
    expect(h.store.callsOf('deleteConnections')).toHaveLength(0);
  });
});

describe('fan-out worker: batches', () => {
  it('a job that throws fails with the rest of its FIFO group, while other groups succeed', async () => {
    const h = fanoutHarness();
    h.store.seedSubscribers('a', ['a-1', 'a-2']);
    h.store.seedSubscribers('b', ['b-1', 'b-2']);
    h.sender.script('a-2', new Error('adapter bug'));
    const a1 = rec(channelJob('a', { payload: { kind: 'text', text: 'a1' } }));
    const a2 = rec(channelJob('a', { payload: { kind: 'text', text: 'a2' } }));
    const a3 = rec(channelJob('a', { payload: { kind: 'text', text: 'a3' } }));
    const b1 = rec(channelJob('b', { payload: { kind: 'text', text: 'b1' } }));
    const b2 = rec(channelJob('b', { payload: { kind: 'text', text: 'b2' } }));

    const failed = await createFanoutWorker(h.deps).processBatch([a1, b1, a2, b2, a3], plenty);

    expect(failed).toEqual([a1.id, a2.id, a3.id]);
    expect(h.sender.posted('b-1')).toEqual(['b1', 'b2']);
    expect(h.sender.posted('b-2')).toEqual(['b1', 'b2']);
    expect(h.store.callsOf('pageSubscribers').filter((c) => c.args[0] === 'a')).toHaveLength(1);
    expect(h.sender.posted('a-1')).not.toContain('a2');
    expect(h.log.find('warn', 'rest of its group').map((e) => e.attributes['following'])).toEqual([2]);
  });

  it('records on the unordered lane are independent of each other', async () => {
    const h = fanoutHarness({ inJobAttempts: 1 });
    h.sender.always('bad', FATAL);
    const bad = rec(connectionsJob(['bad']));
    const good = rec(connectionsJob(['good']));
    expect(await createFanoutWorker(h.deps).processBatch([bad, good], plenty)).toEqual([bad.id]);
    expect(h.sender.posted('good')).toEqual(['news']);
  });

  it.each([
    ['not JSON', 'not json at all'],
    ['not a job', '{"v":1,"kind":"channel"}'],
    ['a range outside its partition', serializeJob(channelJob('room', { partition: { from: 0, to: 100 }, range: { from: 50, to: 200 } }))],
    ['an unknown kind', '{"v":1,"kind":"mystery"}'],
  ])('dead-letters a message that is %s, with the reason, and does not fail it', async (_name, body) => {
    const h = fanoutHarness();
    const record = rec(body);

    expect(await createFanoutWorker(h.deps).processBatch([record], plenty)).toEqual([]);

    expect(h.queue.dead).toEqual([{ body, reason: expect.stringContaining('job body') }]);
    expect(h.sender.calls).toHaveLength(0);
  });

  it('fails an invalid message when it cannot even be dead-lettered', async () => {
    const h = fanoutHarness();
    h.queue.fail('deadLetter');
    const record = rec('garbage');
    expect(await createFanoutWorker(h.deps).processBatch([record], plenty)).toEqual([record.id]);
  });

  it('shares one limiter across the jobs of a batch', async () => {
    const h = fanoutHarness({ concurrency: 5 });
    for (const c of ['a', 'b', 'c', 'd']) h.store.seedSubscribers(c, connectionIds(30, c));
    await createFanoutWorker(h.deps).processBatch(
      ['a', 'b', 'c', 'd'].map((c) => rec(channelJob(c))),
      plenty,
    );
    expect(h.sender.calls).toHaveLength(120);
    expect(h.sender.maxInFlight).toBeLessThanOrEqual(5);
  });
});

describe('fan-out worker: keep-alive jobs', () => {
  const ID = 'ka-conn=';
  const keepAlive: KeepAlive = { payload: { kind: 'text', text: '{}' }, timeoutSeconds: 30, mode: 'interval', since: 1_000 };

  function setUp(outcome: 'ok' | 'gone' | 'too-large', stored: KeepAlive = keepAlive) {
    const h = fanoutHarness();
    h.store.seedConnection(connectionRecord(ID, { keepAlive: stored }));
    h.sender.always(ID, outcome);
    const job: KeepAliveJob = { v: 1, kind: 'keepalive', connectionId: ID, since: keepAlive.since, dueAt: h.time.now };
    return { h, job, worker: createFanoutWorker(h.deps) };
  }

  it('sends a due heartbeat and schedules the next one a period later', async () => {
    const { h, job, worker } = setUp('ok');

    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);

    expect(h.sender.posted(ID)).toEqual(['{}']);
    expect(h.queue.queued.map((q) => q.entry)).toEqual([{ job: { ...job, dueAt: h.time.now + 30_000, generation: 1 }, delaySeconds: 30 }]);
  });

  it('idle mode: a publish to one of the connection’s channels within the period defers the heartbeat (Pushpin counts frames sent)', async () => {
    const idle: KeepAlive = { ...keepAlive, mode: 'idle' };
    const { h, job, worker } = setUp('ok', idle);
    h.store.seedSubscribers('room', [ID]);
    // The last direct send was long ago, but the channel got a publish 10 s ago: due 20 s from now.
    h.store.seedConnection(connectionRecord(ID, { keepAlive: idle, lastActivityAt: h.time.now - 60_000 }));
    await h.store.markPublished('room', h.time.now - 10_000);

    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);

    expect(h.sender.posted(ID)).toEqual([]);
    expect(h.queue.queued.map((q) => q.entry.job)).toEqual([expect.objectContaining({ dueAt: h.time.now + 20_000 })]);
  });

  it('idle mode: with no recent publish and no recent direct send, the heartbeat goes out', async () => {
    const idle: KeepAlive = { ...keepAlive, mode: 'idle' };
    const { h, job, worker } = setUp('ok', idle);
    h.store.seedSubscribers('room', [ID]);
    h.store.seedConnection(connectionRecord(ID, { keepAlive: idle, lastActivityAt: h.time.now - 60_000 }));
    await h.store.markPublished('room', h.time.now - 45_000);

    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);

    expect(h.sender.posted(ID)).toEqual(['{}']);
  });

  it('a job delivered twice sends once and continues one chain (the duplicate finds its generation claimed)', async () => {
    const { h, job, worker } = setUp('ok');

    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);
    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);

    expect(h.sender.posted(ID)).toEqual(['{}']);
    expect(h.queue.queued).toHaveLength(1);
    // The next generation runs; a late duplicate of the first job still ends quietly.
    const next = h.queue.queued[0]!.entry.job;
    h.time.advance(30_000);
    expect(await worker.processBatch([rec(next), rec(job)], plenty)).toEqual([]);
    expect(h.sender.posted(ID)).toEqual(['{}', '{}']);
    expect(h.queue.queued).toHaveLength(2);
  });

  it('releases its claim when the next heartbeat cannot be queued, so the retry continues the chain', async () => {
    const { h, job, worker } = setUp('ok');
    h.queue.failOnce('enqueue');
    const record = rec(job);
    expect(await worker.processBatch([record], plenty)).toEqual([record.id]);
    expect(await worker.processBatch([{ ...record, receiveCount: 2 }], plenty)).toEqual([]);
    expect(h.queue.queued).toHaveLength(1);
  });

  it('ends the chain and deletes the connection when API Gateway no longer knows it', async () => {
    const { h, job, worker } = setUp('gone');

    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);

    expect(h.store.callsOf('deleteConnections').map((c) => c.args)).toEqual([[[ID]]]);
    expect(h.queue.queued).toEqual([]);
  });

  it('ends the chain with an error when the heartbeat can never be delivered (413), instead of retrying it every period', async () => {
    const { h, job, worker } = setUp('too-large');

    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);

    expect(h.sender.posted(ID)).toEqual(['{}']);
    expect(h.queue.queued).toEqual([]);
    expect(h.store.callsOf('deleteConnections')).toEqual([]);
    expect(h.log.find('error', 'heartbeats stopped')).toHaveLength(1);
  });

  it('sends nothing when the keep-alive was changed since the chain was scheduled (a newer chain runs)', async () => {
    const { h, job, worker } = setUp('ok', { ...keepAlive, since: 2_000 });

    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);

    expect(h.sender.calls).toEqual([]);
    expect(h.queue.queued).toEqual([]);
  });
});

describe('fan-out worker: backend polls (Keep-Alive-Interval)', () => {
  const ID = 'poll-conn=';
  const poll = { intervalSeconds: 20, since: 1_000 };

  function setUp(lastExchangeAgoMs: number, stored: { intervalSeconds: number; since: number } | null = poll) {
    const h = fanoutHarness();
    h.store.seedConnection(connectionRecord(ID, { backendPoll: stored, lastExchangeAt: h.time.now - lastExchangeAgoMs }));
    const job: BackendPollJob = { v: 1, kind: 'poll', connectionId: ID, since: poll.since, dueAt: h.time.now };
    return { h, job, worker: createFanoutWorker(h.deps) };
  }

  it('a due poll queues one empty request on the connection’s lane and schedules the next an interval later', async () => {
    const { h, job, worker } = setUp(20_000);

    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);

    expect(h.lane.queued.map((q) => q.message)).toEqual([{ v: 1, connectionId: ID, poll: 'interval', receivedAt: h.time.now }]);
    expect(h.queue.queued.map((q) => q.entry)).toEqual([{ job: { ...job, dueAt: h.time.now + 20_000, generation: 1 }, delaySeconds: 20 }]);
    expect(h.sender.calls).toEqual([]);
  });

  it('an exchange since the poll was scheduled moves it: due an interval after that exchange, nothing queued now', async () => {
    const { h, job, worker } = setUp(5_000);

    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);

    expect(h.lane.queued).toEqual([]);
    expect(h.queue.queued.map((q) => q.entry.job)).toEqual([expect.objectContaining({ dueAt: h.time.now + 15_000, generation: 1 })]);
  });

  it('a job delivered twice polls once and continues one chain', async () => {
    const { h, job, worker } = setUp(20_000);

    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);
    expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);

    expect(h.lane.queued).toHaveLength(1);
    expect(h.queue.queued).toHaveLength(1);
  });

  it('a failed lane releases the claim, so the queue’s retry of the job polls and continues the chain', async () => {
    const { h, job, worker } = setUp(20_000);
    h.lane.failNext();
    const record = rec(job);

    expect(await worker.processBatch([record], plenty)).toEqual([record.id]);
    expect(await worker.processBatch([{ ...record, receiveCount: 2 }], plenty)).toEqual([]);

    expect(h.lane.queued).toHaveLength(1);
    expect(h.queue.queued).toHaveLength(1);
  });

  it('ends the chain when polling was turned off, changed, or the connection is gone or detached', async () => {
    for (const stored of [null, { ...poll, since: 2_000 }]) {
      const { h, job, worker } = setUp(60_000, stored);
      expect(await worker.processBatch([rec(job)], plenty)).toEqual([]);
      expect(h.lane.queued).toEqual([]);
      expect(h.queue.queued).toEqual([]);
    }
    const { h, job, worker } = setUp(60_000);
    h.store.seedConnection(connectionRecord(ID, { backendPoll: poll, detached: true }));
    await worker.processBatch([rec({ ...job, connectionId: 'gone=' }), rec(job)], plenty);
    expect(h.lane.queued).toEqual([]);
    expect(h.queue.queued).toEqual([]);
  });
});

describe('fan-out worker: the item id cache (Pushpin’s id_cache_ttl)', () => {
  const withId = (id: string, overrides: Partial<ChannelJob> = {}) => channelJob('room', { itemId: id, publishId: id, ...overrides });

  it('drops a second publish of the same id on the same channel within the TTL, and counts it', async () => {
    const h = fanoutHarness({ idCacheTtlMs: 60_000 });
    h.store.seedSubscribers('room', connectionIds(3));
    const worker = createFanoutWorker(h.deps);

    await worker.processBatch([rec(withId('m-1'))], plenty);
    await worker.processBatch([rec(withId('m-1'))], plenty);
    await worker.processBatch([rec(channelJob('other', { itemId: 'm-1' }))], plenty);

    expect([...h.sender.postCounts().values()]).toEqual([1, 1, 1]);
    expect(h.metrics.total('ItemsDeduplicated')).toBe(1);
  });

  it('delivers a redelivery of the same queue message again (its own claim), and the id again after the TTL', async () => {
    const h = fanoutHarness({ idCacheTtlMs: 60_000 });
    h.store.seedSubscribers('room', connectionIds(2));
    const worker = createFanoutWorker(h.deps);
    const first = rec(withId('m-2'));

    await worker.processBatch([first], plenty);
    await worker.processBatch([{ ...first, receiveCount: 2 }], plenty);
    h.time.advance(60_001);
    await worker.processBatch([rec(withId('m-2'))], plenty);

    expect([...h.sender.postCounts().values()]).toEqual([3, 3]);
    expect(h.metrics.total('ItemsDeduplicated')).toBe(0);
  });

  it('is off with a TTL of 0, and never consulted for items without an id or for continuations', async () => {
    const h = fanoutHarness({ idCacheTtlMs: 0 });
    h.store.seedSubscribers('room', connectionIds(1));
    const worker = createFanoutWorker(h.deps);
    await worker.processBatch([rec(withId('m-3')), rec(withId('m-3'))], plenty);
    expect([...h.sender.postCounts().values()]).toEqual([2]);

    const on = fanoutHarness({ idCacheTtlMs: 60_000 });
    on.store.seedSubscribers('room', connectionIds(1));
    await createFanoutWorker(on.deps).processBatch([rec(channelJob()), rec(withId('m-4', { cursor: 'x' }))], plenty);
    expect(on.store.callsOf('rememberItemId')).toEqual([]);
  });
});
