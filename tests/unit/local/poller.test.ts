import { describe, expect, it } from 'vitest';
import type { SqsRecord } from '#src/handlers/aws-events.js';
import { failedItems } from '#src/local/poller.js';
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
