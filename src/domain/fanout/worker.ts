import pLimit from 'p-limit';
import type {
  ChannelActivity,
  ChannelSequencer,
  ChannelHistory,
  ClientMessageLane,
  ItemIdCache,
  KeepAliveClaim,
  Clock,
  ConnectionSender,
  ConnectionStore,
  DeadLetters,
  FanoutQueue,
  JobCheckpoints,
  Log,
  Metrics,
  SubscriberIndex,
  SubscriptionStore,
} from '../ports.js';
import { forgetConnections } from '../forget-connections.js';
import { decideKeepAlive, keepAliveEntry } from '../keepalive.js';
import { backendPollEntry, decideBackendPoll } from '../backend-poll.js';
import { toError } from '../result.js';
import { DONE, failed, runInFifoGroups, type JobResult } from './batch.js';
import { runCatchUpJob } from './catch-up.js';
import { runChannelJob } from './channel-job.js';
import { runReleaseJob } from './sequencer.js';
import type { HistoryConfig } from '../history.js';
import { deliver, emptyReport, type DeliveryTools } from './deliver.js';
import { parseJob, type BackendPollJob, type ConnectionsJob, type FanoutJob, type KeepAliveJob } from './jobs.js';
import type { QueueEntry } from '../ports.js';
import { AdaptiveConcurrency } from './rate.js';
import { applyDeliveryReport } from './settle.js';

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
  /**
   * How long after a subscriber's `connectedAt` a 410 means "its `$connect` has not returned yet" and is retried:
   * the backend's time to answer the OPEN plus the open grace.
   */
  readonly joinGraceMs: number;
  /** How long a channel remembers a published item `id` and drops a repeat (Pushpin's `id_cache_ttl`); 0 = off. */
  readonly idCacheTtlMs: number;
  /** Channel history and resume (`domain/history.ts`). */
  readonly history: HistoryConfig;
  /** How long an item waits for its `prev-id` predecessor (Pushpin's `message_wait`); 0 turns sequencing off. */
  readonly messageWaitMs: number;
}

export interface FanoutDeps {
  readonly index: SubscriberIndex;
  readonly connections: ConnectionStore;
  readonly queue: FanoutQueue;
  readonly deadLetters: DeadLetters;
  readonly checkpoints: JobCheckpoints;
  readonly itemIds: ItemIdCache;
  readonly history: ChannelHistory;
  /** Pushpin's sequencer state (`prev-id`). */
  readonly sequencer: ChannelSequencer;
  /**
   * When channels were last published to (channel jobs mark them; idle heartbeats compare with them) and which
   * channels a connection has.
   */
  readonly activity: ChannelActivity & Pick<SubscriptionStore, 'listSubscriptions'>;
  /** Ends resumes (catch-up jobs); the rest of the subscription store is the session's. */
  readonly resumes: Pick<SubscriptionStore, 'finishResume'>;
  readonly sender: ConnectionSender;
  /** The ordered lane of client messages: backend polls and publish refreshes ask for a request there. */
  readonly polls: ClientMessageLane;
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
  /** FIFO `SequenceNumber`: grows in send order within the message group; null on the unordered lane. */
  readonly sequence: string | null;
}

export interface FanoutWorker {
  /**
   * Processes a batch and returns the ids of the records that failed and must come back. Never throws.
   * Records of one FIFO group are processed in order, and once one fails the rest of its group is failed
   * unprocessed, so a retry cannot overtake it; different groups run concurrently (`runInFifoGroups`).
   */
  processBatch(records: readonly QueueRecord[], remainingMs: () => number): Promise<string[]>;
}

/** What every job step gets: the worker's dependencies, its shared delivery tools, and the invocation's time. */
export interface JobContext {
  readonly deps: FanoutDeps;
  readonly tools: DeliveryTools;
  /** Milliseconds left in this invocation. */
  readonly remainingMs: () => number;
  /** A job hands its rest over to a continuation once `remainingMs()` drops below this. */
  readonly reserveMs: number;
  /** Channel → when this worker last marked it published (it writes a mark at most once a second). */
  readonly recentMarks: Map<string, number>;
}

/** FIFO groups of one batch processed at once. */
const GROUP_CONCURRENCY = 10;

/**
 * Creates the fan-out worker. Build it once per process (per Lambda container): its limiter and adaptive window
 * are shared by every job it runs, which is what bounds its calls to the Management API.
 */
