import { filterDelivery } from '../filters.js';
import { deliversLive, MAX_HISTORY_ID_BYTES } from '../history.js';
import { utf8ByteLength } from '../protocol/values.js';
import { isMessage, type Payload } from '../message.js';
import type { JobProgress, StoreError, Subscriber, SubscriberPage } from '../ports.js';
import { InvariantError, type Result } from '../result.js';
import { DONE, failed, type JobResult } from './batch.js';
import { deliver, emptyReport } from './deliver.js';
import { sequenceFresh } from './sequencer.js';
import { channelJobContinuation, channelJobEntry, channelJobPiece, type ChannelJob } from './jobs.js';
import { estimateRemaining, splitRemainder, WHOLE_SPACE } from './ranges.js';
import { applyDeliveryReport } from './settle.js';
import type { JobContext, QueueRecord } from './worker.js';

/** A channel holding more than this many further pages (estimated) is split rather than paged by one job. */
const SPLIT_WHEN_REMAINING_PAGES = 2;
/** A channel's "last published" mark is written at most this often by one worker. */
const MARK_EVERY_MS = 1_000;
/** Checkpoints outlive any job: the longest a message can keep coming back (visibility × receives) is far less. */
const CHECKPOINT_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * A channel job, page by page: resume from a checkpoint (a redelivered job), split the rest off to other workers
 * when the channel is large, deliver each page (reading the next one meanwhile), checkpoint after each page, and
 * hand the rest over to a continuation job when the invocation runs out of time.
 */
export async function runChannelJob(ctx: JobContext, queued: ChannelJob, record: QueueRecord): Promise<JobResult> {
  const { deps } = ctx;
  // A fresh publish takes its sequence from its queue record; its pieces and continuations carry it on.
  const job =
    queued.sequence === undefined && record.sequence !== null && isFresh(queued) ? { ...queued, sequence: record.sequence } : queued;
  if (await isRepeatedItem(ctx, job, record)) return DONE;
  if (isFresh(job)) {
    const step = await sequenceFresh(ctx, job, record);
    if (step.kind === 'stop') return step.result;
  }
  // Independent writes: side by side, so a publish waits for one store round trip here, not two.
  const [recorded] = await Promise.all([recordInHistory(ctx, job), markPublished(ctx, job)]);
  if (!recorded.ok) return recorded;
  const start = await resumeFromCheckpoint(ctx, job, record);
  if (start.handedOver) {
    await deps.checkpoints.clear(record.id);
    return DONE;
  }
  let checkpointed = start.checkpointed;
  let page = await readPage(ctx, job, start.cursor);
  for (let pageNo = 0; ; pageNo++) {
    if (!page.ok) return await unreadable(ctx, job, record, page.error);
    const current = page.value;
    let last = current.cursor === null || start.split;
    if (pageNo === 0 && !last) {
      const split = await splitIfLarge(ctx, job, record, current);
      if (!split.ok) return split;
      last = split.split;
      // Recorded before delivering: a redelivery (past FIFO's 5-minute deduplication) must not split again.
      if (split.split && (await checkpoint(ctx, record, { cursor: start.cursor, split: true, handedOver: false }))) checkpointed = true;
    }
    // Read the next page while this one is delivered: paging then costs no time on the critical path.
    const next = !last && current.cursor !== null ? readPage(ctx, job, current.cursor) : null;
    const delivered = await deliverPage(ctx, job, current.subscribers);
    if (!delivered.ok) {
      await next; // do not leave a query running into the next invocation
      return delivered;
    }
    if (last || current.cursor === null) {
      if (checkpointed || pageNo > 0) await deps.checkpoints.clear(record.id);
      deps.metrics.timing('PublishLatency', deps.clock() - job.publishedAt);
      return DONE;
    }
    if (ctx.remainingMs() < ctx.reserveMs) {
      await next;
      return handOver(ctx, job, record, current.cursor);
    }
    if (await checkpoint(ctx, record, { cursor: current.cursor, split: false, handedOver: false })) checkpointed = true;
    // Only a last page has no next one, and a last page returned above: re-reading `page` would loop forever.
    if (next === null) throw new InvariantError('PAGE_WITHOUT_NEXT', 'a channel job went on past its last page');
    page = await next;
  }
}

