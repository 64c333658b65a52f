import { createFanoutWorker, type FanoutConfig, type FanoutWorker, type QueueRecord } from '../domain/fanout/worker.js';
import type {
  ConnectionSender,
  ConnectionStore,
  ItemIdCache,
  DeadLetters,
  FanoutQueue,
  JobCheckpoints,
  Log,
  Metrics,
  RedeliveryScheduler,
  SubscriberIndex,
  SubscriptionStore,
  ChannelActivity,
  ChannelHistory,
  ChannelSequencer,
  ClientMessageLane,
} from '../domain/ports.js';
import { err } from '../domain/result.js';
import { redeliveryDelaySeconds } from '../domain/fanout/requeue.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InvocationContext, SqsEvent, WorkerHandler } from './aws-events.js';

/** What the handler needs besides the worker to bring failed records back soon. */
export interface RedeliveryOptions {
  readonly scheduler: RedeliveryScheduler;
  readonly log: Log;
  readonly random?: () => number;
}

/**
 * The fan-out worker's SQS handler: every record becomes a job, and the records the worker could not finish are
 * returned in `batchItemFailures` (the event source mapping has `ReportBatchItemFailures` on), so SQS redelivers
 * exactly those — and, after `maxReceiveCount`, moves them to the dead-letter queue. With `redelivery`, those
 * records come back after `redeliveryDelaySeconds` (seconds, growing with their receive count) rather than after
 * the visibility timeout: on the FIFO lane their whole group waits for them.
 */
export function makeWorkerHandler(worker: FanoutWorker, afterEach: () => void = () => {}, redelivery?: RedeliveryOptions): WorkerHandler {
  return async (event: SqsEvent, context: InvocationContext) => {
    const records: QueueRecord[] = event.Records.map((r) => ({
      id: r.messageId,
      body: r.body,
      group: r.attributes['MessageGroupId'] ?? null,
      receiveCount: Number(r.attributes['ApproximateReceiveCount'] ?? '1') || 1,
      sequence: r.attributes['SequenceNumber'] ?? null,
    }));
    const failed = await worker.processBatch(records, () => context.getRemainingTimeInMillis());
    if (redelivery !== undefined && failed.length > 0) await redeliverSoon(redelivery, event, records, failed);
    afterEach();
    return { batchItemFailures: failed.map((id) => ({ itemIdentifier: id })) };
  };
}

async function redeliverSoon(options: RedeliveryOptions, event: SqsEvent, records: readonly QueueRecord[], failed: readonly string[]) {
  const random = options.random ?? Math.random;
  const items = failed.flatMap((id) => {
    const raw = event.Records.find((r) => r.messageId === id);
    const record = records.find((r) => r.id === id);
    if (raw === undefined || record === undefined) return [];
    return [
      { queueArn: raw.eventSourceARN, receiptHandle: raw.receiptHandle, afterSeconds: redeliveryDelaySeconds(record.receiveCount, random) },
    ];
  });
  const changed = await options.scheduler.redeliverAfter(items);
  if (!changed.ok) {
    options.log.warn('could not shorten the wait of failed jobs; they come back after the visibility timeout', {
      detail: changed.error.message,
    });
  }
}

/** What a deployment builds the worker from: one store and one queue, each serving several of the worker's ports. */
export interface WorkerParts {
  /** The connections table: the channel index, the connection items and the job checkpoints. */
  readonly store: SubscriberIndex &
    ConnectionStore &
    JobCheckpoints &
    ItemIdCache &
    ChannelActivity &
    ChannelSequencer &
    Pick<SubscriptionStore, 'finishResume' | 'listSubscriptions'>;
  /** The channel history: recorded by channel jobs, replayed by catch-up jobs. */
  readonly history: ChannelHistory;
  /** The fan-out queues: both lanes, and the dead-letter queue for deliveries that ran out of attempts. */
  readonly queue: FanoutQueue & DeadLetters;
  readonly sender: ConnectionSender;
  /**
   * The ordered lane of client messages, where backend polls and publish refreshes ask for requests. Absent (a
   * setup without `ws-message`): such requests fail as `invalid`, so a refresh is dead-lettered with the reason.
   */
  readonly polls?: ClientMessageLane;
  readonly log: Log;
  readonly metrics: Metrics;
  readonly config: FanoutConfig;
}

const NO_LANE: ClientMessageLane = {
  enqueue: async () => err({ kind: 'invalid', message: 'this worker has no client-message lane to ask for backend requests' }),
};

/**
 * The fan-out worker on one store and one queue, in real time (`Date.now`, `setTimeout` sleeps, `Math.random`
 * jitter): the wiring the Lambda function, local mode, the benchmarks and the integration tests share.
 *
 * @example
 * const handler = makeWorkerHandler(createWorkerOn({ store, queue, sender, log, metrics, config }));
 */
export function createWorkerOn(parts: WorkerParts): FanoutWorker {
  const { store, queue, sender, log, metrics, config, history, polls } = parts;
  return createFanoutWorker({
    index: store,
    history,
    resumes: store,
    activity: store,
    sequencer: store,
    connections: store,
    checkpoints: store,
    itemIds: store,
    queue,
    deadLetters: queue,
    sender,
    polls: polls ?? NO_LANE,
    clock: Date.now,
    sleep: (ms) => sleep(ms),
    random: Math.random,
    log,
    metrics,
    config,
  });
}
