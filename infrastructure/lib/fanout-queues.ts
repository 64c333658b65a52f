import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { clientMessageQueues, fanoutQueues } from '#src/config/resources.js';

export interface WorkerFeedOptions {
  /** Messages per invocation (≤ 10: the FIFO limit, applied to both lanes). */
  readonly batchSize: number;
  /** Concurrent invocations per event source mapping (2–1000). */
  readonly maxConcurrency: number;
}

export interface FanoutQueuesProps {
  /** The worker's timeout: the source queues' visibility is `visibilityTimeoutFactor` × this (plus the window). */
  readonly workerTimeout: Duration;
  /**
   * How long the delayed lane's event source gathers messages before invoking (0 = none; FIFO event sources
   * have no batching window). A message is already received, and its visibility running, while it waits.
   */
  readonly delayedBatchingWindow: Duration;
  /** Receives before SQS moves a message to its dead-letter queue. */
  readonly maxReceiveCount: number;
  /** The client-message lane's consumer's timeout (`ws-message`): that lane's visibility is 6 × this. */
  readonly laneConsumerTimeout: Duration;
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
  /** The ordered lane of client messages (`clientMessages: ordered`): FIFO, one group per connection. */
  readonly clientMessages: Queue;
  readonly clientMessagesDeadLetter: Queue;
  private readonly delayedBatchingWindow: Duration;

  constructor(scope: Construct, id: string, props: FanoutQueuesProps) {
    super(scope, id);
    const q = fanoutQueues;
    this.delayedBatchingWindow = props.delayedBatchingWindow;
    const common: QueueProps = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, maxMessageSizeBytes };
    const deadLetter: QueueProps = { ...common, retentionPeriod: Duration.days(q.deadLetterRetentionDays) };
    // AWS's guidance for SQS event sources is visibility ≥ 6 × the function timeout; the batching window comes on
    // top, because received messages wait in it, visibility running, for the batch to fill
    // (docs/aws-stack-facts.md, "Queue visibility for SQS event sources").
    const source = (batchingWindow: Duration): QueueProps => ({
      ...common,
      retentionPeriod: Duration.days(q.retentionDays),
      visibilityTimeout: Duration.seconds(props.workerTimeout.toSeconds() * q.visibilityTimeoutFactor + batchingWindow.toSeconds()),
    });

    this.orderedDeadLetter = new Queue(this, 'OrderedDeadLetter', { ...deadLetter, fifo: q.orderedDeadLetter.fifo });
    this.delayedDeadLetter = new Queue(this, 'DelayedDeadLetter', { ...deadLetter, fifo: q.delayedDeadLetter.fifo });
    this.ordered = new Queue(this, 'Ordered', {
      ...source(Duration.seconds(0)),
      fifo: q.ordered.fifo,
      deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      deadLetterQueue: { queue: this.orderedDeadLetter, maxReceiveCount: props.maxReceiveCount },
    });
    this.delayed = new Queue(this, 'Delayed', {
      ...source(props.delayedBatchingWindow),
      fifo: q.delayed.fifo,
      deadLetterQueue: { queue: this.delayedDeadLetter, maxReceiveCount: props.maxReceiveCount },
    });
    const c = clientMessageQueues;
    this.clientMessagesDeadLetter = new Queue(this, 'ClientMessagesDeadLetter', { ...deadLetter, fifo: c.deadLetter.fifo });
    this.clientMessages = new Queue(this, 'ClientMessages', {
      ...common,
      retentionPeriod: Duration.days(q.retentionDays),
      visibilityTimeout: Duration.seconds(props.laneConsumerTimeout.toSeconds() * q.visibilityTimeoutFactor),
      fifo: c.lane.fifo,
      // Groups are connections: high-throughput mode, or 300 sends/s would cap client messages account-wide.
      deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      deadLetterQueue: { queue: this.clientMessagesDeadLetter, maxReceiveCount: props.maxReceiveCount },
    });
  }

  /**
   * Makes `consumer` (`ws-message`) consume the ordered lane of client messages in batches of 10 (the FIFO
   * maximum: a connection's waiting messages then go to the backend in one request), with partial batch responses.
   */
  feedLane(consumer: IFunction, maxConcurrency: number): void {
    consumer.addEventSource(new SqsEventSource(this.clientMessages, { batchSize: 10, maxConcurrency, reportBatchItemFailures: true }));
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
        ...(this.delayedBatchingWindow.toSeconds() > 0 ? { maxBatchingWindow: this.delayedBatchingWindow } : {}),
        maxConcurrency: options.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }
}