export function createFanoutWorker(deps: FanoutDeps): FanoutWorker {
  const tools: DeliveryTools = {
    sender: deps.sender,
    polls: deps.polls,
    metrics: deps.metrics,
    limit: pLimit(deps.config.concurrency),
    rate: new AdaptiveConcurrency(deps.config.concurrency, deps.clock),
    clock: deps.clock,
    sleep: deps.sleep,
    random: deps.random,
    retry: { inJobAttempts: deps.config.inJobAttempts, baseMs: deps.config.retryBaseMs, maxMs: deps.config.retryMaxMs },
  };
  const groupLimit = pLimit(GROUP_CONCURRENCY);
  const recentMarks = new Map<string, number>();

  return {
    processBatch(records, remainingMs) {
      // A short function timeout must still leave room to work: keep at most a quarter of it in reserve.
      const ctx: JobContext = { deps, tools, remainingMs, reserveMs: Math.min(deps.config.reserveMs, remainingMs() / 4), recentMarks };
      return runInFifoGroups(groupLimit, records, (record) => runJob(ctx, record), deps.log, catchUpConnection);
    },
  };
}

/**
 * Catch-up jobs for different connections commute: each replays to its own connection and ends its own resume, and
 * none changes what another reads. Run side by side, a burst of reconnecting clients holds its channel for about
 * one replay instead of one replay each.
 */
function catchUpConnection(record: QueueRecord): string | null {
  if (!record.body.includes('"catchup"')) return null;
  const parsed = parseJob(record.body);
  return parsed.ok && parsed.value.kind === 'catchup' ? parsed.value.connectionId : null;
}

/** Parses a record and runs its job's step. Never throws: a throw is a failed job, retried by the queue. */
async function runJob(ctx: JobContext, record: QueueRecord): Promise<JobResult> {
  const { deps } = ctx;
  try {
    const parsed = parseJob(record.body);
    if (!parsed.ok) {
      deps.log.error('queue message is not a job; dead-lettering it', { jobId: record.id, reason: parsed.error.message });
      const dead = await deps.deadLetters.deadLetter([{ body: record.body, reason: parsed.error.message }]);
      return dead.ok ? DONE : failed(`dead-lettering failed: ${dead.error.message}`);
    }
    return await runStep(ctx, parsed.value, record);
  } catch (thrown) {
    const error = toError(thrown);
    deps.log.error('job threw; it will be retried by the queue', { jobId: record.id, error: error.message, stack: error.stack });
    return failed(error.message);
  }
}

/** The step for each kind of job. A new job kind does not compile until it has a case here. */
function runStep(ctx: JobContext, job: FanoutJob, record: QueueRecord): Promise<JobResult> {
  switch (job.kind) {
    case 'channel':
      return runChannelJob(ctx, job, record);
    case 'connections':
      return runConnectionsJob(ctx, job);
    case 'keepalive':
      return runKeepAliveJob(ctx, job);
    case 'catchup':
      return runCatchUpJob(ctx, job, record);
    case 'release':
      return runReleaseJob(ctx, job, record);
    case 'poll':
      return runBackendPollJob(ctx, job);
  }
}

/** Delivers a connections job's payloads, in order, to its connections (retries of an OPEN reply within grace). */
async function runConnectionsJob(ctx: JobContext, job: ConnectionsJob): Promise<JobResult> {
  const options = job.graceUntil !== undefined ? { graceUntil: job.graceUntil } : {};
  const report = await deliver(ctx.tools, job.connectionIds, job.payloads, emptyReport(), options);
  return applyDeliveryReport(ctx.deps, {
    report,
    origin: { publishId: job.publishId, publishedAt: job.publishedAt },
    attempt: job.attempt,
    channelPayload: null,
  });
}