/**
 * Pushpin's id cache: a fresh publish whose item `id` this channel already saw within `idCacheTtlMs` (from
 * another publish) is dropped. Checked once per publish, by the job that starts it (not by its pieces or
 * continuations); a redelivery of that job holds the same claim, so it is not mistaken for a repeat. When the
 * cache cannot be read the item is delivered: a duplicate beats a loss.
 */
async function isRepeatedItem(ctx: JobContext, job: ChannelJob, record: QueueRecord): Promise<boolean> {
  const { deps } = ctx;
  const ttl = deps.config.idCacheTtlMs;
  // A released item was checked when it was first published (and held).
  if (job.itemId === undefined || ttl <= 0 || !isFresh(job) || job.released === true) return false;
  const now = deps.clock();
  const seen = await deps.itemIds.rememberItemId(job.channel, job.itemId, record.id, now, now + ttl);
  if (!seen.ok) {
    deps.log.warn('could not check the item id cache; delivering', { channel: job.channel, id: job.itemId, detail: seen.error.message });
    return false;
  }
  if (seen.value === 'first') return false;
  deps.log.info('dropped a publish whose item id this channel saw within idCacheTtlSeconds', { channel: job.channel, id: job.itemId });
  deps.metrics.count('ItemsDeduplicated');
  return true;
}

/** The job that starts a publish: the whole space, from the start (not a piece or a continuation). */
function isFresh(job: ChannelJob): boolean {
  return job.cursor === null && job.partition.from === WHOLE_SPACE.from && job.partition.to === WHOLE_SPACE.to;
}

/**
 * Keeps a fresh publish's item in the channel's history (one write per publish), before any delivery: a resume
 * queued behind this job must find it. Idempotent, so a redelivered job writes it again harmlessly. A failed write
 * fails the job (the queue retries it), because a history with a hole would make a resume silently skip an item.
 */
async function recordInHistory(ctx: JobContext, job: ChannelJob): Promise<JobResult> {
  const { deps } = ctx;
  const { ttlMs } = deps.config.history;
  const { payload, itemId, sequence } = job;
  // Only messages with an `id` are kept: `since` names an id, and a close or a refresh is not part of a channel's content.
  if (ttlMs <= 0 || !isFresh(job) || sequence === undefined || itemId === undefined || !isMessage(payload)) return DONE;
  if (utf8ByteLength(itemId) > MAX_HISTORY_ID_BYTES) {
    deps.log.info('an item id is too long to keep in history; the item is delivered but not kept', {
      channel: job.channel,
      publishId: job.publishId,
    });
    return DONE;
  }
  const written = await deps.history.record({
    channel: job.channel,
    sequence,
    id: itemId,
    publishedAt: job.publishedAt,
    message: payload,
    expiresAt: deps.clock() + ttlMs,
  });
  if (!written.ok) return failed(`recording the item in the channel's history failed (${written.error.kind}): ${written.error.message}`);
  deps.metrics.count('HistoryRecorded');
  return DONE;
}

/**
 * Marks the channel as just published to (once per publish, by the job that starts it), which idle heartbeats of
 * its subscribers compare with. Best effort: a lost mark only makes a heartbeat come early.
 */
async function markPublished(ctx: JobContext, job: ChannelJob): Promise<void> {
  if (!isFresh(job)) return;
  // A mark a second old is as good for a heartbeat (periods are seconds): a busy channel writes once a second.
  const now = ctx.deps.clock();
  const marks = ctx.recentMarks;
  if (now - (marks.get(job.channel) ?? -Infinity) < MARK_EVERY_MS) return;
  if (marks.size >= 10_000) marks.clear();
  marks.set(job.channel, now);
  const marked = await ctx.deps.activity.markPublished(job.channel, now);
  if (!marked.ok) ctx.deps.log.debug('could not mark the channel as published; idle heartbeats may come early', { channel: job.channel });
}

