import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMoveTaskUnsupported, redrive } from '#src/ops/redrive.js';
import type { FanoutQueueUrls } from '#src/local/provision.js';
import { startLocalFanoutQueues, type LocalFanoutQueues } from '#test-helpers/local-sqs.js';

describe('redrive of dead-letter queues (local SQS, without StartMessageMoveTask)', () => {
  let local: LocalFanoutQueues;
  let sqs: SQSClient;
  let urls: FanoutQueueUrls;
  beforeAll(async () => {
    local = await startLocalFanoutQueues();
    ({ sqs, urls } = local);
  });
  afterAll(() => local.stop());

  const visible = async (url: string) =>
    Number(
      (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes?.[
        'ApproximateNumberOfMessages'
      ],
    );

  it("recognizes fauxqs's answer to StartMessageMoveTask as a missing action, the one case that moves by hand", async () => {
    const arn = async (url: string) =>
      (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.['QueueArn'];
    const thrown = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: await arn(urls.delayedDeadLetterQueueUrl) })).then(
      () => null,
      (e: unknown) => e,
    );
    expect(thrown).toMatchObject({ name: 'InvalidAction', $metadata: { httpStatusCode: 400 } });
    expect(isMoveTaskUnsupported(thrown)).toBe(true);

    const lines: string[] = [];
    const result = await redrive({
      sqs,
      deadLetterQueueUrl: urls.delayedDeadLetterQueueUrl,
      destinationQueueUrl: urls.delayedQueueUrl,
      log: (line) => lines.push(line),
    });
    expect(result).toEqual({ method: 'receive-send-delete', moved: 0 });
    expect(lines[0]).toBe('this SQS endpoint has no StartMessageMoveTask; moving messages by receive, send and delete');
  });

  it('moves every message of the standard DLQ back, keeping bodies and the reason attribute', async () => {
    for (let i = 0; i < 23; i++) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: urls.delayedDeadLetterQueueUrl,
          MessageBody: `job-${i}`,
          MessageAttributes: { reason: { DataType: 'String', StringValue: 'throttled' } },
        }),
      );
    }
    const result = await redrive({ sqs, deadLetterQueueUrl: urls.delayedDeadLetterQueueUrl, destinationQueueUrl: urls.delayedQueueUrl });
    expect(result).toEqual({ method: 'receive-send-delete', moved: 23 });
    expect(await visible(urls.delayedDeadLetterQueueUrl)).toBe(0);
    const bodies = new Set<string>();
    for (;;) {
      const r = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: urls.delayedQueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }),
      );
      if (!r.Messages?.length) break;
      for (const m of r.Messages) {
        bodies.add(m.Body ?? '');
        expect(m.MessageAttributes?.['reason']?.StringValue).toBe('throttled');
      }
    }
    expect(bodies.size).toBe(23);
  });

  it('keeps FIFO message groups and order when moving the ordered DLQ back', async () => {
    for (let i = 0; i < 5; i++) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: urls.orderedDeadLetterQueueUrl,
          MessageBody: `a-${i}`,
          MessageGroupId: 'ch:a',
          MessageDeduplicationId: `a-${i}`,
        }),
      );
    }
    const result = await redrive({ sqs, deadLetterQueueUrl: urls.orderedDeadLetterQueueUrl, destinationQueueUrl: urls.orderedQueueUrl });
    expect(result.moved).toBe(5);
    const seen: string[] = [];
    for (;;) {
      const r = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: urls.orderedQueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }),
      );
      if (!r.Messages?.length) break;
      for (const m of r.Messages) {
        expect(m.Attributes?.['MessageGroupId']).toBe('ch:a');
        seen.push(m.Body ?? '');
        // A FIFO group stays locked while a message of it is in flight: consume as a worker would.
        await sqs.send(new DeleteMessageCommand({ QueueUrl: urls.orderedQueueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    expect(seen).toEqual(['a-0', 'a-1', 'a-2', 'a-3', 'a-4']);
  });
});
