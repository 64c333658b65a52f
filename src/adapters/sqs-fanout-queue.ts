import { createHash, randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import { serializeJob, type FanoutJob } from '../domain/fanout/jobs.js';
import {
  MAX_QUEUE_DELAY_SECONDS,
  type DeadLetters,
  type FanoutQueue,
  type Log,
  type QueueEntry,
  type QueueError,
  type Redelivery,
  type RedeliveryScheduler,
} from '../domain/ports.js';
import { err, ok, type Result } from '../domain/result.js';
import { classifyAwsError, describeAwsError, summarizeAwsError } from './aws-errors.js';
import { backoff } from './backoff.js';

/** SQS's message size limit since August 2025 (1 MiB), also the limit on a whole `SendMessageBatch`. */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;
/** `SendMessageBatch` takes at most 10 entries. */
const BATCH_MAX_ENTRIES = 10;

/** How messages are sent, shared by the fan-out queue and the dead letters. */
export interface SqsSendOptions {
  /** The SQS client; pass `endpoint` explicitly when it is not AWS (see docs/local-services.md §2). */
  readonly client: SQSClient;
  /** Largest message (body plus attributes) the queues accept, in bytes. Default 1 MiB (`SQS_MAX_MESSAGE_BYTES`). */
  readonly maxMessageBytes?: number;
  /** `SendMessageBatch` calls in flight within one call. Default 10. */
  readonly concurrency?: number;
  /** Tries per batch while SQS reports entries as `Failed` through no fault of ours. Default 5. */
  readonly maxAttempts?: number;
  /** First backoff before re-sending failed entries; doubles per try, full jitter, capped at 1 s. Default 25. */
  readonly retryBaseMs?: number;
  readonly log?: Log;
}

export interface SqsFanoutQueueOptions extends SqsSendOptions {
  /**
   * The FIFO queue for jobs without a delay, and the standard queue for jobs with `delaySeconds`. A function is
   * given only the lanes it may send to (`handlerAccess`: ws-message only schedules keep-alives, control only
   * publishes): an entry for a lane without a URL fails the call as `invalid`, and nothing of it is sent.
   */
  readonly orderedQueueUrl?: string;
  readonly delayedQueueUrl?: string;
  /** Where `deadLetter` sends (see `SqsDeadLetters`); without it `deadLetter` fails as `invalid`. */
  readonly deadLetterQueueUrl?: string;
}

/** One message ready to send: its queue, its size as SQS counts it, and its batch entry (minus the `Id`). */
interface Outgoing {
  readonly queueUrl: string;
  readonly bytes: number;
  readonly entry: Omit<SendMessageBatchRequestEntry, 'Id'>;
}

/** Valid `MessageGroupId` and `MessageDeduplicationId`: 1–128 characters, alphanumeric or ASCII punctuation. */
const FIFO_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * A FIFO id (`MessageGroupId`, `MessageDeduplicationId`) for any string: values SQS accepts are used as they
 * are; others (spaces, non-ASCII characters, over 128 characters) become `h:<base64url SHA-256>`. Two values
 * only share an id by a hash collision.
 */
export function fifoIdFor(value: string): string {
  if (FIFO_ID.test(value)) return value;
  return `h:${createHash('sha256').update(value, 'utf8').digest('base64url')}`;
}

/**
 * The FIFO `MessageGroupId` for an order key: `default` without one, else `fifoIdFor(orderKey)`. A hashed
 * key (a channel name with spaces, say) still names its own group; sharing one would only order more strictly.
 */
export function messageGroupIdFor(orderKey: string | undefined): string {
  return orderKey === undefined || orderKey === '' ? 'default' : fifoIdFor(orderKey);
}

/**
 * The queue body for a serialized job. SQS rejects U+FFFE and U+FFFF in message bodies, and fauxqs (local
 * mode) also rejects every character outside the BMP (emoji): it tests UTF-16 code units, not code points. In
 * JSON those can only occur inside strings, where `\uXXXX` escapes of each UTF-16 unit read back as the same
 * text, and the body passes both.
 */
export function toQueueBody(json: string): string {
  return json.replace(/[\uD800-\uDFFF\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

function describeJob(job: FanoutJob): string {
  if (job.kind === 'keepalive' || job.kind === 'poll') return `${job.kind} job for ${job.connectionId}`;
  if (job.kind === 'catchup') return `catch-up job for ${job.connectionId} on ${job.channel}`;
  if (job.kind === 'release') return `release job on ${job.channel} (prev-id ${job.prevId})`;
  return `${job.kind} job ${job.publishId}`;
}

/** Translates anything an SQS call threw into a `QueueError`. */
export function queueErrorFrom(thrown: unknown, operation: string): QueueError {
  const info = describeAwsError(thrown);
  const kind = classifyAwsError(info);
  return {
    // a failed condition does not exist in SQS; treat an unexpected one as a request problem
    kind: kind === 'conflict' ? 'invalid' : kind,
    message: `SQS ${operation} failed: ${summarizeAwsError(info)}`,
    cause: thrown,
  };
}

/**
 * The fan-out queue on SQS. Entries without a delay go to the FIFO queue with `MessageGroupId` =
 * `orderKey ?? 'default'` (see `messageGroupIdFor`) and `MessageDeduplicationId` = the entry's `dedupId`
 * (hashed when SQS would refuse it) or a fresh UUID, so SQS drops a duplicate sent within its 5-minute window
 * (a re-sent request, a retried job's splits); entries with `delaySeconds` (1–900) go to the standard delayed
 * queue with that `DelaySeconds` (0 means no delay). The delayed lane is a standard queue: no deduplication.
 *
 * Messages go out in `SendMessageBatch` calls of ≤ 10 entries and ≤ `maxMessageBytes`, with bounded
 * concurrency. Order: a batch waits for every earlier batch that shares an ordering group with it, and is not
 * sent if one of those failed, so a group's jobs never overtake each other across batches. Within one batch,
 * an entry SQS reports as `Failed` (not the sender's fault) is re-sent with backoff and may then land after
 * later entries of its group from the same batch.
 *
 * Validation happens before anything is sent: an invalid delay or a job whose body exceeds
 * `maxMessageBytes` is an `invalid` error naming its size, and nothing is queued. Entries SQS rejects as the
 * sender's fault are `invalid`; exhausted retries and 5xx/network failures are `throttled` or `unavailable`.
 * On any error some jobs may have been queued (the port's all-or-error contract: the caller retries the call).
 * With `deadLetterQueueUrl` it is also the worker's `DeadLetters`.
 *
 * @example
 * const queue = new SqsFanoutQueue({ client: sqs, orderedQueueUrl, delayedQueueUrl, deadLetterQueueUrl });
 * await queue.enqueue([{ job, orderKey: 'ch:room' }, { job: retry, delaySeconds: 2 }]);
 */
export class SqsFanoutQueue implements FanoutQueue, DeadLetters, RedeliveryScheduler {
  private readonly sender: SqsBatchSender;
  private readonly orderedQueueUrl: string | null;
  private readonly delayedQueueUrl: string | null;
  private readonly deadLetters: SqsDeadLetters | null;
  private readonly client: SQSClient;

  constructor(options: SqsFanoutQueueOptions) {
    this.sender = new SqsBatchSender(options);
    this.client = options.client;
    this.orderedQueueUrl = options.orderedQueueUrl ?? null;
    this.delayedQueueUrl = options.delayedQueueUrl ?? null;
    this.deadLetters = options.deadLetterQueueUrl
      ? new SqsDeadLetters({ ...options, deadLetterQueueUrl: options.deadLetterQueueUrl })
      : null;
  }

  /**
   * `RedeliveryScheduler`: ChangeMessageVisibilityBatch on the ordered or delayed queue (matched by the name at the
   * end of the receipt's queue ARN), 10 receipts per call. The first failure is returned; the rest are still tried.
   */
  async redeliverAfter(items: readonly Redelivery[]): Promise<Result<void, QueueError>> {
    const byQueue = new Map<string, Redelivery[]>();
    for (const item of items) {
      const name = item.queueArn.slice(item.queueArn.lastIndexOf(':') + 1);
      const url = [this.orderedQueueUrl, this.delayedQueueUrl].find((u) => u !== null && u.endsWith(`/${name}`));
      if (url === undefined || url === null) return err({ kind: 'invalid', message: `no queue URL for ${item.queueArn}` });
      byQueue.set(url, [...(byQueue.get(url) ?? []), item]);
    }
    let first: QueueError | undefined;
    for (const [queueUrl, list] of byQueue) {
      for (let i = 0; i < list.length; i += 10) {
        const chunk = list.slice(i, i + 10);
        try {
          const out = await this.client.send(
            new ChangeMessageVisibilityBatchCommand({
              QueueUrl: queueUrl,
              Entries: chunk.map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle, VisibilityTimeout: r.afterSeconds })),
            }),
          );
          const failure = out.Failed?.[0];
          if (failure)
            first ??= {
              kind: 'unavailable',
              message: `ChangeMessageVisibilityBatch: ${failure.Code ?? ''} ${failure.Message ?? ''}`.trim(),
            };
        } catch (e) {
          first ??= queueErrorFrom(e, 'ChangeMessageVisibilityBatch');
        }
      }
    }
    return first ? err(first) : ok(undefined);
  }

  /** `DeadLetters` through `deadLetterQueueUrl`: see `SqsDeadLetters`. */
  async deadLetter(entries: readonly { readonly body: string; readonly reason: string }[]): Promise<Result<void, QueueError>> {
    if (this.deadLetters === null) return err({ kind: 'invalid', message: 'no dead-letter queue configured (deadLetterQueueUrl)' });
    return this.deadLetters.deadLetter(entries);
  }

  async enqueue(entries: readonly QueueEntry[]): Promise<Result<void, QueueError>> {
    const prepared: Outgoing[] = [];
    for (const [i, entry] of entries.entries()) {
      const p = this.prepare(entry, i);
      if (!p.ok) return p;
      prepared.push(p.value);
    }
    return this.sender.send(prepared);
  }

  private prepare(entry: QueueEntry, index: number): Result<Outgoing, QueueError> {
    const delay = entry.delaySeconds ?? 0;
    if (!Number.isInteger(delay) || delay < 0 || delay > MAX_QUEUE_DELAY_SECONDS) {
      return err({
        kind: 'invalid',
        message: `entry ${index}: delaySeconds ${delay} must be an integer from 0 to ${MAX_QUEUE_DELAY_SECONDS}`,
      });
    }
    const body = toQueueBody(serializeJob(entry.job));
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > this.sender.maxMessageBytes) {
      return err({
        kind: 'invalid',
        message: `entry ${index}: ${describeJob(entry.job)} is ${bytes} bytes serialized; the queue accepts at most ${this.sender.maxMessageBytes}`,
      });
    }
    if (delay > 0) {
      if (this.delayedQueueUrl === null)
        return err({ kind: 'invalid', message: `entry ${index}: no delayed queue configured (delayedQueueUrl)` });
      return ok({ queueUrl: this.delayedQueueUrl, bytes, entry: { MessageBody: body, DelaySeconds: delay } });
    }
    if (this.orderedQueueUrl === null)
      return err({ kind: 'invalid', message: `entry ${index}: no ordered queue configured (orderedQueueUrl)` });
    return ok({
      queueUrl: this.orderedQueueUrl,
      bytes,
      entry: {
        MessageBody: body,
        MessageGroupId: messageGroupIdFor(entry.orderKey),
        MessageDeduplicationId: entry.dedupId === undefined || entry.dedupId === '' ? randomUUID() : fifoIdFor(entry.dedupId),
      },
    });
  }
}

