import { createFanoutWorker, type FanoutConfig, type FanoutWorker, type QueueRecord } from '../domain/fanout/worker.js';
import type {
  ConnectionSender,
  ConnectionStore,
  DeadLetters,
  FanoutQueue,
  JobCheckpoints,
  Log,
  Metrics,
  SubscriberIndex,
} from '../domain/ports.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InvocationContext, SqsEvent, WorkerHandler } from './aws-events.js';

/**
 * The fan-out worker's SQS handler: every record becomes a job, and the records the worker could not finish are
 * returned in `batchItemFailures` (the event source mapping has `ReportBatchItemFailures` on), so SQS redelivers
 * exactly those — and, after `maxReceiveCount`, moves them to the dead-letter queue.
 */
export function makeWorkerHandler(worker: FanoutWorker, afterEach: () => void = () => {}): WorkerHandler {
  return async (event: SqsEvent, context: InvocationContext) => {
    const records: QueueRecord[] = event.Records.map((r) => ({
      id: r.messageId,
      body: r.body,
      group: r.attributes['MessageGroupId'] ?? null,
      receiveCount: Number(r.attributes['ApproximateReceiveCount'] ?? '1') || 1,
    }));
    const failed = await worker.processBatch(records, () => context.getRemainingTimeInMillis());
    afterEach();
    return { batchItemFailures: failed.map((id) => ({ itemIdentifier: id })) };
  };
}

/** What a deployment builds the worker from: one store and one queue, each serving several of the worker's ports. */
export interface WorkerParts {
  /** The connections table: the channel index, the connection items and the job checkpoints. */
  readonly store: SubscriberIndex & ConnectionStore & JobCheckpoints;
  /** The fan-out queues: both lanes, and the dead-letter queue for deliveries that ran out of attempts. */
  readonly queue: FanoutQueue & DeadLetters;
  readonly sender: ConnectionSender;
  readonly log: Log;
  readonly metrics: Metrics;
  readonly config: FanoutConfig;
}

/**
 * The fan-out worker on one store and one queue, in real time (`Date.now`, `setTimeout` sleeps, `Math.random`
 * jitter): the wiring the Lambda function, local mode, the benchmarks and the integration tests share.
 *
 * @example
 * const handler = makeWorkerHandler(createWorkerOn({ store, queue, sender, log, metrics, config }));
 */
export function createWorkerOn(parts: WorkerParts): FanoutWorker {
  const { store, queue, sender, log, metrics, config } = parts;
  return createFanoutWorker({
    index: store,
    connections: store,
    checkpoints: store,
    queue,
    deadLetters: queue,
    sender,
    clock: Date.now,
    sleep: (ms) => sleep(ms),
    random: Math.random,
    log,
    metrics,
    config,
  });
}
