/** `ClientMessageLane` on an SQS FIFO queue: one `SendMessage` per client message, grouped by connection. */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ClientMessageLane, QueueError } from '../domain/ports.js';
import { err, ok, type Result } from '../domain/result.js';
import type { LaneMessage } from '../domain/session/lane.js';
import { fifoIdFor, queueErrorFrom, toQueueBody } from './sqs-fanout-queue.js';

export interface SqsClientMessageLaneOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
}

/**
 * `MessageGroupId` = the connection id (so SQS hands out one connection's messages in order, one batch at a time),
 * `MessageDeduplicationId` = API Gateway's message id (a retried `$default` invocation is stored once).
 *
 * @example
 * const lane = new SqsClientMessageLane({ client: new SQSClient({}), queueUrl: process.env.CLIENT_MESSAGES_QUEUE_URL });
 */
export class SqsClientMessageLane implements ClientMessageLane {
  private readonly client: SQSClient;
  private readonly queueUrl: string;

  constructor(options: SqsClientMessageLaneOptions) {
    this.client = options.client;
    this.queueUrl = options.queueUrl;
  }

  async enqueue(message: LaneMessage, dedupId: string): Promise<Result<void, QueueError>> {
    try {
      await this.client.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: toQueueBody(JSON.stringify(message)),
          MessageGroupId: fifoIdFor(message.connectionId),
          MessageDeduplicationId: fifoIdFor(dedupId),
        }),
      );
      return ok(undefined);
    } catch (e) {
      return err(queueErrorFrom(e, 'SendMessage (client message lane)'));
    }
  }
}