export interface SqsDeadLettersOptions extends SqsSendOptions {
  /**
   * Where dead letters go: a standard queue (the delayed lane's DLQ suits: redriving it feeds the worker) or a
   * FIFO queue (`.fifo`; then one group, `dead-letters`, with fresh deduplication ids).
   */
  readonly deadLetterQueueUrl: string;
}

/** Longest `reason` attribute kept; the rest is cut with an ellipsis. */
const MAX_REASON_CHARS = 2_000;

/**
 * `DeadLetters` on SQS: each entry becomes one message in the dead-letter queue whose body is the job (or
 * queue message) and whose String message attribute `reason` says why, for an operator to read before redriving.
 * Sent with the same batching and retries as `SqsFanoutQueue`; all-or-error likewise.
 *
 * Bodies that are JSON get `toQueueBody`'s lossless escaping; other bodies and reasons have characters SQS (or
 * fauxqs) refuses replaced by U+FFFD. A body over the size limit is `invalid` and nothing is sent.
 *
 * @example
 * const deadLetters = new SqsDeadLetters({ client: sqs, deadLetterQueueUrl: delayedDeadLetterQueueUrl });
 * await deadLetters.deadLetter([{ body: record.body, reason: 'not a job: …' }]);
 */
export class SqsDeadLetters implements DeadLetters {
  private readonly sender: SqsBatchSender;
  private readonly queueUrl: string;

