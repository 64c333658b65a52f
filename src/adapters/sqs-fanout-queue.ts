import { createHash, randomUUID } from 'node:crypto';
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import { serializeJob, type FanoutJob } from '../domain/fanout/jobs.js';
import type { FanoutQueue, Log, QueueEntry, QueueError } from '../domain/ports.js';
import { err, ok, type Result } from '../domain/result.js';
import { classifyAwsError, describeAwsError, summarizeAwsError } from './aws-errors.js';
import { backoff } from './backoff.js';

/** SQS's message size limit since August 2025 (1 MiB), also the limit on a whole `SendMessageBatch`. */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;
/** `SendMessageBatch` takes at most 10 entries. */
const BATCH_MAX_ENTRIES = 10;
const MAX_DELAY_SECONDS = 900;

export interface SqsFanoutQueueOptions {
  /** The SQS client; pass `endpoint` explicitly when it is not AWS (see reference/local-services.md §2). */
  readonly client: SQSClient;
  /** The FIFO queue for jobs without a delay. */
  readonly orderedQueueUrl: string;
  /** The standard queue for jobs with `delaySeconds`. */
  readonly delayedQueueUrl: string;
  /** Largest message body accepted by both queues, in bytes. Default 1 MiB (`SQS_MAX_MESSAGE_BYTES`). */
  readonly maxMessageBytes?: number;
  /** `SendMessageBatch` calls in flight within one `enqueue`. Default 10. */
  readonly concurrency?: number;
  /** Tries per batch while SQS reports entries as `Failed` through no fault of ours. Default 5. */
  readonly maxAttempts?: number;
  /** First backoff before re-sending failed entries; doubles per try, full jitter, capped at 1 s. Default 25. */
  readonly retryBaseMs?: number;
  readonly log?: Log;
}

/** One message ready to send, in the lane it belongs to. */
type Prepared =
  | { readonly lane: 'ordered'; readonly body: string; readonly bytes: number; readonly groupId: string; readonly dedupId: string }
  | { readonly lane: 'delayed'; readonly body: string; readonly bytes: number; readonly delaySeconds: number };

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
  return job.kind === 'keepalive' ? `keepalive job for ${job.connectionId}` : `${job.kind} job ${job.publishId}`;
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
 * Validation happens before anything is sent: an unserializable delay or a job whose body exceeds
 * `maxMessageBytes` is an `invalid` error naming its size, and nothing is queued. Entries SQS rejects as the
 * sender's fault are `invalid`; exhausted retries and 5xx/network failures are `throttled` or `unavailable`.
 * On any error some jobs may have been queued (the port's all-or-error contract: the caller retries the call).
 *
 * @example
 * const queue = new SqsFanoutQueue({ client: sqs, orderedQueueUrl, delayedQueueUrl });
 * await queue.enqueue([{ job, orderKey: 'ch:room' }, { job: retry, delaySeconds: 2 }]);
 */
export class SqsFanoutQueue implements FanoutQueue {
  private readonly client: SQSClient;
  private readonly orderedQueueUrl: string;
  private readonly delayedQueueUrl: string;
  private readonly maxMessageBytes: number;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly log: Log | undefined;

  constructor(options: SqsFanoutQueueOptions) {
    this.client = options.client;
    this.orderedQueueUrl = options.orderedQueueUrl;
    this.delayedQueueUrl = options.delayedQueueUrl;
    this.maxMessageBytes = options.maxMessageBytes ?? SQS_MAX_MESSAGE_BYTES;
    this.concurrency = options.concurrency ?? 10;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 25;
    this.log = options.log;
  }

  async enqueue(entries: readonly QueueEntry[]): Promise<Result<void, QueueError>> {
    const prepared: Prepared[] = [];
    for (const [i, entry] of entries.entries()) {
      const p = this.prepare(entry, i);
      if (!p.ok) return p;
      prepared.push(p.value);
    }
    const batches = [
      ...this.batch(prepared.filter((p) => p.lane === 'ordered')),
      ...this.batch(prepared.filter((p) => p.lane === 'delayed')),
    ];
    const limit = pLimit(this.concurrency);
    const lastOfGroup = new Map<string, Promise<Result<void, QueueError>>>();
    const sends = batches.map((batch) => {
      const groups = new Set(batch.flatMap((p) => (p.lane === 'ordered' ? [p.groupId] : [])));
      const before = [...groups].flatMap((g) => lastOfGroup.get(g) ?? []);
      // wait outside the limiter: waiting inside it could hold every slot while earlier batches queue behind
      const sent = Promise.all(before).then((earlier) => earlier.find((r) => !r.ok) ?? limit(() => this.send(batch)));
      for (const g of groups) lastOfGroup.set(g, sent);
      return sent;
    });
    const results = await Promise.all(sends);
    return results.find((r) => !r.ok) ?? ok(undefined);
  }

  private prepare(entry: QueueEntry, index: number): Result<Prepared, QueueError> {
    const delay = entry.delaySeconds ?? 0;
    if (!Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS) {
      return err({ kind: 'invalid', message: `entry ${index}: delaySeconds ${delay} must be an integer from 0 to ${MAX_DELAY_SECONDS}` });
    }
    const body = toQueueBody(serializeJob(entry.job));
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > this.maxMessageBytes) {
      return err({
        kind: 'invalid',
        message: `entry ${index}: ${describeJob(entry.job)} is ${bytes} bytes serialized; the queue accepts at most ${this.maxMessageBytes}`,
      });
    }
    return ok(
      delay > 0
        ? { lane: 'delayed', body, bytes, delaySeconds: delay }
        : {
            lane: 'ordered',
            body,
            bytes,
            groupId: messageGroupIdFor(entry.orderKey),
            dedupId: entry.dedupId === undefined || entry.dedupId === '' ? randomUUID() : fifoIdFor(entry.dedupId),
          },
    );
  }

  /** Splits one lane's messages, in order, into batches of ≤ 10 entries and ≤ `maxMessageBytes`. */
  private batch(items: Prepared[]): Prepared[][] {
    const batches: Prepared[][] = [];
    let current: Prepared[] = [];
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

  private async send(batch: Prepared[]): Promise<Result<void, QueueError>> {
    const queueUrl = batch[0]?.lane === 'delayed' ? this.delayedQueueUrl : this.orderedQueueUrl;
    let pending: SendMessageBatchRequestEntry[] = batch.map((p, i) =>
      p.lane === 'ordered'
        ? { Id: `m${i}`, MessageBody: p.body, MessageGroupId: p.groupId, MessageDeduplicationId: p.dedupId }
        : { Id: `m${i}`, MessageBody: p.body, DelaySeconds: p.delaySeconds },
    );
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
