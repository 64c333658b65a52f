import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { fanoutQueues } from '#src/config/resources.js';

export interface WorkerFeedOptions {
  /** Messages per invocation (≤ 10: the FIFO limit, applied to both lanes). */
  readonly batchSize: number;
  /** Gathering time on the delayed lane; FIFO event sources do not support a batching window. */
  readonly maxBatchingWindow: Duration;
  /** Concurrent invocations per event source mapping (2–1000). */
  readonly maxConcurrency: number;
}

export interface FanoutQueuesProps {
  /** The worker's timeout: the source queues' visibility is `visibilityTimeoutFactor` × this. */
  readonly workerTimeout: Duration;
  /** Receives before SQS moves a message to its dead-letter queue. */
  readonly maxReceiveCount: number;
}

/** 1 MiB: SQS's message limit since August 2025 (a job's payload is capped at 128 KB by API Gateway anyway). */
const maxMessageSizeBytes = 1_048_576;

/**
 * The four fan-out queues from `config/resources.ts`: the ordered FIFO lane and the delayed standard lane, each
 * with a dead-letter queue of its own type that keeps messages longer than its source. All are SSE-SQS
 * encrypted and refuse non-TLS requests.
 *
 * The FIFO lane runs in high-throughput mode (deduplication and throughput per message group): its groups are
 * channels and connections, and the default per-queue limit of 300 sends/s would cap publishes account-wide.
 * Content-based deduplication stays off, as in local mode: two identical publishes are two messages, so the
 * sender supplies a deduplication id.
 */
export class FanoutQueues extends Construct {
  readonly ordered: Queue;
  readonly orderedDeadLetter: Queue;
  readonly delayed: Queue;
  readonly delayedDeadLetter: Queue;

  constructor(scope: Construct, id: string, props: FanoutQueuesProps) {
    super(scope, id);
    const q = fanoutQueues;
    const common: QueueProps = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, maxMessageSizeBytes };
    const deadLetter: QueueProps = { ...common, retentionPeriod: Duration.days(q.deadLetterRetentionDays) };
    const source: QueueProps = {
      ...common,
      retentionPeriod: Duration.days(q.retentionDays),
      visibilityTimeout: Duration.seconds(props.workerTimeout.toSeconds() * q.visibilityTimeoutFactor),
    };

    this.orderedDeadLetter = new Queue(this, 'OrderedDeadLetter', { ...deadLetter, fifo: q.orderedDeadLetter.fifo });
    this.delayedDeadLetter = new Queue(this, 'DelayedDeadLetter', { ...deadLetter, fifo: q.delayedDeadLetter.fifo });
    this.ordered = new Queue(this, 'Ordered', {
      ...source,
      fifo: q.ordered.fifo,
      deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      deadLetterQueue: { queue: this.orderedDeadLetter, maxReceiveCount: props.maxReceiveCount },
    });
    this.delayed = new Queue(this, 'Delayed', {
      ...source,
      fifo: q.delayed.fifo,
      deadLetterQueue: { queue: this.delayedDeadLetter, maxReceiveCount: props.maxReceiveCount },
    });
  }

  /**
   * Makes `worker` consume both source lanes with partial batch responses (`batchItemFailures`), so one failed job
   * is redriven alone. This also grants it receive/delete/change-visibility on exactly these two queues.
   */
  feed(worker: IFunction, options: WorkerFeedOptions): void {
    worker.addEventSource(
      new SqsEventSource(this.ordered, {
        batchSize: options.batchSize,
        maxConcurrency: options.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    worker.addEventSource(
      new SqsEventSource(this.delayed, {
        batchSize: options.batchSize,
        ...(options.maxBatchingWindow.toSeconds() > 0 ? { maxBatchingWindow: options.maxBatchingWindow } : {}),
        maxConcurrency: options.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }
}