  constructor(options: SqsDeadLettersOptions) {
    this.sender = new SqsBatchSender(options);
    this.queueUrl = options.deadLetterQueueUrl;
  }

  async deadLetter(entries: readonly { readonly body: string; readonly reason: string }[]): Promise<Result<void, QueueError>> {
    const fifo = this.queueUrl.endsWith('.fifo');
    const prepared: Outgoing[] = [];
    for (const [i, { body, reason }] of entries.entries()) {
      const safeBody = isJson(body) ? toQueueBody(body) : replaceRefused(body);
      const cut = reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}…` : reason;
      const safeReason = replaceRefused(cut) || 'unknown';
      // SQS counts attribute names, types and values towards the message size
      const bytes = Buffer.byteLength(safeBody, 'utf8') + 'reason'.length + 'String'.length + Buffer.byteLength(safeReason, 'utf8');
      if (bytes > this.sender.maxMessageBytes) {
        return err({
          kind: 'invalid',
          message: `dead letter ${i} is ${bytes} bytes; the queue accepts at most ${this.sender.maxMessageBytes}`,
        });
      }
      prepared.push({
        queueUrl: this.queueUrl,
        bytes,
        entry: {
          MessageBody: safeBody,
          MessageAttributes: { reason: { DataType: 'String', StringValue: safeReason } },
          ...(fifo ? { MessageGroupId: 'dead-letters', MessageDeduplicationId: randomUUID() } : {}),
        },
      });
    }
    return this.sender.send(prepared);
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Replaces what SQS refuses in text (and fauxqs: anything outside the BMP) with U+FFFD. */
function replaceRefused(text: string): string {
  return text.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/g, '\uFFFD');
}

/**
 * Sends messages with `SendMessageBatch`: per queue, in order, in batches of ≤ 10 entries and
 * ≤ `maxMessageBytes`, with bounded concurrency. A batch waits for every earlier batch sharing a
 * `MessageGroupId` with it and is skipped if one of those failed, so a FIFO group never reorders across
 * batches. Entries reported `Failed` without sender fault are re-sent with backoff.
 */
class SqsBatchSender {
  readonly maxMessageBytes: number;
  private readonly client: SQSClient;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly log: Log | undefined;

  constructor(options: SqsSendOptions) {
    this.client = options.client;
    this.maxMessageBytes = options.maxMessageBytes ?? SQS_MAX_MESSAGE_BYTES;
    this.concurrency = options.concurrency ?? 10;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 25;
    this.log = options.log;
  }

  async send(messages: readonly Outgoing[]): Promise<Result<void, QueueError>> {
    const byQueue = new Map<string, Outgoing[]>();
    for (const m of messages) {
      const list = byQueue.get(m.queueUrl);
      if (list) list.push(m);
      else byQueue.set(m.queueUrl, [m]);
    }
    const batches = [...byQueue.values()].flatMap((list) => this.batch(list));
    const limit = pLimit(this.concurrency);
    const lastOfGroup = new Map<string, Promise<Result<void, QueueError>>>();
    const sends = batches.map((batch) => {
      const groups = new Set(batch.flatMap((m) => (m.entry.MessageGroupId ? [m.entry.MessageGroupId] : [])));
      const before = [...groups].flatMap((g) => lastOfGroup.get(g) ?? []);
      // wait outside the limiter: waiting inside it could hold every slot while earlier batches queue behind
      const sent = Promise.all(before).then((earlier) => earlier.find((r) => !r.ok) ?? limit(() => this.sendBatch(batch)));
      for (const g of groups) lastOfGroup.set(g, sent);
      return sent;
    });
    const results = await Promise.all(sends);
    return results.find((r) => !r.ok) ?? ok(undefined);
  }

  /** Splits one queue's messages, in order, into batches of ≤ 10 entries and ≤ `maxMessageBytes`. */
  private batch(items: Outgoing[]): Outgoing[][] {
    const batches: Outgoing[][] = [];
    let current: Outgoing[] = [];
    let bytes = 0;
    for (const item of items) {
      if (current.length === BATCH_MAX_ENTRIES || (current.length > 0 && bytes + item.bytes > this.maxMessageBytes)) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(item);
      bytes += item.bytes;
    }
    if (current.length > 0) batches.push(current);
    return batches;
  }

  private async sendBatch(batch: Outgoing[]): Promise<Result<void, QueueError>> {
    const queueUrl = batch[0]?.queueUrl ?? '';
    let pending: SendMessageBatchRequestEntry[] = batch.map((m, i) => ({ Id: `m${i}`, ...m.entry }));
    let lastFailure = '';
    let throttled = false;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (attempt > 0) await backoff(attempt - 1, this.retryBaseMs, 1000);
      let out;
      try {
        out = await this.client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }));
      } catch (e) {
        return err(queueErrorFrom(e, 'SendMessageBatch'));
      }
      const failed = out.Failed ?? [];
      if (failed.length === 0) return ok(undefined);
      const senderFault = failed.find((f) => f.SenderFault);
      if (senderFault) {
        return err({ kind: 'invalid', message: `SQS rejected a message: ${senderFault.Code}: ${senderFault.Message ?? ''}` });
      }
      const failedIds = new Set(failed.map((f) => f.Id));
      pending = pending.filter((e) => failedIds.has(e.Id));
      lastFailure = failed.map((f) => f.Code).join(', ');
      throttled = failed.some((f) => /thrott|limit/i.test(f.Code ?? ''));
      this.log?.debug('SendMessageBatch reported failed entries; retrying', { failed: failed.length, attempt, codes: lastFailure });
    }
    return err({
      kind: throttled ? 'throttled' : 'unavailable',
      message: `SQS SendMessageBatch left ${pending.length} messages unsent after ${this.maxAttempts} attempts (${lastFailure})`,
    });
  }
}
