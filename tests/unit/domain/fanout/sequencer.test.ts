/**
 * `prev-id` ordering (issue 11 §3), Pushpin's sequencer (docs/pushpin-semantics.md §6), on the real worker with
 * in-memory ports: held items are released by their predecessor in a chain, or after `messageWaitMs`; one item per
 * missing predecessor and 100 per channel are held, more are dropped.
 */
import { describe, expect, it } from 'vitest';
import { channelPublishEntry } from '#src/domain/fanout/jobs.js';
import { createFanoutWorker, type FanoutWorker } from '#src/domain/fanout/worker.js';
import { MAX_HELD_PER_CHANNEL } from '#src/domain/fanout/sequencer.js';
import { connectionIds, fanoutHarness, type FanoutHarness } from '#test-helpers/harness.js';

const [SUB] = connectionIds(1);
const SUBSCRIBER = SUB ?? '';

const item = (id: string | null, prevId: string | null = null, noSeq = false) =>
  channelPublishEntry('room', { kind: 'text', text: id ?? 'no-id' }, { publishId: id ?? 'p', publishedAt: 0 }, undefined, id, {
    prevId,
    ...(noSeq ? { noSeq: true as const } : {}),
  });

function setUp(): { h: FanoutHarness; worker: FanoutWorker } {
  const h = fanoutHarness({ messageWaitMs: 5_000 });
  h.store.seedSubscribers('room', [SUBSCRIBER]);
  return { h, worker: createFanoutWorker(h.deps) };
}

/** Runs the ordered lane (in order) until it is empty; delayed jobs stay queued (their delay has not passed). */
async function drainOrdered(h: FanoutHarness, worker: FanoutWorker): Promise<void> {
  for (let n = 0; n < 1_000; n++) {
    const index = h.queue.queued.findIndex((m) => m.entry.delaySeconds === undefined);
    if (index === -1) return;
    const [message] = h.queue.queued.splice(index, 1);
    if (message === undefined) return;
    const record = {
      id: message.messageId,
      body: message.body,
      group: message.entry.orderKey ?? null,
      receiveCount: 1,
      sequence: message.sequence,
    };
    expect(await worker.processBatch([record], () => 60_000)).toEqual([]);
  }
}

/** Runs the delayed jobs queued so far (their wait is over). */
async function expire(h: FanoutHarness, worker: FanoutWorker): Promise<void> {
  const delayed = h.queue.queued.filter((m) => m.entry.delaySeconds !== undefined);
  h.queue.queued.splice(0, h.queue.queued.length, ...h.queue.queued.filter((m) => m.entry.delaySeconds === undefined));
  for (const m of delayed)
    expect(
      await worker.processBatch([{ id: m.messageId, body: m.body, group: null, receiveCount: 1, sequence: null }], () => 60_000),
    ).toEqual([]);
}

const received = (h: FanoutHarness) => h.sender.posted(SUBSCRIBER).map(String);

describe('prev-id sequencing', () => {
  it('delivers s1, s3(prev s2), s2(prev s1) as s1, s2, s3', async () => {
    const { h, worker } = setUp();
    await h.queue.enqueue([item('s1'), item('s3', 's2'), item('s2', 's1')]);
    await drainOrdered(h, worker);
    expect(received(h)).toEqual(['s1', 's2', 's3']);
    expect(h.metrics.total('ItemsHeld')).toBe(1);
    // The timer of the released item finds nothing to release.
    await expire(h, worker);
    expect(received(h)).toEqual(['s1', 's2', 's3']);
  });

  it('delivers a held item anyway once its wait is over, and it becomes the last id', async () => {
    const { h, worker } = setUp();
    await h.queue.enqueue([item('t1'), item('t3', 't2')]);
    await drainOrdered(h, worker);
    expect(received(h)).toEqual(['t1']);
    expect(h.queue.queued.map((m) => m.entry.delaySeconds)).toEqual([5]);
    await expire(h, worker);
    await drainOrdered(h, worker);
    expect(received(h)).toEqual(['t1', 't3']);
    expect(h.store.lastIds.get('room')).toBe('t3');
  });

  it('delivers at once: no-seq items, items whose prev-id is the last id, and any item on a channel with no last id', async () => {
    const { h, worker } = setUp();
    await h.queue.enqueue([item('a', 'nothing-yet'), item('c', 'b', true), item('d', 'c')]);
    await drainOrdered(h, worker);
    expect(received(h)).toEqual(['a', 'c', 'd']);
    // An item without an id clears the last id, so the next prev-id item goes straight out.
    await h.queue.enqueue([item(null), item('f', 'e')]);
    await drainOrdered(h, worker);
    expect(received(h)).toEqual(['a', 'c', 'd', 'no-id', 'f']);
  });

  it('drops a second item waiting for the same predecessor, and items past 100 held per channel', async () => {
    const { h, worker } = setUp();
    await h.queue.enqueue([item('p0'), item('x', 'gone'), item('y', 'gone')]);
    await drainOrdered(h, worker);
    expect(h.metrics.total('ItemsDropped')).toBe(1);
    await h.queue.enqueue(Array.from({ length: MAX_HELD_PER_CHANNEL }, (_, k) => item(`q${k}`, `missing${k}`)));
    await drainOrdered(h, worker);
    // x and q0…q98 are held (100); q99 is dropped.
    expect(h.metrics.total('ItemsDropped')).toBe(2);
    await expire(h, worker);
    await drainOrdered(h, worker);
    expect(received(h)).toContain('x');
    expect(received(h)).not.toContain('y');
    expect(received(h).filter((t) => t.startsWith('q'))).toHaveLength(MAX_HELD_PER_CHANNEL - 1);
  });

  it('is off with messageWaitMs 0: no reads or writes, everything in publish order', async () => {
    const h = fanoutHarness({ messageWaitMs: 0 });
    h.store.seedSubscribers('room', [SUBSCRIBER]);
    const worker = createFanoutWorker(h.deps);
    await h.queue.enqueue([item('s1'), item('s3', 's2'), item('s2', 's1')]);
    await drainOrdered(h, worker);
    expect(received(h)).toEqual(['s1', 's3', 's2']);
    expect(h.store.callsOf('sequencerState')).toEqual([]);
  });
});
