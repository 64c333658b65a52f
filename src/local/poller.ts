/**
 * The local stand-in for Lambda's SQS event source mapping: it long-polls a queue with the real SQS client,
 * invokes the worker handler with batches shaped like Lambda's SQS events, and applies partial batch responses
 * the way the mapping does (docs/aws-facts.md §2). Retries and dead-lettering are left to the queue itself
 * (visibility timeout and `RedrivePolicy`), exactly as on AWS.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash, randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import pLimit, { type LimitFunction } from 'p-limit';
import type { SQSMessageAttributes } from 'aws-lambda';
import { z } from 'zod';
import type { Log } from '../domain/ports.js';
import type { InvocationContext, SqsEvent, SqsRecord, WorkerHandler } from '../handlers/aws-events.js';
import { describeError, stderrLog } from './log.js';
import { numberOption } from './options.js';

export interface QueuePollerOptions {
  /** A client with an explicit `endpoint` (fauxqs) or AWS. */
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly handler: WorkerHandler;
  /**
   * Records per invocation, 1–100. Up to 10 come from one `ReceiveMessage`; more are gathered within
   * `maxBatchingWindowMs`, which is then required (as Lambda requires a batching window above 10). Default 10.
   */
  readonly batchSize?: number;
  /** How long to keep gathering after the first message, 0–300,000 ms. Default 0: invoke with what one receive returned. */
  readonly maxBatchingWindowMs?: number;
  /** Concurrent invocations, ≥ 1. Default 5. */
  readonly maxConcurrency?: number;
  /** Parallel receive loops, 1–maxConcurrency. Default min(maxConcurrency, 2). */
  readonly pollers?: number;
  /** Long-poll wait, 0–20 s. Default 20 (what the mapping uses); tests use 1–2 so `stop()` is quick. */
  readonly waitTimeSeconds?: number;
  /** Per-receive visibility timeout; default: the queue's own. */
  readonly visibilityTimeoutSeconds?: number;
  /** The function timeout: drives `getRemainingTimeInMillis`; a slower invocation fails its whole batch. Default 60,000. */
  readonly functionTimeoutMs?: number;
  readonly log?: Log;
}

export interface QueuePollerStats {
  /** Messages received from the queue. */
  readonly received: number;
  readonly invocations: number;
  /** Records deleted after their invocation succeeded for them. */
  readonly succeeded: number;
  /** Records left on the queue (listed in `batchItemFailures`, or in a failed batch) to reappear. */
  readonly failed: number;
  /** Invocations that failed as a whole: a throw, an invalid response or a timeout. */
  readonly batchFailures: number;
  readonly timeouts: number;
  readonly receiveErrors: number;
  readonly deleteErrors: number;
  /** Invocations running now. */
  readonly inFlight: number;
}

export interface QueuePoller {
  /** Stops polling, then resolves when every in-flight invocation has finished and its deletes are done. */
  stop(): Promise<void>;
  /**
   * Simulates a killed worker: stops polling and abandons in-flight invocations; whatever they return is ignored
   * and none of their messages is deleted, so all of them reappear after the visibility timeout. Resolves when
   * the receive loops have exited. (The abandoned handler code itself keeps running in this process; only
   * its effects on the queue are dropped.)
   */
  crash(): Promise<void>;
  stats(): QueuePollerStats;
}

