/**
 * Catch-up jobs and the resume seam (issue 14), on the real worker with in-memory ports. The property test runs
 * publishes and one resume in random interleavings of queue groups, with pages small enough that publishes split
 * into pieces and continuations in other groups, and checks the resumed client's messages exactly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { catchUpEntry, channelPublishEntry, type CatchUpJob } from '#src/domain/fanout/jobs.js';
import { createFanoutWorker, type FanoutWorker, type QueueRecord } from '#src/domain/fanout/worker.js';
import type { QueueEntry } from '#src/domain/ports.js';
import { asRecord, storeError, type RecordingQueue } from '#test-helpers/fakes.js';
import { connectionIds, connectionRecord, fanoutHarness, type FanoutHarness } from '#test-helpers/harness.js';

const CONNECTED_AT = 1_800_000_000_000;
const X = 'resumer0000000X=';

function catchUp(overrides: Partial<Omit<CatchUpJob, 'v' | 'kind'>> = {}): QueueEntry {
  return catchUpEntry({
    channel: 'room',
    connectionId: X,
    since: 'id-1',
    token: 'tok-1',
    connectedAt: CONNECTED_AT,
    requestedAt: CONNECTED_AT,
    ...overrides,
  });
}

const publish = (i: number, channel = 'room') =>
  channelPublishEntry(channel, { kind: 'text', text: `m${i}` }, { publishId: `p${i}`, publishedAt: CONNECTED_AT }, undefined, `id-${i}`);

/** Takes records out of the recording queue one group head at a time, in the order `pick` chooses. */
function takeOne(queue: RecordingQueue, pick: (groups: number) => number): QueueRecord | null {
  const heads = new Map<string, number>();
  queue.queued.forEach((m, i) => {
    const group = m.entry.delaySeconds === undefined ? (m.entry.orderKey ?? 'default') : `delayed:${i}`;
    if (!heads.has(group)) heads.set(group, i);
  });
  if (heads.size === 0) return null;
  const index = [...heads.values()][pick(heads.size) % heads.size] ?? 0;
  const [message] = queue.queued.splice(index, 1);
  return message === undefined ? null : asRecord(message);
}

async function drain(worker: FanoutWorker, h: FanoutHarness, pick: (groups: number) => number = () => 0): Promise<void> {
  for (let n = 0; ; n++) {
    if (n > 10_000) throw new Error('queue never drained');
    const record = takeOne(h.queue, pick);
    if (record === null) return;
    const failed = await worker.processBatch([record], () => 60_000);
    if (failed.length > 0) throw new Error(`job failed: ${record.body}`);
  }
}

/** A resumed subscription as the session writes it: catching up with `token`, then its catch-up job queued. */
async function resume(h: FanoutHarness, token = 'tok-1', since = 'id-1', extra: Partial<Omit<CatchUpJob, 'v' | 'kind'>> = {}) {
  h.store.seedConnection(connectionRecord(X, { connectedAt: CONNECTED_AT }));
  await h.store.subscribe(
    { connectionId: X, connectedAt: CONNECTED_AT, expiresAt: Math.floor(CONNECTED_AT / 1000) + 7200 },
    ['room'],
    undefined,
    new Map([['room', token]]),
  );
  await h.queue.enqueue([catchUp({ token, since, ...extra })]);
}

const texts = (h: FanoutHarness, id: string) => h.sender.posted(id).map((d) => (typeof d === 'string' ? d : '<binary>'));

