import pLimit from 'p-limit';
import type {
  Clock,
  ConnectionSender,
  ConnectionStore,
  DeadLetters,
  FanoutQueue,
  JobCheckpoints,
  Log,
  Metrics,
  QueueEntry,
  SubscriberIndex,
} from '../ports.js';
import { InvariantError, toError } from '../result.js';
import { requeueDelaySeconds } from './requeue.js';
import { deliver, emptyReport, type DeliveryReport, type DeliveryTools } from './deliver.js';
import { parseJob, serializeJob, type ChannelJob, type ConnectionsJob, type KeepAliveJob, type Payload } from './jobs.js';
import { decideKeepAlive, keepAliveEntry } from '../keepalive.js';
import { channelOrderKey, estimateRemaining, splitRemainder } from './ranges.js';
import { AdaptiveConcurrency } from './rate.js';

export interface FanoutConfig {
  /** Deliveries in flight per worker (the adaptive window's maximum). */
  readonly concurrency: number;
  readonly pageSize: number;
  /** How many ways a big channel's remaining range is split. */
  readonly buckets: number;
  /** Delivery attempts per connection, counting re-enqueued retries, before dead-lettering. */
  readonly maxAttempts: number;
  /** Tries per delivery inside one job before it is re-enqueued. */
  readonly inJobAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** A job hands over a continuation when less than this much invocation time remains. */
  readonly reserveMs: number;
}

export interface FanoutDeps {
  readonly index: SubscriberIndex;
  readonly connections: ConnectionStore;
  readonly queue: FanoutQueue;
  readonly deadLetters: DeadLetters;
  readonly checkpoints: JobCheckpoints;
  readonly sender: ConnectionSender;
  readonly clock: Clock;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  readonly log: Log;
  readonly metrics: Metrics;
  readonly config: FanoutConfig;
}

/** One queue message as the worker sees it. */
export interface QueueRecord {
  /** The queue's message id: stable across redeliveries, so it names the job for checkpoints and dedup. */
  readonly id: string;
  readonly body: string;
  /** FIFO message group; null on the unordered lane. */
  readonly group: string | null;
  /** How many times the queue has handed this message out (1 on the first delivery). */
  readonly receiveCount: number;
}

export interface FanoutWorker {
  /**
   * Processes a batch and returns the ids of the records that failed and must come back. Never throws.
   * Records of one FIFO group are processed in order, and once one fails the rest of its group is failed
   * unprocessed, so a retry cannot overtake it; different groups run concurrently.
   */
  processBatch(records: readonly QueueRecord[], remainingMs: () => number): Promise<string[]>;
}

type JobResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };
const DONE: JobResult = { ok: true };

/** A channel holding more than this many further pages (estimated) is split rather than paged by one job. */
const SPLIT_WHEN_REMAINING_PAGES = 2;
/** Retry jobs carry at most this many connection ids, to stay far below the queue's message size limit. */
const RETRY_JOB_MAX_CONNECTIONS = 100;
/** Checkpoints outlive any job: the longest a message can keep coming back (visibility × receives) is far less. */
const CHECKPOINT_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Creates the fan-out worker. Build it once per process (per Lambda container): its limiter and adaptive window
 * are shared by every job it runs, which is what bounds its calls to the Management API.
 */
