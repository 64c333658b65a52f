/**
 * A failed FIFO job comes back in seconds, not after the visibility timeout (issue 9: one failed job froze its
 * channel for 6–30 minutes). Real fauxqs queues with a 300 s visibility timeout, the local event source mapping,
 * and the worker handler with the SQS adapter as its redelivery scheduler: the second receive happens well within
 * the test's timeout only if the handler shortened the visibility.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsFanoutQueue } from '#src/adapters/sqs-fanout-queue.js';
import type { FanoutWorker, QueueRecord } from '#src/domain/fanout/worker.js';
import { makeWorkerHandler } from '#src/handlers/fanout-worker.js';
import { startQueuePoller, type QueuePoller } from '#src/local/poller.js';
import { createFanoutQueues } from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';
import { RecordingLog } from '#test-helpers/fakes.js';
import { waitFor } from '#test-helpers/wait.js';

describe('redelivery of failed jobs', () => {
  let services: LocalAwsServices;
  let sqs: SQSClient;
  let poller: QueuePoller | undefined;

  beforeAll(async () => {
    services = await startLocalAwsServices();
    sqs = new SQSClient({ endpoint: services.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  });
  afterAll(async () => {
    await poller?.stop();
    sqs.destroy();
    await services.stop();
  });

  it('a failed FIFO record is handed out again after about a second, with its receive count, though visibility is 300 s', async () => {
    const urls = await createFanoutQueues(sqs, { visibilityTimeoutSeconds: 300, maxReceiveCount: 5, namePrefix: 'redeliver-' });
    const seen: QueueRecord[] = [];
    const failFirst: FanoutWorker = {
      async processBatch(records) {
        seen.push(...records);
        return records.filter((r) => r.receiveCount === 1).map((r) => r.id);
      },
    };
    const queue = new SqsFanoutQueue({ client: sqs, orderedQueueUrl: urls.orderedQueueUrl, delayedQueueUrl: urls.delayedQueueUrl });
    const handler = makeWorkerHandler(failFirst, () => {}, { scheduler: queue, log: new RecordingLog(), random: () => 0.5 });
    poller = await startQueuePoller({ sqs, queueUrl: urls.orderedQueueUrl, handler, waitTimeSeconds: 1, log: new RecordingLog() });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: urls.orderedQueueUrl,
        MessageBody: 'job',
        MessageGroupId: 'ch:news',
        MessageDeduplicationId: 'one',
      }),
    );
    await waitFor(() => seen.length >= 2, 'the failed record to come back', 15_000);
    expect(seen.map((r) => [r.body, r.receiveCount])).toEqual([
      ['job', 1],
      ['job', 2],
    ]);
  });
});
