import { describe, expect, it } from 'vitest';
import { serializeJob } from '#src/domain/fanout/jobs.js';
import { createFanoutWorker, type FanoutWorker, type QueueRecord } from '#src/domain/fanout/worker.js';
import type { SqsEvent } from '#src/handlers/aws-events.js';
import { makeWorkerHandler } from '#src/handlers/fanout-worker.js';
import { FATAL, RecordingLog, RecordingQueue } from '#test-helpers/fakes.js';
import { fanoutHarness } from '#test-helpers/harness.js';
import { sqsRecord } from '#test-helpers/lambda-events.js';

/** A worker that records what it was given and fails the ids it is told to. */
class RecordingWorker implements FanoutWorker {
  readonly batches: { records: readonly QueueRecord[]; remaining: number }[] = [];
  constructor(private readonly failing: readonly string[] = []) {}
  async processBatch(records: readonly QueueRecord[], remainingMs: () => number): Promise<string[]> {
    this.batches.push({ records, remaining: remainingMs() });
    return records.filter((r) => this.failing.includes(r.id)).map((r) => r.id);
  }
}

describe('fan-out worker handler', () => {
  it('turns SQS records into queue records (group, receive count, sequence) and passes the remaining time', async () => {
    const worker = new RecordingWorker();
    let flushed = 0;
    const handler = makeWorkerHandler(worker, () => flushed++);
    const event: SqsEvent = {
      Records: [
        sqsRecord('m1', 'b1', { MessageGroupId: 'ch:room', ApproximateReceiveCount: '3', SequenceNumber: '18849496460467696128' }),
        sqsRecord('m2', 'b2', {}),
        sqsRecord('m3', 'b3', { ApproximateReceiveCount: 'garbage' }),
      ],
    };

    const result = await handler(event, { getRemainingTimeInMillis: () => 12_345 });

    expect(result).toEqual({ batchItemFailures: [] });
    expect(worker.batches).toEqual([
      {
        records: [
          { id: 'm1', body: 'b1', group: 'ch:room', receiveCount: 3, sequence: '18849496460467696128' },
          { id: 'm2', body: 'b2', group: null, receiveCount: 1, sequence: null },
          { id: 'm3', body: 'b3', group: null, receiveCount: 1, sequence: null },
        ],
        remaining: 12_345,
      },
    ]);
    expect(flushed).toBe(1);
  });

  it('maps the worker’s failures to batchItemFailures', async () => {
    const handler = makeWorkerHandler(new RecordingWorker(['m2']));
    const result = await handler({ Records: [sqsRecord('m1', 'x'), sqsRecord('m2', 'y')] }, { getRemainingTimeInMillis: () => 1 });
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
  });

  it('brings failed records back after seconds that grow with their receive count, not the visibility timeout', async () => {
    const queue = new RecordingQueue();
    const handler = makeWorkerHandler(new RecordingWorker(['m2', 'm3']), () => {}, {
      scheduler: queue,
      log: new RecordingLog(),
      random: () => 0.5,
    });
    const result = await handler(
      {
        Records: [
          sqsRecord('m1', 'x'),
          sqsRecord('m2', 'y', { ApproximateReceiveCount: '1' }),
          sqsRecord('m3', 'z', { ApproximateReceiveCount: '4' }, 'arn:aws:sqs:eu-west-1:000000000000:other.fifo'),
        ],
      },
      { getRemainingTimeInMillis: () => 1 },
    );
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }]);
    expect(queue.redeliveries).toEqual([
      { queueArn: 'arn:aws:sqs:eu-west-1:000000000000:q.fifo', receiptHandle: 'rh-m2', afterSeconds: 1 },
      { queueArn: 'arn:aws:sqs:eu-west-1:000000000000:other.fifo', receiptHandle: 'rh-m3', afterSeconds: 8 },
    ]);
  });

  it('with the real worker: a failed job and the rest of its group come back, others do not', async () => {
    const h = fanoutHarness({ inJobAttempts: 1 });
    h.sender.always('bad', FATAL);
    const job = (id: string) =>
      serializeJob({
        v: 1,
        kind: 'connections',
        connectionIds: [id],
        payloads: [{ kind: 'text', text: 'x' }],
        attempt: 0,
        publishId: 'p',
        publishedAt: 0,
      });
    const handler = makeWorkerHandler(createFanoutWorker(h.deps));

    const result = await handler(
      {
        Records: [
          sqsRecord('m1', job('bad'), { MessageGroupId: 'conn:bad' }),
          sqsRecord('m2', job('good'), { MessageGroupId: 'conn:good' }),
          sqsRecord('m3', job('bad'), { MessageGroupId: 'conn:bad' }),
          sqsRecord('m4', 'not a job', { MessageGroupId: 'conn:x' }),
        ],
      },
      { getRemainingTimeInMillis: () => 60_000 },
    );

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm3' }] });
    expect(h.sender.posted('good')).toEqual(['x']);
    expect(h.queue.dead).toHaveLength(1);
  });
});