export function createFanoutWorker(deps: FanoutDeps): FanoutWorker {
  const rate = new AdaptiveConcurrency(deps.config.concurrency, deps.clock);
  const tools: DeliveryTools = {
    sender: deps.sender,
    metrics: deps.metrics,
    limit: pLimit(deps.config.concurrency),
    rate,
    clock: deps.clock,
    sleep: deps.sleep,
    random: deps.random,
    retry: { inJobAttempts: deps.config.inJobAttempts, baseMs: deps.config.retryBaseMs, maxMs: deps.config.retryMaxMs },
  };
  const groupLimit = pLimit(10);

  async function processBatch(records: readonly QueueRecord[], remainingMs: () => number): Promise<string[]> {
    // A short function timeout must still leave room to work: keep at most a quarter of it in reserve.
    const reserveMs = Math.min(deps.config.reserveMs, remainingMs() / 4);
    const groups = new Map<string, QueueRecord[]>();
    for (const record of records) {
      const key = record.group ?? `record:${record.id}`;
      const list = groups.get(key);
      if (list) list.push(record);
      else groups.set(key, [record]);
    }
    const failed: string[] = [];
    await groupLimit.map([...groups.values()], async (group) => {
      for (let i = 0; i < group.length; i++) {
        const record = group[i];
        if (record === undefined) continue;
        const result = await processRecord(record, remainingMs, reserveMs);
        if (!result.ok) {
          deps.log.warn('job failed; it and the rest of its group go back to the queue', {
            jobId: record.id,
            reason: result.reason,
            following: group.length - i - 1,
          });
          for (const rest of group.slice(i)) failed.push(rest.id);
          return;
        }
      }
    });
    return failed;
  }

  async function processRecord(record: QueueRecord, remainingMs: () => number, reserveMs: number): Promise<JobResult> {
    try {
      const parsed = parseJob(record.body);
      if (!parsed.ok) {
        deps.log.error('queue message is not a job; dead-lettering it', { jobId: record.id, reason: parsed.error.message });
        const dead = await deps.deadLetters.deadLetter([{ body: record.body, reason: parsed.error.message }]);
        return dead.ok ? DONE : { ok: false, reason: `dead-lettering failed: ${dead.error.message}` };
      }
      const job = parsed.value;
      switch (job.kind) {
        case 'channel':
          return await processChannelJob(job, record, remainingMs, reserveMs);
        case 'connections':
          return await processConnectionsJob(job);
        case 'keepalive':
          return await processKeepAliveJob(job);
      }
    } catch (thrown) {
      const error = toError(thrown);
      deps.log.error('job threw; it will be retried by the queue', { jobId: record.id, error: error.message, stack: error.stack });
      return { ok: false, reason: error.message };
    }
  }

  async function processChannelJob(job: ChannelJob, record: QueueRecord, remainingMs: () => number, reserveMs: number): Promise<JobResult> {
    const { config, log } = deps;
    let cursor = job.cursor;
    let checkpointed = false;
    if (record.receiveCount > 1) {
      const saved = await deps.checkpoints.load(record.id);
      if (saved.ok && saved.value !== null) {
        cursor = saved.value;
        checkpointed = true;
        log.info('resuming a redelivered job after its last finished page', { jobId: record.id, channel: job.channel });
      }
    }
    let page = await deps.index.pageSubscribers(job.channel, job.range, cursor, config.pageSize);
    let first = true;
    for (let pageNo = 0; ; pageNo++) {
      if (!page.ok) {
        const reason = `reading subscribers failed (${page.error.kind}): ${page.error.message}`;
        if (page.error.kind !== 'invalid') return { ok: false, reason };
        // `invalid` (a malformed cursor, a missing table) fails the same way on every retry: retrying would hold
        // the job's FIFO group for maxReceiveCount × visibility and then reach the DLQ without a reason.
        log.error('a channel job cannot be read; dead-lettering it', { jobId: record.id, channel: job.channel, reason });
        const dead = await deps.deadLetters.deadLetter([{ body: record.body, reason }]);
        return dead.ok ? DONE : { ok: false, reason: `${reason}; dead-lettering failed: ${dead.error.message}` };
      }
      const current = page.value;
      let stopAfterThisPage = false;
      if (first && current.cursor !== null && current.lastBucket !== null) {
        const remaining = estimateRemaining(job.range, current.lastBucket, current.connectionIds.length);
        if (remaining > SPLIT_WHEN_REMAINING_PAGES * config.pageSize && job.partition.to - job.partition.from > 1) {
          const pieces = splitRemainder(job.partition, current.lastBucket, current.cursor, config.buckets);
          const split = await deps.queue.enqueue(
            pieces.map((piece, i) => ({
              orderKey: channelOrderKey(job.channel, piece.partition),
              dedupId: `${record.id}:split:${i}`,
              job: { ...job, partition: piece.partition, range: piece.range, cursor: piece.cursor },
            })),
          );
          if (!split.ok) return { ok: false, reason: `splitting failed: ${split.error.message}` };
          deps.metrics.count('JobsSplit');
          log.debug('split a channel job', {
            jobId: record.id,
            channel: job.channel,
            pieces: pieces.length,
            estimatedRemaining: remaining,
          });
          stopAfterThisPage = true;
        }
      }
      first = false;
      // Read the next page while this one is delivered: paging then costs no time on the critical path.
      const next =
        !stopAfterThisPage && current.cursor !== null
          ? deps.index.pageSubscribers(job.channel, job.range, current.cursor, config.pageSize)
          : null;
      const report = await deliver(tools, current.connectionIds, [job.payload], emptyReport());
      const settled = await settle(report, job.payload, job.publishId, job.publishedAt, 0);
      if (!settled.ok) {
        await next; // do not leave a query running into the next invocation
        return settled;
      }
      if (stopAfterThisPage || current.cursor === null) {
        if (checkpointed || pageNo > 0) await deps.checkpoints.clear(record.id);
        deps.metrics.timing('PublishLatency', deps.clock() - job.publishedAt);
        return DONE;
      }
      if (remainingMs() < reserveMs) {
        await next;
        const continued = await deps.queue.enqueue([
          {
            orderKey: channelOrderKey(job.channel, job.partition),
            dedupId: `${record.id}:continue:${current.cursor}`,
            job: { ...job, cursor: current.cursor },
          },
        ]);
        if (!continued.ok) return { ok: false, reason: `handing over the continuation failed: ${continued.error.message}` };
        deps.metrics.count('JobsContinued');
        return DONE;
      }
      const saved = await deps.checkpoints.save(record.id, current.cursor, Math.floor((deps.clock() + CHECKPOINT_TTL_MS) / 1000));
      if (saved.ok) checkpointed = true;
      else
        log.warn('could not save a job checkpoint; a crash would resend more than one page', {
          jobId: record.id,
          detail: saved.error.message,
        });
      // Only a last page has no next one, and a last page returned above: re-reading `page` would loop forever.
      if (next === null) throw new InvariantError('PAGE_WITHOUT_NEXT', 'a channel job went on past its last page');
      page = await next;
    }
  }

  async function processConnectionsJob(job: ConnectionsJob): Promise<JobResult> {
    const report = await deliver(
      tools,
      job.connectionIds,
      job.payloads,
      emptyReport(),
      job.graceUntil !== undefined ? { graceUntil: job.graceUntil } : {},
    );
    return settle(report, null, job.publishId, job.publishedAt, job.attempt);
  }

  /** Sends a due heartbeat and schedules the next; ends the chain when the connection or its keep-alive is gone. */
  async function processKeepAliveJob(job: KeepAliveJob): Promise<JobResult> {
    const found = await deps.connections.getConnection(job.connectionId);
    if (!found.ok) return { ok: false, reason: `reading the connection failed: ${found.error.message}` };
    const now = deps.clock();
    const decision = decideKeepAlive(job, found.value?.keepAlive ?? null, found.value?.lastActivityAt, now);
    if (decision.kind === 'stop') {
      deps.log.debug('keep-alive chain ended', { connectionId: job.connectionId, reason: decision.reason });
      return DONE;
    }
    const keepAlive = found.value?.keepAlive;
    if (!keepAlive) return DONE;
    let nextDueAt = decision.kind === 'wait' ? decision.dueAt : decision.nextDueAt;
    if (decision.kind === 'send') {
      const report = await deliver(tools, [job.connectionId], [keepAlive.payload], emptyReport());
      if (report.gone.length > 0) {
        const deleted = await deps.connections.deleteConnections(report.gone);
        if (!deleted.ok)
          deps.log.warn('could not delete a gone connection; TTL will', { connectionId: job.connectionId, detail: deleted.error.message });
        return DONE;
      }
      if (report.fatal !== null) return { ok: false, reason: report.fatal };
      // A heartbeat that can never be delivered (413) would fail the same way every period: end the chain.
      const rejected = report.rejected[0];
      if (rejected !== undefined) {
        deps.log.error('a heartbeat can never be delivered; heartbeats stopped for this connection', {
          connectionId: job.connectionId,
          reason: rejected.reason,
        });
        return DONE;
      }
      // A heartbeat that could not go out now is simply tried again soon; the next one is not worth a DLQ entry.
      if (report.deferred.length > 0) nextDueAt = now + Math.min(keepAlive.timeoutSeconds * 1000, 10_000);
    }
    const queued = await deps.queue.enqueue([keepAliveEntry(job.connectionId, keepAlive, nextDueAt, now)]);
    return queued.ok ? DONE : { ok: false, reason: `scheduling the next heartbeat failed: ${queued.error.message}` };
  }

  /**
   * Carries out what a delivery report asks for: deletes gone connections, re-enqueues deferred deliveries with a
   * delay (or dead-letters them after the last attempt), and fails the job on a fatal gateway error.
   */
  async function settle(
    report: DeliveryReport,
    channelPayload: Payload | null,
    publishId: string,
    publishedAt: number,
    attempt: number,
  ): Promise<JobResult> {
    const { log, metrics } = deps;
    if (report.fatal !== null) return { ok: false, reason: report.fatal };
    for (const r of report.rejected)
      log.error('a payload can never be delivered; skipped', { connectionId: r.connectionId, reason: r.reason, publishId });
    if (report.gone.length > 0) {
      const deleted = await deps.connections.deleteConnections(report.gone);
      if (!deleted.ok)
        log.warn('could not delete gone connections; TTL will', { count: report.gone.length, detail: deleted.error.message });
    }
    if (report.deferred.length === 0) return DONE;
    const nextAttempt = attempt + 1;
    const byPayloads = groupDeferred(report.deferred, channelPayload);
    const jobs: ConnectionsJob[] = [];
    for (const { payloads, connectionIds, reason } of byPayloads) {
      for (let i = 0; i < connectionIds.length; i += RETRY_JOB_MAX_CONNECTIONS) {
        jobs.push({
          v: 1,
          kind: 'connections',
          connectionIds: connectionIds.slice(i, i + RETRY_JOB_MAX_CONNECTIONS),
          payloads,
          attempt: nextAttempt,
          lastError: reason,
          publishId,
          publishedAt,
        });
      }
    }
    if (nextAttempt >= deps.config.maxAttempts) {
      // Stored with the attempt count reset: once an operator fixes the cause and redrives the dead-letter
      // queue, the job gets a full set of attempts again. The count and the last error live in the reason.
      const dead = await deps.deadLetters.deadLetter(
        jobs.map((job) => ({
          body: serializeJob({ ...job, attempt: 0 }),
          reason: `delivery failed ${nextAttempt} times: ${job.lastError ?? 'unknown'}`,
        })),
      );
      if (!dead.ok) return { ok: false, reason: `dead-lettering failed: ${dead.error.message}` };
      const count = jobs.reduce((n, j) => n + j.connectionIds.length, 0);
      metrics.count('DeliveriesDeadLettered', count);
      log.error('deliveries dead-lettered after the last attempt', { publishId, connections: count, attempts: nextAttempt });
      return DONE;
    }
    const entries: QueueEntry[] = jobs.map((job) => ({ job, delaySeconds: requeueDelaySeconds(attempt, deps.random) }));
    const queued = await deps.queue.enqueue(entries);
    if (!queued.ok) return { ok: false, reason: `re-enqueueing deferred deliveries failed: ${queued.error.message}` };
    log.info('deferred deliveries re-enqueued', { publishId, jobs: jobs.length, attempt: nextAttempt });
    return DONE;
  }

  return { processBatch };
}

