/** The fan-out queue and the dead-letter queue, recording what was enqueued. */
import { serializeJob, type FanoutJob } from '#src/domain/fanout/jobs.js';
import type { QueueRecord } from '#src/domain/fanout/worker.js';
import type {
  ClientMessageLane,
  DeadLetters,
  FanoutQueue,
  QueueEntry,
  QueueError,
  Redelivery,
  RedeliveryScheduler,
} from '#src/domain/ports.js';
import type { LaneMessage } from '#src/domain/session/lane.js';
import { err, ok, type Result } from '#src/domain/result.js';
import { Failures, queueError } from './failures.js';

/** A queued entry as the fake keeps it: the entry itself, its serialized body and a message id. */
export interface QueuedMessage {
  readonly messageId: string;
  readonly entry: QueueEntry;
  readonly body: string;
  /** Its FIFO sequence number (one counter for the queue, like SQS's, growing in send order). */
  readonly sequence: string;
}

/**
 * `FanoutQueue` + `DeadLetters` in memory. Successful `enqueue` calls append to `queued` in order; a failing
 * call queues nothing. Like a FIFO queue, an ordered-lane entry whose `dedupId` was already seen is dropped
 * (listed in `deduplicated`). `take()` hands the queued messages out as worker records (and forgets them),
 * which lets a test drain the pipeline the way the event source mapping would.
 */
export class RecordingQueue implements FanoutQueue, DeadLetters, RedeliveryScheduler {
  readonly queued: QueuedMessage[] = [];
  /** Every `redeliverAfter` item, in call order. */
  readonly redeliveries: Redelivery[] = [];
  readonly deduplicated: QueueEntry[] = [];
  readonly dead: { readonly body: string; readonly reason: string }[] = [];
  /** Every call, failed or not: the entries each `enqueue` was given. */
  readonly enqueueCalls: (readonly QueueEntry[])[] = [];
  readonly #failures = new Failures<'enqueue' | 'deadLetter', QueueError>();
  readonly #dedupIds = new Set<string>();
  #next = 1;

  fail(method: 'enqueue' | 'deadLetter', error: QueueError = queueError(), times = Number.POSITIVE_INFINITY): this {
    this.#failures.set(method, error, times);
    return this;
  }
  failOnce(method: 'enqueue' | 'deadLetter', error: QueueError = queueError()): this {
    return this.fail(method, error, 1);
  }

  async redeliverAfter(items: readonly Redelivery[]): Promise<Result<void, QueueError>> {
    this.redeliveries.push(...items);
    return ok(undefined);
  }

  async enqueue(entries: readonly QueueEntry[]): Promise<Result<void, QueueError>> {
    this.enqueueCalls.push(entries);
    const failed = this.#failures.take('enqueue');
    if (failed) return err(failed);
    for (const entry of entries) {
      if (entry.delaySeconds === undefined && entry.dedupId !== undefined) {
        if (this.#dedupIds.has(entry.dedupId)) {
          this.deduplicated.push(entry);
          continue;
        }
        this.#dedupIds.add(entry.dedupId);
      }
      const n = this.#next++;
      this.queued.push({ messageId: `msg-${n}`, entry, body: serializeJob(entry.job), sequence: String(n) });
    }
    return ok(undefined);
  }

  async deadLetter(entries: readonly { readonly body: string; readonly reason: string }[]): Promise<Result<void, QueueError>> {
    const failed = this.#failures.take('deadLetter');
    if (failed) return err(failed);
    this.dead.push(...entries);
    return ok(undefined);
  }

  jobs(): FanoutJob[] {
    return this.queued.map((m) => m.entry.job);
  }
  entries(): QueueEntry[] {
    return this.queued.map((m) => m.entry);
  }

  /** Removes and returns up to `max` queued messages as worker records (group = orderKey unless delayed). */
  take(max = Number.POSITIVE_INFINITY): QueueRecord[] {
    const batch = this.queued.splice(0, Math.min(max, this.queued.length));
    return batch.map(asRecord);
  }
}

/**
 * A queued message as the worker gets it: its group is its order key unless it was delayed (the standard lane), and
 * its sequence one queue-wide counter, which grows in send order within every group as SQS FIFO's does.
 */
export function asRecord(m: QueuedMessage): QueueRecord {
  const ordered = m.entry.delaySeconds === undefined;
  return {
    id: m.messageId,
    body: m.body,
    group: ordered ? (m.entry.orderKey ?? null) : null,
    receiveCount: 1,
    sequence: ordered ? m.sequence : null,
  };
}

/**
 * `ClientMessageLane` in memory: each successful `enqueue` is kept (message and dedup id, in order); a dedup id
 * seen before is dropped, as SQS FIFO does within its window. `failNext` makes the next call fail (queues nothing).
 */
export class RecordingLane implements ClientMessageLane {
  readonly queued: { readonly message: LaneMessage; readonly dedupId: string }[] = [];
  #failures = 0;

  failNext(times = 1): void {
    this.#failures += times;
  }

  async enqueue(message: LaneMessage, dedupId: string): Promise<Result<void, QueueError>> {
    if (this.#failures > 0) {
      this.#failures--;
      return err(queueError('unavailable', 'lane unavailable (injected)'));
    }
    if (!this.queued.some((q) => q.dedupId === dedupId)) this.queued.push({ message, dedupId });
    return ok(undefined);
  }
}
