import { describe, expect, it } from 'vitest';
import type { SqsRecord } from '#src/handlers/aws-events.js';
import { failedItems, ReceiveSlots } from '#src/local/poller.js';
import { sqsRecord } from '#test-helpers/lambda-events.js';

const record = (messageId: string): SqsRecord => sqsRecord(messageId, '{}');
const batch = [record('a'), record('b')];

describe('failedItems (Lambda partial batch response rules)', () => {
  it('treats null, undefined, an empty object and empty or null lists as full success', () => {
    for (const response of [null, undefined, {}, { batchItemFailures: [] }, { batchItemFailures: null }]) {
      expect(failedItems(response, batch)).toEqual(new Set());
    }
  });

  it('returns the listed ids', () => {
    expect(failedItems({ batchItemFailures: [{ itemIdentifier: 'b' }] }, batch)).toEqual(new Set(['b']));
  });

  it('fails the whole batch for an unknown, empty, missing or mistyped identifier, or a non-object', () => {
    for (const response of [
      { batchItemFailures: [{ itemIdentifier: 'zzz' }] },
      { batchItemFailures: [{ itemIdentifier: '' }] },
      { batchItemFailures: [{ itemIdentifier: null }] },
      { batchItemFailures: [{ itemId: 'a' }] },
      { batchItemFailures: 'a' },
      'ok',
      42,
    ]) {
      expect(failedItems(response, batch)).toBe('all');
    }
  });
});

describe('ReceiveSlots (the poller’s receive slots)', () => {
  it('grants slots in order up to the size, forgets each waiter once it is served, and a halt releases the rest', async () => {
    const slots = new ReceiveSlots(1);
    const first = await slots.take();
    expect(first).toEqual(expect.any(Function));
    const second = slots.take();
    const third = slots.take();
    expect(slots.waiting).toBe(2);
    first?.();
    const released = await second;
    expect(released).toEqual(expect.any(Function));
    // Served waiters leave no trace: only the one still queued is waiting.
    expect(slots.waiting).toBe(1);
    slots.halt();
    expect(await third).toBeNull();
    expect(slots.waiting).toBe(0);
    expect(await slots.take()).toBeNull();
    released?.();
  });

  it('keeps nothing per take over many cycles (the leak the soak found was one reaction per receive)', async () => {
    const slots = new ReceiveSlots(2);
    for (let i = 0; i < 1_000; i++) (await slots.take())?.();
    expect(slots.waiting).toBe(0);
  });
});