/**
 * Starts polling `queueUrl` and resolves once the queue's ARN is known (it fails if the queue does not exist).
 *
 * Contract, as Lambda's SQS event source mapping with `ReportBatchItemFailures`:
 * - Each invocation gets up to `batchSize` records in the order received (for FIFO queues, the order within each
 *   message group), with `attributes` (`ApproximateReceiveCount`, `SentTimestamp`, `SenderId`,
 *   `ApproximateFirstReceiveTimestamp`, and `MessageGroupId`/`MessageDeduplicationId`/`SequenceNumber` on
 *   FIFO queues), `messageAttributes` in Lambda's shape, `eventSource: 'aws:sqs'` and `eventSourceARN`.
 * - At most `maxConcurrency` invocations run at once; a receive starts only when a slot is free, so messages are
 *   never held invisible while waiting for one.
 * - Records not listed in `batchItemFailures` are deleted. Listed ones are left to reappear after the visibility
 *   timeout. The whole batch is left when the handler throws, returns anything but `{batchItemFailures}` / null /
 *   undefined, lists an empty or unknown `itemIdentifier`, or runs past `functionTimeoutMs`.
 * - Receive and delete errors are logged and retried with backoff (receives) or left to the visibility timeout
 *   (deletes: the message is delivered again, which at-least-once consumers tolerate).
 * - On `stop()`/`crash()` the pending long poll is aborted; a message the queue hands to that aborted poll
 *   reappears after the visibility timeout.
 *
 * @example
 * const poller = await startQueuePoller({ sqs, queueUrl, handler: worker, batchSize: 10, maxConcurrency: 4 });
 * // …
 * await poller.stop();
 */