/** Where to start: after the last page a previous delivery of this same queue message finished, if any. */
async function resumeFromCheckpoint(
  ctx: JobContext,
  job: ChannelJob,
  record: QueueRecord,
): Promise<JobProgress & { readonly checkpointed: boolean }> {
  if (record.receiveCount > 1) {
    const saved = await ctx.deps.checkpoints.load(record.id);
    if (saved.ok && saved.value !== null) {
      ctx.deps.log.info('resuming a redelivered job after what it finished', {
        jobId: record.id,
        channel: job.channel,
        split: saved.value.split,
        handedOver: saved.value.handedOver,
      });
      return { ...saved.value, cursor: saved.value.cursor ?? job.cursor, checkpointed: true };
    }
  }
  return { cursor: job.cursor, split: false, handedOver: false, checkpointed: false };
}

function readPage(ctx: JobContext, job: ChannelJob, cursor: string | null): Promise<Result<SubscriberPage, StoreError>> {
  return ctx.deps.index.pageSubscribers(job.channel, job.range, cursor, ctx.deps.config.pageSize);
}

/**
 * `invalid` (a malformed cursor, a missing table) fails the same way on every retry: retrying would hold the
 * job's FIFO group for maxReceiveCount × visibility and then reach the DLQ without a reason. Dead-letter it now.
 * Other read failures are transient: the queue retries the job.
 */
async function unreadable(ctx: JobContext, job: ChannelJob, record: QueueRecord, error: StoreError): Promise<JobResult> {
  const reason = `reading subscribers failed (${error.kind}): ${error.message}`;
  if (error.kind !== 'invalid') return failed(reason);
  ctx.deps.log.error('a channel job cannot be read; dead-lettering it', { jobId: record.id, channel: job.channel, reason });
  const dead = await ctx.deps.deadLetters.deadLetter([{ body: record.body, reason }]);
  return dead.ok ? DONE : failed(`${reason}; dead-lettering failed: ${dead.error.message}`);
}

/**
 * After the first page: when the rest of the range holds more than a few pages (estimated from the first page's
 * density), enqueue it as jobs over the partition's sub-partitions and stop after this page. `true` when split.
 */
async function splitIfLarge(
  ctx: JobContext,
  job: ChannelJob,
  record: QueueRecord,
  page: SubscriberPage,
): Promise<{ readonly ok: true; readonly split: boolean } | { readonly ok: false; readonly reason: string }> {
  const { config, log } = ctx.deps;
  if (page.cursor === null || page.lastBucket === null) return { ok: true, split: false };
  const remaining = estimateRemaining(job.range, page.lastBucket, page.subscribers.length);
  if (remaining <= SPLIT_WHEN_REMAINING_PAGES * config.pageSize || job.partition.to - job.partition.from <= 1) {
    return { ok: true, split: false };
  }
  const pieces = splitRemainder(job.partition, page.lastBucket, page.cursor, config.buckets);
  const split = await ctx.deps.queue.enqueue(
    pieces.map((piece, i) => channelJobEntry(channelJobPiece(job, piece), `${record.id}:split:${i}`)),
  );
  if (!split.ok) return { ok: false, reason: `splitting failed: ${split.error.message}` };
  ctx.deps.metrics.count('JobsSplit');
  log.debug('split a channel job', { jobId: record.id, channel: job.channel, pieces: pieces.length, estimatedRemaining: remaining });
  return { ok: true, split: true };
}

/**
 * Delivers the job's payload to one page of subscribers and applies the report (gone, deferred, fatal).
 *
 * Publish filters are decided here, per subscriber, from what its index entry carries (no read per subscriber):
 * a dropped or failed subscriber is skipped, one whose content a filter rewrote gets its own payload.
 *
 * A subscriber is in the index before its `$connect` returns, and until then API Gateway answers 410 for it: a
 * 410 for a subscriber that connected less than `joinGraceMs` ago is retried until then (it receives this
 * publish once its handshake completes) unless its record is gone (it left already: `$disconnect` deletes the
 * record first), and a 410 for an older one forgets it only if its record is still that same connection.
 */
