import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsDeadLetters, SqsFanoutQueue } from '#src/adapters/sqs-fanout-queue.js';
import type { FanoutQueueUrls } from '#src/local/provision.js';
import { startLocalFanoutQueues, type LocalFanoutQueues } from '#test-helpers/local-sqs.js';
import { receiveAndDelete } from './sqs-receive.js';

interface Letter {
  readonly body: string;
  readonly reason: string | undefined;
}

const drain = async (sqs: SQSClient, queueUrl: string, count: number): Promise<Letter[]> =>
  (await receiveAndDelete(sqs, queueUrl, count)).map((m) => ({ body: m.Body ?? '', reason: m.MessageAttributes?.reason?.StringValue }));

describe('SqsDeadLetters against fauxqs', () => {
  let local: LocalFanoutQueues;
  let sqs: SQSClient;
  let urls: FanoutQueueUrls;

  beforeAll(async () => {
    local = await startLocalFanoutQueues();
    ({ sqs, urls } = local);
  });
  afterAll(() => local.stop());

  it('puts each entry in the standard dead-letter queue with its reason as a message attribute', async () => {
    const dl = new SqsDeadLetters({ client: sqs, deadLetterQueueUrl: urls.delayedDeadLetterQueueUrl });
    const entries = Array.from({ length: 13 }, (_, i) => ({ body: JSON.stringify({ n: i, text: 'é😀' }), reason: `failed ${i} times` }));
    entries.push({ body: 'not json \uD800 at all', reason: 'job body is not JSON 😀' });
    expect(await dl.deadLetter(entries)).toEqual({ ok: true, value: undefined });
    const got = await drain(sqs, urls.delayedDeadLetterQueueUrl, entries.length);
    expect(got).toHaveLength(entries.length);
    for (let i = 0; i < 13; i++) {
      const letter = got.find((g) => g.reason === `failed ${i} times`);
      expect(letter && JSON.parse(letter.body)).toEqual({ n: i, text: 'é😀' });
    }
    expect(got.find((g) => g.body.startsWith('not json'))).toEqual({
      body: 'not json \uFFFD at all',
      reason: 'job body is not JSON \uFFFD\uFFFD',
    });
  });

  it('works with a FIFO dead-letter queue too', async () => {
    const dl = new SqsDeadLetters({ client: sqs, deadLetterQueueUrl: urls.orderedDeadLetterQueueUrl });
    expect(
      (
        await dl.deadLetter([
          { body: '{"a":1}', reason: 'r1' },
          { body: '{"a":2}', reason: 'r2' },
        ])
      ).ok,
    ).toBe(true);
    const got = await drain(sqs, urls.orderedDeadLetterQueueUrl, 2);
    expect(got).toEqual([
      { body: '{"a":1}', reason: 'r1' },
      { body: '{"a":2}', reason: 'r2' },
    ]);
  });

  it('is also reachable through SqsFanoutQueue when it has a dead-letter queue', async () => {
    const queue = new SqsFanoutQueue({ client: sqs, ...urls, deadLetterQueueUrl: urls.delayedDeadLetterQueueUrl });
    expect((await queue.deadLetter([{ body: '{"via":"queue"}', reason: 'r' }])).ok).toBe(true);
    expect(await drain(sqs, urls.delayedDeadLetterQueueUrl, 1)).toEqual([{ body: '{"via":"queue"}', reason: 'r' }]);
    const without = new SqsFanoutQueue({ client: sqs, orderedQueueUrl: urls.orderedQueueUrl, delayedQueueUrl: urls.delayedQueueUrl });
    const r = await without.deadLetter([{ body: '{}', reason: 'r' }]);
    expect(!r.ok && r.error.kind).toBe('invalid');
  });

  it('rejects an oversize dead letter as invalid, sending nothing', async () => {
    const dl = new SqsDeadLetters({ client: sqs, deadLetterQueueUrl: urls.delayedDeadLetterQueueUrl });
    const r = await dl.deadLetter([
      { body: '{}', reason: 'fine' },
      { body: 'x'.repeat(1_048_577), reason: 'big' },
    ]);
    expect(!r.ok && r.error.kind).toBe('invalid');
    const left = await sqs.send(new ReceiveMessageCommand({ QueueUrl: urls.delayedDeadLetterQueueUrl, WaitTimeSeconds: 1 }));
    expect(left.Messages ?? []).toEqual([]);
  });
});