/** Sends a due heartbeat and schedules the next; ends the chain when the connection or its keep-alive is gone. */
async function runKeepAliveJob(ctx: JobContext, job: KeepAliveJob): Promise<JobResult> {
  const { deps } = ctx;
  const found = await deps.connections.getConnection(job.connectionId);
  if (!found.ok) return failed(`reading the connection failed: ${found.error.message}`);
  const now = deps.clock();
  const lastSentAt =
    found.value?.keepAlive?.mode === 'idle' ? await lastSentTo(ctx, job.connectionId, found.value.lastActivityAt) : undefined;
  const decision = decideKeepAlive(job, found.value?.keepAlive ?? null, lastSentAt ?? found.value?.lastActivityAt, now);
  if (decision.kind === 'stop') {
    deps.log.debug('keep-alive chain ended', { connectionId: job.connectionId, reason: decision.reason });
    return DONE;
  }
  const keepAlive = found.value?.keepAlive;
  if (!keepAlive) return DONE;
  const claim = { since: job.since, generation: job.generation ?? 0 };
  const unclaimed = await claimChain(ctx, job.connectionId, claim);
  if (unclaimed !== null) return unclaimed;
  let nextDueAt = decision.kind === 'wait' ? decision.dueAt : decision.nextDueAt;
  if (decision.kind === 'due') {
    const report = await deliver(ctx.tools, [job.connectionId], [keepAlive.payload], emptyReport());
    if (report.gone.length > 0) {
      await forgetConnections(deps, report.gone, 'gone (410) when its heartbeat was due');
      return DONE;
    }
    if (report.fatal !== null) return failed(report.fatal);
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
  return continueChain(ctx, job.connectionId, claim, keepAliveEntry(job.connectionId, keepAlive, nextDueAt, now, claim.generation + 1));
}

/**
 * Queues an empty backend request on the connection's lane when its `Keep-Alive-Interval` poll is due, and
 * schedules the next; ends the chain when the connection, or its polling, is gone.
 */
async function runBackendPollJob(ctx: JobContext, job: BackendPollJob): Promise<JobResult> {
  const { deps } = ctx;
  const found = await deps.connections.getConnection(job.connectionId);
  if (!found.ok) return failed(`reading the connection failed: ${found.error.message}`);
  const poll = found.value?.detached === true ? null : (found.value?.backendPoll ?? null);
  const now = deps.clock();
  const decision = decideBackendPoll(job, poll, found.value?.lastExchangeAt, now);
  if (decision.kind === 'stop' || poll === null) {
    deps.log.debug('backend poll chain ended', { connectionId: job.connectionId, reason: decision.kind === 'stop' ? decision.reason : '' });
    return DONE;
  }
  const claim: KeepAliveClaim = { since: job.since, generation: job.generation ?? 0, chain: 'poll' };
  const unclaimed = await claimChain(ctx, job.connectionId, claim);
  if (unclaimed !== null) return unclaimed;
  if (decision.kind === 'due') {
    // The dedup id names this generation: a retry of this job after a failed schedule does not poll twice.
    const asked = await deps.polls.enqueue(
      { v: 1, connectionId: job.connectionId, poll: 'interval', receivedAt: now },
      `poll:${job.connectionId}:${job.since}:${claim.generation}`,
    );
    if (!asked.ok) {
      await deps.connections.releaseKeepAlive(job.connectionId, claim);
      return failed(`queueing the backend poll failed: ${asked.error.message}`);
    }
  }
  const next = decision.kind === 'wait' ? decision.dueAt : decision.nextDueAt;
  return continueChain(ctx, job.connectionId, claim, backendPollEntry(job.connectionId, poll, next, now, claim.generation + 1));
}

/**
 * Claims a generation of a connection's chain before any effect: a duplicate delivery of a job (standard queue, a
 * retried batch) finds it claimed and ends here, instead of acting twice and forking a second chain. `null` when
 * claimed; otherwise the job's result.
 */
async function claimChain(ctx: JobContext, connectionId: string, claim: KeepAliveClaim): Promise<JobResult | null> {
  const claimed = await ctx.deps.connections.claimKeepAlive(connectionId, claim);
  if (!claimed.ok) return failed(`claiming the ${claim.chain ?? 'heartbeat'} chain failed: ${claimed.error.message}`);
  if (claimed.value) return null;
  ctx.deps.log.debug('duplicate chain job ended', { connectionId, chain: claim.chain ?? 'heartbeat', generation: claim.generation });
  return DONE;
}

/** Schedules a chain's next job; if that fails, releases the claim so the queue's retry of this job can claim again. */
async function continueChain(ctx: JobContext, connectionId: string, claim: KeepAliveClaim, next: QueueEntry): Promise<JobResult> {
  const queued = await ctx.deps.queue.enqueue([next]);
  if (queued.ok) return DONE;
  await ctx.deps.connections.releaseKeepAlive(connectionId, claim);
  return failed(`scheduling the next ${claim.chain ?? 'heartbeat'} failed: ${queued.error.message}`);
}

/**
 * The last time something was sent to the connection, as far as the store knows: its last direct send (a reply's
 * messages, a heartbeat: `lastActivityAt`) or the last publish to one of its channels. Pushpin's idle timer
 * restarts on every frame sent to the client, so a busy channel's subscribers get no heartbeats. On a read error,
 * the direct send alone (a heartbeat too many beats a connection lost).
 */
async function lastSentTo(ctx: JobContext, connectionId: string, lastActivityAt: number | undefined): Promise<number | undefined> {
  const { activity, log } = ctx.deps;
  const channels = await activity.listSubscriptions(connectionId);
  const marks = channels.ok && channels.value.length > 0 ? await activity.lastPublished(channels.value) : null;
  if (!channels.ok || (marks !== null && !marks.ok)) {
    log.debug('could not read when the connection last got a publish; heartbeat timing from its direct sends', { connectionId });
    return lastActivityAt;
  }
  const published = marks === null || !marks.ok ? [] : [...marks.value.values()];
  const latest = Math.max(lastActivityAt ?? 0, ...published);
  return latest > 0 ? latest : undefined;
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
    readonly backendTimeoutMs: number;
    readonly openGraceMs: number;
    readonly idCacheTtlSeconds: number;
    readonly historyTtlSeconds: number;
    readonly historyMaxItems: number;
    readonly messageWaitMs: number;
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
    joinGraceMs: settings.backendTimeoutMs + settings.openGraceMs,
    idCacheTtlMs: settings.idCacheTtlSeconds * 1000,
    history: { ttlMs: settings.historyTtlSeconds * 1000, maxItems: settings.historyMaxItems },
    messageWaitMs: settings.messageWaitMs,
  };
}