async function deliverPage(ctx: JobContext, job: ChannelJob, page: readonly Subscriber[]): Promise<JobResult> {
  // Subscriptions catching up on history get this item from their catch-up job (or already had it), not here.
  const subscribers = page.every((s) => s.resume === undefined && s.liveAfter === undefined)
    ? page
    : page.filter((s) => deliversLive(s, job.sequence));
  const { recipients, payloadsOf } = applyFilters(ctx, job, subscribers);
  const connectionIds = recipients.map((s) => s.connectionId);
  const connectedAt = new Map(subscribers.flatMap((s) => (s.connectedAt !== undefined ? [[s.connectionId, s.connectedAt] as const] : [])));
  const { joinGraceMs } = ctx.deps.config;
  const graceUntil = (id: string): number | undefined => {
    const at = connectedAt.get(id);
    return at === undefined ? undefined : at + joinGraceMs;
  };
  // Still joining = its record is still this connection; on a read error keep the benefit of the doubt.
  const stillJoining = async (id: string): Promise<boolean> => {
    const found = await ctx.deps.connections.getConnection(id);
    return !found.ok || (found.value !== null && found.value.connectedAt === connectedAt.get(id));
  };
  const report = await deliver(ctx.tools, connectionIds, [job.payload], emptyReport(), { graceUntil, stillJoining, payloadsOf });
  return applyDeliveryReport(ctx.deps, {
    report,
    origin: { publishId: job.publishId, publishedAt: job.publishedAt },
    attempt: 0,
    // Retries of rewritten deliveries keep their own payload (each deferred entry carries it).
    channelPayload: payloadsOf.size > 0 ? null : job.payload,
    connectedAt,
  });
}

/**
 * The page's subscribers that get the item, and the payloads of those whose content filters rewrote it. Drops
 * are expected (skip-self) and not logged one by one; filter errors are logged once per page with the first.
 */
function applyFilters(
  ctx: JobContext,
  job: ChannelJob,
  subscribers: readonly Subscriber[],
): { recipients: Subscriber[]; payloadsOf: Map<string, readonly Payload[]> } {
  const payloadsOf = new Map<string, readonly Payload[]>();
  const contentFilters = job.contentFilters ?? null;
  if (contentFilters === null && subscribers.every((s) => s.filters === undefined)) return { recipients: [...subscribers], payloadsOf };
  const item = { meta: job.meta ?? {}, contentFilters };
  const recipients: Subscriber[] = [];
  let dropped = 0;
  const errors: string[] = [];
  for (const subscriber of subscribers) {
    const decision = filterDelivery(subscriber.filters, item, job.payload);
    if (decision.kind === 'drop') dropped++;
    else if (decision.kind === 'error') errors.push(decision.reason);
    else {
      recipients.push(subscriber);
      if (decision.payload !== job.payload) payloadsOf.set(subscriber.connectionId, [decision.payload]);
    }
  }
  if (errors.length > 0) {
    ctx.deps.log.info('publish filters failed for some subscribers; the item was skipped for them', {
      publishId: job.publishId,
      channel: job.channel,
      failed: errors.length,
      firstError: errors[0],
    });
  }
  if (dropped > 0) ctx.deps.log.debug('publish filters skipped subscribers', { publishId: job.publishId, channel: job.channel, dropped });
  return { recipients, payloadsOf };
}

/** Out of time: the rest of the range goes back to the queue as a continuation in the same ordering group. */
async function handOver(ctx: JobContext, job: ChannelJob, record: QueueRecord, cursor: string): Promise<JobResult> {
  const continued = await ctx.deps.queue.enqueue([channelJobEntry(channelJobContinuation(job, cursor), `${record.id}:continue:${cursor}`)]);
  if (!continued.ok) return failed(`handing over the continuation failed: ${continued.error.message}`);
  ctx.deps.metrics.count('JobsContinued');
  // Should this job still come back (its deletion lost), it must not hand over a second continuation.
  await checkpoint(ctx, record, { cursor, split: false, handedOver: true });
  return DONE;
}

/** Remembers how far the job got, so a redelivery resumes there. Best effort: `true` if saved. */
async function checkpoint(ctx: JobContext, record: QueueRecord, progress: JobProgress): Promise<boolean> {
  const { deps } = ctx;
  const saved = await deps.checkpoints.save(record.id, progress, Math.floor((deps.clock() + CHECKPOINT_TTL_MS) / 1000));
  if (!saved.ok) {
    deps.log.warn('could not save a job checkpoint; a crash would resend more than one page', {
      jobId: record.id,
      detail: saved.error.message,
    });
  }
  return saved.ok;
}