export async function startQueuePoller(options: QueuePollerOptions): Promise<QueuePoller> {
  const { sqs, queueUrl, handler } = options;
  const batchSize = numberOption('batchSize', options.batchSize, 10, { min: 1, max: 100, integer: true });
  const windowMs = numberOption('maxBatchingWindowMs', options.maxBatchingWindowMs, 0, { min: 0, max: 300_000, integer: true });
  if (batchSize > 10 && windowMs === 0) throw new RangeError('batchSize above 10 needs a maxBatchingWindowMs, as on Lambda');
  const maxConcurrency = numberOption('maxConcurrency', options.maxConcurrency, 5, { min: 1, max: 10_000, integer: true });
  const pollers = numberOption('pollers', options.pollers, Math.min(maxConcurrency, 2), { min: 1, max: maxConcurrency, integer: true });
  const waitTimeSeconds = numberOption('waitTimeSeconds', options.waitTimeSeconds, 20, { min: 0, max: 20, integer: true });
  const visibility =
    options.visibilityTimeoutSeconds === undefined
      ? undefined
      : numberOption('visibilityTimeoutSeconds', options.visibilityTimeoutSeconds, 30, { min: 0, max: 43_200, integer: true });
  const functionTimeoutMs = numberOption('functionTimeoutMs', options.functionTimeoutMs, 60_000, { min: 1, max: 900_000, integer: true });
  const log = options.log ?? stderrLog('local-poller');

  const arnOut = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const eventSourceARN = arnOut.Attributes?.QueueArn;
  if (!eventSourceARN) throw new Error(`queue ${queueUrl} reported no QueueArn`);
  const sourceArn: string = eventSourceARN;
  const awsRegion = sourceArn.split(':')[3] ?? '';

  const counters = {
    received: 0,
    invocations: 0,
    succeeded: 0,
    failed: 0,
    batchFailures: 0,
    timeouts: 0,
    receiveErrors: 0,
    deleteErrors: 0,
  };
  let running = true;
  let crashed = false;
  const abort = new AbortController();
  // At most `maxConcurrency` invocations: each receive waits for a slot and holds it through its invocation.
  const slots = new ReceiveSlots(maxConcurrency);
  const slot = () => slots.take();
  const halted = () => slots.halt();
  const inFlight = new Set<Promise<void>>();

  async function receive(max: number, wait: number): Promise<Message[]> {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: wait,
        ...(visibility === undefined ? {} : { VisibilityTimeout: visibility }),
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: abort.signal },
    );
    const messages = out.Messages ?? [];
    counters.received += messages.length;
    return messages;
  }

  /** One batch: a long poll for the first messages, then short receives within the batching window. */
  async function receiveBatch(): Promise<Message[]> {
    const batch = await receive(Math.min(10, batchSize), waitTimeSeconds);
    if (batch.length === 0 || windowMs === 0) return batch;
    const deadline = Date.now() + windowMs;
    while (batch.length < batchSize && running) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      // Long-poll waits are whole seconds; below one second, short polls with a pause stay within the window.
      const wait = Math.min(Math.floor(remaining / 1000), 20);
      const more = await receive(Math.min(10, batchSize - batch.length), wait);
      batch.push(...more);
      if (more.length === 0 && wait === 0) await sleep(Math.min(remaining, 50));
    }
    return batch;
  }

  async function loop(): Promise<void> {
    let backoffMs = 100;
    while (running) {
      const release = await slot();
      if (release === null || !running) {
        release?.();
        break;
      }
      let messages: Message[];
      try {
        messages = await receiveBatch();
        backoffMs = 100;
      } catch (e) {
        release();
        if (!running) break;
        counters.receiveErrors++;
        log.warn('receive failed; backing off', { queueUrl, error: describeError(e), backoffMs });
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5_000);
        continue;
      }
      if (messages.length === 0 || crashed) {
        release();
        continue;
      }
      const invocation = invoke(messages)
        .catch((e: unknown) => log.error('invocation bookkeeping failed', { queueUrl, error: describeError(e) }))
        .finally(() => {
          inFlight.delete(invocation);
          release();
        });
      inFlight.add(invocation);
    }
  }

  async function invoke(messages: Message[]): Promise<void> {
    const records: SqsRecord[] = [];
    for (const m of messages) {
      const record = toRecord(m, sourceArn, awsRegion);
      if (record) records.push(record);
      else log.error('received a message without id, receipt handle or body; left for the visibility timeout', { queueUrl });
    }
    if (records.length === 0) return;
    counters.invocations++;
    const deadline = Date.now() + functionTimeoutMs;
    const context: InvocationContext = {
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      awsRequestId: randomUUID(),
    };
    const event: SqsEvent = { Records: records };
    let failed: ReadonlySet<string> | 'all';
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), functionTimeoutMs);
      });
      const raw = await Promise.race([Promise.resolve().then(() => handler(event, context)), timeout]);
      if (crashed) return;
      if (raw === TIMED_OUT) {
        counters.timeouts++;
        log.error('worker invocation timed out; the whole batch will be retried', { queueUrl, functionTimeoutMs });
        failed = 'all';
      } else {
        failed = failedItems(raw, records);
        if (failed === 'all') log.error('worker returned an invalid batch response; the whole batch will be retried', { queueUrl });
      }
    } catch (e) {
      if (crashed) return;
      log.error('worker invocation failed; the whole batch will be retried', { queueUrl, error: describeError(e) });
      failed = 'all';
    } finally {
      clearTimeout(timer);
    }
    if (failed === 'all') {
      counters.batchFailures++;
      counters.failed += records.length;
      return;
    }
    counters.failed += failed.size;
    await deleteRecords(records.filter((r) => !failed.has(r.messageId)));
  }

  async function deleteRecords(records: SqsRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 10) {
      const chunk = records.slice(i, i + 10);
      try {
        const out = await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle })),
          }),
        );
        const failures = out.Failed ?? [];
        counters.succeeded += chunk.length - failures.length;
        counters.deleteErrors += failures.length;
        for (const f of failures)
          log.warn('delete failed; the message will be delivered again', { queueUrl, code: f.Code, message: f.Message });
      } catch (e) {
        counters.deleteErrors += chunk.length;
        log.warn('delete failed; the messages will be delivered again', { queueUrl, error: describeError(e) });
      }
    }
  }

  const loops = Array.from({ length: pollers }, () =>
    loop().catch((e: unknown) => log.error('poll loop failed', { queueUrl, error: describeError(e) })),
  );

  const halt = async (): Promise<void> => {
    running = false;
    abort.abort();
    halted();
    await Promise.allSettled(loops);
  };

  return {
    async stop() {
      await halt();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    async crash() {
      crashed = true;
      inFlight.clear();
      await halt();
    },
    stats: () => ({ ...counters, inFlight: inFlight.size }),
  };
}

const TIMED_OUT = Symbol('timed out');

const batchResponseSchema = z.union([
  z.null(),
  z.undefined(),
  z.object({ batchItemFailures: z.array(z.object({ itemIdentifier: z.string().min(1) })).nullish() }),
]);