describe('catch-up jobs', () => {
  it('replay the items after since, in order, then make the subscription live for later items only', async () => {
    const h = fanoutHarness();
    const worker = createFanoutWorker(h.deps);
    await h.queue.enqueue([publish(1), publish(2), publish(3)]);
    await drain(worker, h);
    await resume(h);
    await h.queue.enqueue([publish(4)]);
    await drain(worker, h);
    expect(texts(h, X)).toEqual(['m2', 'm3', 'm4']);
    expect(h.store.resumeStates.get(X)?.get('room')).toEqual({ liveAfter: expect.stringMatching(/^\d+$/) });
    expect(h.metrics.total('ResumesReplayed')).toBe(1);
    expect(h.metrics.total('ItemsReplayed')).toBe(2);
  });

  it('send recovery-failed for an unknown since (then go live), nothing without it', async () => {
    for (const recoveryFailed of ['{"type":"reload"}', undefined]) {
      const h = fanoutHarness();
      const worker = createFanoutWorker(h.deps);
      await h.queue.enqueue([publish(1)]);
      await drain(worker, h);
      await resume(h, 'tok-1', 'unknown-id', recoveryFailed === undefined ? {} : { recoveryFailed });
      await h.queue.enqueue([publish(2)]);
      await drain(worker, h);
      expect(texts(h, X)).toEqual(recoveryFailed === undefined ? ['m2'] : [recoveryFailed, 'm2']);
      expect(h.metrics.total('ResumesFailed')).toBe(1);
      expect(h.log.find('info', 'a resume could not replay')[0]?.attributes).toMatchObject({ reason: 'since-unknown' });
    }
  });

  it('fail the resume when more than maxItems were published after since, and when history is off', async () => {
    const far = fanoutHarness({ history: { ttlMs: 3_600_000, maxItems: 2 } });
    const off = fanoutHarness({ history: { ttlMs: 0, maxItems: 1000 } });
    for (const [h, reason] of [
      [far, 'too-far-behind'],
      [off, 'history-off'],
    ] as const) {
      const worker = createFanoutWorker(h.deps);
      await h.queue.enqueue([publish(1), publish(2), publish(3), publish(4)]);
      await drain(worker, h);
      await resume(h, 'tok-1', 'id-1', { recoveryFailed: 'reload' });
      await drain(worker, h);
      expect(texts(h, X)).toEqual(['reload']);
      expect(h.log.find('info', 'a resume could not replay')[0]?.attributes).toMatchObject({ reason });
    }
    expect(off.history.of('room')).toEqual([]);
  });

  it('do not replay expired items: since expired is unknown', async () => {
    const h = fanoutHarness({ history: { ttlMs: 1_000, maxItems: 100 } });
    const worker = createFanoutWorker(h.deps);
    await h.queue.enqueue([publish(1), publish(2)]);
    await drain(worker, h);
    h.time.advance(1_001);
    await resume(h, 'tok-1', 'id-1', { recoveryFailed: 'reload' });
    await drain(worker, h);
    expect(texts(h, X)).toEqual(['reload']);
  });

  it('end quietly when a newer subscribe replaced the resume (its token no longer matches)', async () => {
    const h = fanoutHarness();
    const worker = createFanoutWorker(h.deps);
    await h.queue.enqueue([publish(1), publish(2)]);
    await drain(worker, h);
    await resume(h, 'old-token');
    // A second subscribe with since wrote a new token before the first catch-up ran.
    await h.store.subscribe(
      { connectionId: X, connectedAt: CONNECTED_AT, expiresAt: 2e9 },
      ['room'],
      undefined,
      new Map([['room', 'new-token']]),
    );
    await h.queue.enqueue([catchUp({ token: 'new-token' })]);
    await drain(worker, h);
    expect(h.log.find('info', 'a resume was replaced')).toHaveLength(1);
    expect(h.store.resumeStates.get(X)?.get('room')).toEqual({ liveAfter: expect.any(String) });
  });

  it('forget a connection that is gone (410 after its join grace)', async () => {
    const h = fanoutHarness();
    const worker = createFanoutWorker(h.deps);
    await h.queue.enqueue([publish(1), publish(2)]);
    await drain(worker, h);
    await resume(h);
    h.time.advance(60_000);
    h.sender.otherwise('gone');
    await drain(worker, h);
    expect(h.store.hasItems(X)).toBe(false);
  });

  it('fail (and are retried by the queue) when the history cannot be read', async () => {
    const h = fanoutHarness();
    const worker = createFanoutWorker(h.deps);
    await h.queue.enqueue([publish(1), publish(2)]);
    await drain(worker, h);
    await resume(h);
    h.history.failOnce('readAfter', storeError('throttled'));
    const record = takeOne(h.queue, () => 0);
    expect(record).not.toBeNull();
    expect(await worker.processBatch([record as QueueRecord], () => 60_000)).toEqual([record?.id]);
    expect(texts(h, X)).toEqual([]);
  });

  it('are written to history once per publish (a redelivered job writes the same item), never per subscriber', async () => {
    const h = fanoutHarness();
    h.store.seedSubscribers('room', connectionIds(30));
    const worker = createFanoutWorker(h.deps);
    await h.queue.enqueue([publish(1)]);
    const [record] = h.queue.take(1);
    if (record === undefined) throw new Error('nothing queued');
    await worker.processBatch([record], () => 60_000);
    await worker.processBatch([{ ...record, receiveCount: 2 }], () => 60_000);
    expect(h.history.calls.filter((c) => c.method === 'record')).toHaveLength(2);
    expect(h.history.of('room').map((e) => e.id)).toEqual(['id-1']);
  });
});

describe('the resume seam', () => {
  it('gives the resumed client every item after since exactly once, in order, under any interleaving of groups', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 12 }),
        fc.array(fc.nat(), { minLength: 200, maxLength: 200 }),
        async (before, sinceAt, after, picks) => {
          const since = Math.min(sinceAt, before - 1) + 1; // an item published before the resume
          // Small pages over many subscribers: publishes split into pieces and continue in other groups.
          const h = fanoutHarness({ pageSize: 3, buckets: 4 });
          h.store.seedSubscribers('room', connectionIds(20));
          const worker = createFanoutWorker(h.deps);
          let p = 0;
          const pick = () => picks[p++ % picks.length] ?? 0;
          // Publishes before the resume, processed partly (a random number of steps) before it happens.
          for (let i = 1; i <= before; i++) await h.queue.enqueue([publish(i)]);
          for (let step = pick() % 20; step > 0; step--) {
            const record = takeOne(h.queue, pick);
            if (record === null) break;
            await worker.processBatch([record], () => 60_000);
          }
          await resume(h, 'tok', `id-${since}`);
          for (let i = before + 1; i <= before + after; i++) await h.queue.enqueue([publish(i)]);
          await drain(worker, h, pick);
          const expected = Array.from({ length: before + after - since }, (_, k) => `m${since + 1 + k}`);
          expect(texts(h, X)).toEqual(expected);
          // Everyone else got everything, once.
          for (const id of connectionIds(20)) expect(texts(h, id)).toHaveLength(before + after);
        },
      ),
      { numRuns: 60 },
    );
  });
});
