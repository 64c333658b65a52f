import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationContext, SqsBatchResponse, SqsEvent, SqsRecord, WorkerHandler } from '#src/handlers/aws-events.js';
import { startQueuePoller, type QueuePoller, type QueuePollerOptions } from '#src/local/poller.js';
import { createFanoutQueues, type FanoutQueueUrls } from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';
import { deferred, waitFor } from './support.js';
import { RecordingLog } from '#test-helpers/fakes.js';

const ok: SqsBatchResponse = { batchItemFailures: [] };

describe('local SQS event source mapping', () => {
  let services: LocalAwsServices;
  let sqs: SQSClient;
  let n = 0;
  const pollers: QueuePoller[] = [];

  beforeAll(async () => {
    services = await startLocalAwsServices();
    sqs = new SQSClient({ endpoint: services.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  });
  afterEach(async () => {
    await Promise.all(pollers.splice(0).map((p) => p.stop()));
  });
  afterAll(async () => {
    sqs.destroy();
    await services.stop();
  });

  /** Fresh queues per test (1 s visibility, dead-lettered on the 4th receive). */
  const queues = (): Promise<FanoutQueueUrls> =>
    createFanoutQueues(sqs, { visibilityTimeoutSeconds: 1, maxReceiveCount: 3, namePrefix: `t${++n}-` });

  async function poll(options: Partial<QueuePollerOptions> & Pick<QueuePollerOptions, 'queueUrl' | 'handler'>): Promise<QueuePoller> {
    const poller = await startQueuePoller({ sqs, waitTimeSeconds: 1, log: new RecordingLog(), ...options });
    pollers.push(poller);
    return poller;
  }

  async function send(queueUrl: string, bodies: string[], group?: (body: string) => string): Promise<void> {
    for (let i = 0; i < bodies.length; i += 10) {
      const entries: SendMessageBatchRequestEntry[] = bodies.slice(i, i + 10).map((body, k) => ({
        Id: String(k),
        MessageBody: body,
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'test' } },
        ...(group ? { MessageGroupId: group(body), MessageDeduplicationId: body } : {}),
      }));
      const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      expect(out.Failed ?? []).toEqual([]);
    }
  }

  async function depth(queueUrl: string): Promise<number> {
    const out = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return Number(out.Attributes?.ApproximateNumberOfMessages) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible);
  }

  /** A handler that records every record it is given and answers with `respond`. */
  function recorder(
    respond: (event: SqsEvent, context: InvocationContext, call: number) => Promise<SqsBatchResponse> | SqsBatchResponse = () => ok,
  ) {
    const records: SqsRecord[] = [];
    const batches: number[] = [];
    let calls = 0;
    const handler: WorkerHandler = async (event, context) => {
      records.push(...event.Records);
      batches.push(event.Records.length);
      return respond(event, context, ++calls);
    };
    return { handler, records, batches, seen: (body: string) => records.filter((r) => r.body === body) };
  }

  it('delivers batches shaped like Lambda SQS events and deletes what succeeded', async () => {
    const q = await queues();
    await send(q.delayedQueueUrl, ['a', 'b', 'c', 'd', 'e']);
    const r = recorder();
    const poller = await poll({ queueUrl: q.delayedQueueUrl, handler: r.handler });
    await waitFor(() => poller.stats().succeeded === 5, 10_000, 'five deletes');
    expect(r.records.map((x) => x.body).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    const record = r.records[0]!;
    expect(record.eventSource).toBe('aws:sqs');
    expect(record.eventSourceARN).toMatch(/^arn:aws:sqs:us-east-1:\d+:t\d+-fanout-delayed$/);
    expect(record.awsRegion).toBe('us-east-1');
    expect(record.messageId).toBeTruthy();
    expect(record.receiptHandle).toBeTruthy();
    expect(record.attributes).toMatchObject({ ApproximateReceiveCount: '1', SenderId: expect.any(String) });
    expect(Number(record.attributes.SentTimestamp)).toBeGreaterThan(0);
    expect(Number(record.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThan(0);
    expect(record.messageAttributes).toEqual({
      kind: { stringValue: 'test', stringListValues: [], binaryListValues: [], dataType: 'String' },
    });
    expect(await depth(q.delayedQueueUrl)).toBe(0);
  });

  it('leaves the items listed in batchItemFailures to reappear, and retries them', async () => {
    const q = await queues();
    await send(q.delayedQueueUrl, ['good-1', 'bad', 'good-2']);
    const r = recorder((event, _c, call) => ({
      batchItemFailures: call === 1 ? event.Records.filter((x) => x.body === 'bad').map((x) => ({ itemIdentifier: x.messageId })) : [],
    }));
    const poller = await poll({ queueUrl: q.delayedQueueUrl, handler: r.handler });
    await waitFor(() => r.seen('bad').length === 2 && poller.stats().succeeded === 3, 10_000, 'the retry');
    expect(r.seen('bad').map((x) => x.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    expect(r.seen('good-1')).toHaveLength(1);
    expect(r.seen('good-2')).toHaveLength(1);
    expect(poller.stats().failed).toBe(1);
    expect(await depth(q.delayedQueueUrl)).toBe(0);
  });

  it('redrives an item that keeps failing to the DLQ after maxReceiveCount', async () => {
    const q = await queues();
    await send(q.delayedQueueUrl, ['poison']);
    const r = recorder((event) => ({ batchItemFailures: event.Records.map((x) => ({ itemIdentifier: x.messageId })) }));
    await poll({ queueUrl: q.delayedQueueUrl, handler: r.handler });
    let dead: string | undefined;
    for (const deadline = Date.now() + 15_000; !dead && Date.now() < deadline;) {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.delayedDeadLetterQueueUrl, WaitTimeSeconds: 1 }));
      dead = out.Messages?.[0]?.Body;
    }
    expect(dead).toBe('poison');
    expect(r.seen('poison').map((x) => x.attributes.ApproximateReceiveCount)).toEqual(['1', '2', '3']);
  });

  it('retries the whole batch when the handler throws', async () => {
    const q = await queues();
    await send(q.delayedQueueUrl, ['x', 'y']);
    const r = recorder((_e, _c, call) => {
      if (call === 1) throw new Error('worker bug');
      return ok;
    });
    const poller = await poll({ queueUrl: q.delayedQueueUrl, handler: r.handler });
    await waitFor(() => poller.stats().succeeded === 2, 10_000, 'the retried batch');
    expect(r.batches[0]).toBe(2);
    expect(r.seen('x')).toHaveLength(2);
    expect(r.seen('y')).toHaveLength(2);
    expect(poller.stats().batchFailures).toBe(1);
  });

  it('retries the whole batch when the response names an unknown or empty itemIdentifier', async () => {
    const q = await queues();
    await send(q.delayedQueueUrl, ['p', 'q']);
    const r = recorder((_e, _c, call) => {
      if (call === 1) return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
      if (call === 2) return { batchItemFailures: [{ itemIdentifier: '' }] };
      return ok;
    });
    const poller = await poll({ queueUrl: q.delayedQueueUrl, handler: r.handler });
    await waitFor(() => poller.stats().succeeded === 2, 15_000, 'the third attempt');
    expect(r.seen('p')).toHaveLength(3);
    expect(r.seen('q')).toHaveLength(3);
    expect(poller.stats().batchFailures).toBe(2);
  });

  it('fails the whole batch when the invocation exceeds functionTimeoutMs, and reports the remaining time', async () => {
    const q = await queues();
    await send(q.delayedQueueUrl, ['slow']);
    const hang = deferred<SqsBatchResponse>();
    const remaining: number[] = [];
    const r = recorder((_e, context, call) => {
      remaining.push(context.getRemainingTimeInMillis());
      return call === 1 ? hang.promise : ok;
    });
    const poller = await poll({ queueUrl: q.delayedQueueUrl, handler: r.handler, functionTimeoutMs: 200 });
    await waitFor(() => poller.stats().succeeded === 1, 10_000, 'the retry after the timeout');
    hang.resolve(ok);
    expect(poller.stats().timeouts).toBe(1);
    expect(r.seen('slow')).toHaveLength(2);
    expect(remaining[0]).toBeGreaterThan(0);
    expect(remaining[0]).toBeLessThanOrEqual(200);
  });

  it('keeps FIFO order within each message group, with FIFO attributes on the records', async () => {
    const q = await queues();
    const bodies = Array.from({ length: 6 }, (_, i) => [`g1:${i}`, `g2:${i}`]).flat();
    await send(q.orderedQueueUrl, bodies, (body) => body.split(':')[0]!);
    const r = recorder(async () => {
      await new Promise((res) => setTimeout(res, Math.random() * 20));
      return ok;
    });
    const poller = await poll({ queueUrl: q.orderedQueueUrl, handler: r.handler, batchSize: 3, maxConcurrency: 4, pollers: 2 });
    await waitFor(() => poller.stats().succeeded === 12, 10_000, 'all twelve');
    for (const group of ['g1', 'g2']) {
      const order = r.records.filter((x) => x.attributes.MessageGroupId === group).map((x) => Number(x.body.split(':')[1]));
      expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    }
    expect(r.records[0]!.attributes).toMatchObject({ MessageDeduplicationId: expect.any(String), SequenceNumber: expect.any(String) });
  });

  it('never runs more than maxConcurrency invocations at once', async () => {
    const q = await queues();
    await send(
      q.delayedQueueUrl,
      Array.from({ length: 12 }, (_, i) => `m${i}`),
    );
    let active = 0;
    let peak = 0;
    const r = recorder(async () => {
      peak = Math.max(peak, ++active);
      await new Promise((res) => setTimeout(res, 30));
      active--;
      return ok;
    });
    const poller = await poll({ queueUrl: q.delayedQueueUrl, handler: r.handler, batchSize: 1, maxConcurrency: 3, pollers: 3 });
    await waitFor(() => poller.stats().succeeded === 12, 10_000, 'all twelve');
    expect(peak).toBeLessThanOrEqual(3);
    expect(r.batches.every((size) => size === 1)).toBe(true);
  });

  it('gathers more than 10 records per invocation within the batching window', async () => {
    const q = await queues();
    await send(
      q.delayedQueueUrl,
      Array.from({ length: 25 }, (_, i) => `b${i}`),
    );
    const r = recorder();
    const poller = await poll({
      queueUrl: q.delayedQueueUrl,
      handler: r.handler,
      batchSize: 25,
      maxBatchingWindowMs: 1_000,
      maxConcurrency: 1,
    });
    await waitFor(() => poller.stats().succeeded === 25, 10_000, 'all 25');
    expect(Math.max(...r.batches)).toBeGreaterThan(10);
    expect(Math.max(...r.batches)).toBeLessThanOrEqual(25);
  });

  it('crash() abandons in-flight invocations: their messages are not deleted and come back', async () => {
    const q = await queues();
    await send(q.delayedQueueUrl, ['survivor']);
    const stuck = deferred<SqsBatchResponse>();
    const first = recorder(() => stuck.promise);
    // A visibility longer than the long poll, so the crashed poller's aborted poll cannot take the message again.
    const crashed = await startQueuePoller({
      sqs,
      queueUrl: q.delayedQueueUrl,
      handler: first.handler,
      waitTimeSeconds: 1,
      visibilityTimeoutSeconds: 3,
      log: new RecordingLog(),
    });
    await waitFor(() => first.records.length === 1, 10_000, 'the first delivery');
    await crashed.crash();
    stuck.resolve(ok); // the abandoned invocation "succeeds" after the crash: that must not delete the message
    const second = recorder();
    const replacement = await poll({ queueUrl: q.delayedQueueUrl, handler: second.handler });
    await waitFor(() => replacement.stats().succeeded === 1, 15_000, 'redelivery after the crash');
    expect(second.records[0]!.body).toBe('survivor');
    expect(Number(second.records[0]!.attributes.ApproximateReceiveCount)).toBeGreaterThanOrEqual(2);
    expect(crashed.stats().succeeded).toBe(0);
  });

  it('stop() waits for in-flight invocations and their deletes', async () => {
    const q = await queues();
    await send(q.delayedQueueUrl, ['in-flight']);
    const release = deferred<void>();
    const r = recorder(async () => {
      await release.promise;
      return ok;
    });
    const poller = await startQueuePoller({
      sqs,
      queueUrl: q.delayedQueueUrl,
      handler: r.handler,
      waitTimeSeconds: 1,
      log: new RecordingLog(),
    });
    await waitFor(() => r.records.length === 1, 10_000, 'the delivery');
    let stopped = false;
    const stopping = poller.stop().then(() => {
      stopped = true;
    });
    await new Promise((res) => setTimeout(res, 50));
    expect(stopped).toBe(false);
    release.resolve();
    await stopping;
    expect(poller.stats()).toMatchObject({ succeeded: 1, inFlight: 0 });
    expect(await depth(q.delayedQueueUrl)).toBe(0);
  });

  it('rejects options Lambda would reject', async () => {
    const q = await queues();
    const handler: WorkerHandler = async () => ok;
    await expect(startQueuePoller({ sqs, queueUrl: q.delayedQueueUrl, handler, batchSize: 11 })).rejects.toThrow(RangeError);
    await expect(startQueuePoller({ sqs, queueUrl: q.delayedQueueUrl, handler, waitTimeSeconds: 21 })).rejects.toThrow(RangeError);
    await expect(startQueuePoller({ sqs, queueUrl: `${q.delayedQueueUrl}-missing`, handler })).rejects.toThrow();
  });
});
