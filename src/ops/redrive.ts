import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { describeAwsError } from '../adapters/aws-errors.js';

export interface RedriveOptions {
  readonly sqs: SQSClient;
  /** The dead-letter queue to empty. */
  readonly deadLetterQueueUrl: string;
  /** Where its messages go: the source queue it serves (same type: FIFO to FIFO, standard to standard). */
  readonly destinationQueueUrl: string;
  /** Messages per second for SQS's move task (at most 500); unlimited when absent. */
  readonly maxPerSecond?: number;
  /** Stop waiting for a move task after this long (it keeps running on AWS). */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

export type RedriveResult =
  | {
      readonly method: 'move-task';
      readonly taskHandle: string;
      readonly status: string;
      readonly moved: number;
      readonly toMove: number | null;
    }
  | { readonly method: 'receive-send-delete'; readonly moved: number };

/**
 * Moves every message of a dead-letter queue back to its source queue, once the cause of the failures is fixed.
 *
 * On AWS this starts an SQS message move task (`StartMessageMoveTask`, which preserves FIFO message groups)
 * and waits for it to finish. Emulators that lack the API (fauxqs, used by local mode) get the same effect by
 * receiving, re-sending and deleting in batches of 10: a message is deleted only after its copy was sent, so a
 * crash can duplicate messages but never lose one (jobs are idempotent enough for at-least-once delivery).
 */
export async function redrive(options: RedriveOptions): Promise<RedriveResult> {
  const log = options.log ?? (() => {});
  const [sourceArn, destinationArn] = await Promise.all([
    queueArn(options.sqs, options.deadLetterQueueUrl),
    queueArn(options.sqs, options.destinationQueueUrl),
  ]);
  let taskHandle: string;
  try {
    const started = await options.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: sourceArn,
        DestinationArn: destinationArn,
        ...(options.maxPerSecond !== undefined ? { MaxNumberOfMessagesPerSecond: options.maxPerSecond } : {}),
      }),
    );
    taskHandle = started.TaskHandle ?? '';
  } catch (e) {
    if (!isMoveTaskUnsupported(e)) throw e;
    log('this SQS endpoint has no StartMessageMoveTask; moving messages by receive, send and delete');
    return { method: 'receive-send-delete', moved: await moveByHand(options, log) };
  }
  // Outside the try: once a task runs, a failure while waiting (a FAILED task, a ListMessageMoveTasks error) is
  // reported, not mistaken for a missing API and answered with a second, manual move.
  log(`started message move task ${taskHandle}`);
  return waitForTask(options, sourceArn, taskHandle, log);
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.['QueueArn'];
  if (!arn) throw new Error(`queue ${queueUrl} has no QueueArn`);
  return arn;
}

/**
 * Error codes meaning "this endpoint has no such action": SQS's `InvalidAction` (fauxqs answers a
 * StartMessageMoveTask with 400 `InvalidAction` "Unknown action: StartMessageMoveTask") and Smithy servers'
 * `UnknownOperationException`.
 */
const MISSING_ACTION_CODES = new Set(['InvalidAction', 'UnknownOperationException']);

/**
 * True only when the endpoint does not implement StartMessageMoveTask (an emulator), so moving by hand is the only
 * way. Any other failure is an answer about this move and is reported: SQS's own `UnsupportedOperation` (AWS
 * refuses a move it does not support, e.g. from a queue that is not a dead-letter queue),
 * `ResourceNotFoundException`, access denied, throttling, a 404 or a message that happens to say "unknown".
 */
export function isMoveTaskUnsupported(thrown: unknown): boolean {
  return MISSING_ACTION_CODES.has(describeAwsError(thrown).name);
}

async function waitForTask(
  options: RedriveOptions,
  sourceArn: string,
  taskHandle: string,
  log: (line: string) => void,
): Promise<RedriveResult> {
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  for (;;) {
    const tasks = await options.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }));
    const task = tasks.Results?.find((t) => t.TaskHandle === taskHandle) ?? tasks.Results?.[0];
    const status = task?.Status ?? 'UNKNOWN';
    const moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
    const toMove = task?.ApproximateNumberOfMessagesToMove ?? null;
    if (status !== 'RUNNING' || Date.now() > deadline) {
      if (status === 'FAILED') throw new Error(`message move task failed: ${task?.FailureReason ?? 'no reason given'}`);
      return { method: 'move-task', taskHandle, status, moved, toMove };
    }
    log(`moving: ${moved}${toMove !== null ? ` of ${toMove}` : ''}`);
    await sleep(2000);
  }
}

async function moveByHand(options: RedriveOptions, log: (line: string) => void): Promise<number> {
  const { sqs } = options;
  const fifo = options.destinationQueueUrl.endsWith('.fifo');
  let moved = 0;
  for (;;) {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 60,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return moved;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: options.destinationQueueUrl,
        Entries: messages.map((m, i) => ({
          Id: String(i),
          MessageBody: m.Body ?? '',
          ...(m.MessageAttributes ? { MessageAttributes: m.MessageAttributes } : {}),
          ...(fifo ? { MessageGroupId: m.Attributes?.['MessageGroupId'] ?? 'redrive', MessageDeduplicationId: randomUUID() } : {}),
        })),
      }),
    );
    const ok = new Set((sent.Successful ?? []).map((s) => s.Id));
    for (const failure of sent.Failed ?? []) log(`could not move message ${failure.Id}: ${failure.Message ?? failure.Code}`);
    const toDelete = messages.flatMap((m, i) =>
      ok.has(String(i)) && m.ReceiptHandle ? [{ Id: String(i), ReceiptHandle: m.ReceiptHandle }] : [],
    );
    if (toDelete.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: options.deadLetterQueueUrl, Entries: toDelete }));
    moved += toDelete.length;
    log(`moved ${moved}`);
    if (toDelete.length === 0) throw new Error('no message could be moved; stopping so they are not received in a loop');
  }
}