/** Deferred deliveries that still need the same payloads travel together in one retry job. */
function groupDeferred(
  deferred: DeliveryReport['deferred'],
  channelPayload: Payload | null,
): { payloads: readonly Payload[]; connectionIds: string[]; reason: string }[] {
  const groups = new Map<string, { payloads: readonly Payload[]; connectionIds: string[]; reason: string }>();
  for (const d of deferred) {
    const payloads = channelPayload !== null ? [channelPayload] : d.payloads;
    const key = JSON.stringify(payloads);
    const group = groups.get(key);
    if (group) group.connectionIds.push(d.connectionId);
    else groups.set(key, { payloads, connectionIds: [d.connectionId], reason: d.reason });
  }
  return [...groups.values()];
}

/** Tries per delivery inside a job before it is handed back to the queue for a delayed retry. */
export const IN_JOB_ATTEMPTS = 3;

/**
 * The worker's configuration from the deployment's tunables (CDK context on AWS, environment variables locally),
 * so both composition roots build the same worker.
 */
export function fanoutConfigFromSettings(
  settings: {
    readonly fanoutConcurrency: number;
    readonly fanoutPageSize: number;
    readonly fanoutBuckets: number;
    readonly fanoutMaxAttempts: number;
    readonly fanoutRetryBaseMs: number;
    readonly fanoutRetryMaxMs: number;
  },
  reserveMs = 10_000,
): FanoutConfig {
  return {
    concurrency: settings.fanoutConcurrency,
    pageSize: settings.fanoutPageSize,
    buckets: settings.fanoutBuckets,
    maxAttempts: settings.fanoutMaxAttempts,
    inJobAttempts: IN_JOB_ATTEMPTS,
    retryBaseMs: settings.fanoutRetryBaseMs,
    retryMaxMs: settings.fanoutRetryMaxMs,
    reserveMs,
  };
}
