import type { FanoutWorker, QueueRecord } from '../domain/fanout/worker.js';
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