/** The record ids a response marks failed, or `'all'` when the response is invalid (Lambda's rules). */
export function failedItems(raw: unknown, records: readonly SqsRecord[]): ReadonlySet<string> | 'all' {
  const parsed = batchResponseSchema.safeParse(raw);
  if (!parsed.success) return 'all';
  const items = parsed.data?.batchItemFailures ?? [];
  const known = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const { itemIdentifier } of items) {
    if (!known.has(itemIdentifier)) return 'all';
    failed.add(itemIdentifier);
  }
  return failed;
}

/** The system attributes Lambda puts on every record; a message without them is not one SQS delivered. */
const systemAttributesSchema = z.object({
  ApproximateReceiveCount: z.string(),
  SentTimestamp: z.string(),
  SenderId: z.string(),
  ApproximateFirstReceiveTimestamp: z.string(),
  AWSTraceHeader: z.string().optional(),
  SequenceNumber: z.string().optional(),
  MessageGroupId: z.string().optional(),
  MessageDeduplicationId: z.string().optional(),
  DeadLetterQueueSourceArn: z.string().optional(),
});

function toRecord(m: Message, eventSourceARN: string, awsRegion: string): SqsRecord | null {
  const attributes = systemAttributesSchema.safeParse(m.Attributes ?? {});
  if (!m.MessageId || !m.ReceiptHandle || m.Body === undefined || !attributes.success) return null;
  return {
    messageId: m.MessageId,
    receiptHandle: m.ReceiptHandle,
    body: m.Body,
    attributes: attributes.data,
    messageAttributes: lambdaMessageAttributes(m.MessageAttributes),
    md5OfBody: m.MD5OfBody ?? createHash('md5').update(m.Body, 'utf8').digest('hex'),
    ...(m.MD5OfMessageAttributes !== undefined ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion,
  };
}

/** Message attributes as Lambda passes them: camel-case keys, binary as base64, empty list fields. */
function lambdaMessageAttributes(attributes: Record<string, MessageAttributeValue> | undefined): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, a] of Object.entries(attributes ?? {})) {
    out[name] = {
      ...(a.StringValue !== undefined ? { stringValue: a.StringValue } : {}),
      ...(a.BinaryValue !== undefined ? { binaryValue: Buffer.from(a.BinaryValue).toString('base64') } : {}),
      stringListValues: a.StringListValues ?? [],
      binaryListValues: (a.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
      dataType: a.DataType ?? 'String',
    };
  }
  return out;
}

/**
 * At most `size` holders at once, in arrival order (p-limit underneath); `halt()` makes every waiting `take()` and
 * every later one resolve `null`. Waiters are kept in a set, not raced against one long-lived "halted" promise:
 * each race would leave a reaction on that promise until the poller stops, which grew the heap by every receive
 * (issue 9's soak, ~0.03 MB/s).
 *
 * @example
 * const release = await slots.take();
 * if (release) try { await work(); } finally { release(); }
 */
export class ReceiveSlots {
  readonly #limit: LimitFunction;
  readonly #waiting = new Set<(release: (() => void) | null) => void>();
  #halted = false;

  constructor(size: number) {
    this.#limit = pLimit(size);
  }

  /** Resolves with the slot's release once one is free, or `null` if the slots are (or become) halted. */
  take(): Promise<(() => void) | null> {
    return new Promise((give) => {
      if (this.#halted) return give(null);
      this.#waiting.add(give);
      void this.#limit(
        () =>
          new Promise<void>((release) => {
            // Halted while queued: nobody wants the slot any more.
            if (!this.#waiting.delete(give)) return release();
            give(release);
          }),
      );
    });
  }

  halt(): void {
    this.#halted = true;
    this.#limit.clearQueue();
    for (const give of this.#waiting) give(null);
    this.#waiting.clear();
  }

  /** Takes still waiting for a slot (what a halt would release). */
  get waiting(): number {
    return this.#waiting.size;
  }
}
