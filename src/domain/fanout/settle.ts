import { forgetConnections } from '../forget-connections.js';
import type { Payload } from '../message.js';
import type { QueueEntry } from '../ports.js';
import { DONE, failed, type JobResult } from './batch.js';
import type { DeliveryReport } from './deliver.js';
import { connectionsJob, serializeJob, type ConnectionsJob, type PublishOrigin } from './jobs.js';
import { requeueDelaySeconds } from './requeue.js';
import type { FanoutDeps } from './worker.js';

/** Retry jobs carry at most this many connection ids, to stay far below the queue's message size limit. */
const RETRY_JOB_MAX_CONNECTIONS = 100;

/** A finished delivery, with what its consequences need: which publish it was, and which attempt. */
export interface FinishedDelivery {
  readonly report: DeliveryReport;
  readonly origin: PublishOrigin;
  /** The attempt the report is of (0 for a first try); retries are queued as `attempt + 1`. */
  readonly attempt: number;
  /**
   * A channel job's single payload: every deferred connection retries with it. `null` for a connections job,
   * whose deferred connections each keep the payloads they had left.
   */
  readonly channelPayload: Payload | null;
  /** When the index said each connection was accepted: a 410 then forgets only that same connection. */
  readonly connectedAt?: ReadonlyMap<string, number>;
}

/**
 * Applies the consequences of a finished delivery: fails the job on a fatal sender error; logs payloads that can
 * never be delivered; forgets gone connections; re-enqueues deferred deliveries with a growing delay, or
 * dead-letters them once `maxAttempts` is reached (stored with the attempt count reset, so a redrive gets a full
 * set of attempts again).
 */
export async function applyDeliveryReport(deps: FanoutDeps, delivery: FinishedDelivery): Promise<JobResult> {
  const { log, metrics } = deps;
  const { report, origin, attempt } = delivery;
  const publishId = origin.publishId;
  if (report.fatal !== null) return failed(report.fatal);
  for (const r of report.rejected)
    log.error('a payload can never be delivered; skipped', { connectionId: r.connectionId, reason: r.reason, publishId });
  await forgetConnections(deps, report.gone, 'gone (410) during a delivery', 'warn', delivery.connectedAt);
  if (report.deferred.length === 0) return DONE;

  const nextAttempt = attempt + 1;
  const jobs = retryJobs(delivery, nextAttempt);
  if (nextAttempt >= deps.config.maxAttempts) {
    const dead = await deps.deadLetters.deadLetter(
      jobs.map((job) => ({
        body: serializeJob({ ...job, attempt: 0 }),
        reason: `delivery failed ${nextAttempt} times: ${job.lastError ?? 'unknown'}`,
      })),
    );
    if (!dead.ok) return failed(`dead-lettering failed: ${dead.error.message}`);
    const count = jobs.reduce((n, j) => n + j.connectionIds.length, 0);
    metrics.count('DeliveriesDeadLettered', count);
    log.error('deliveries dead-lettered after the last attempt', { publishId, connections: count, attempts: nextAttempt });
    return DONE;
  }
  const entries: QueueEntry[] = jobs.map((job) => ({ job, delaySeconds: requeueDelaySeconds(attempt, deps.random) }));
  const queued = await deps.queue.enqueue(entries);
  if (!queued.ok) return failed(`re-enqueueing deferred deliveries failed: ${queued.error.message}`);
  log.info('deferred deliveries re-enqueued', { publishId, jobs: jobs.length, attempt: nextAttempt });
  return DONE;
}

/** The retry jobs for the deferred deliveries: those needing the same payloads travel together, in chunks. */
function retryJobs(delivery: FinishedDelivery, attempt: number): ConnectionsJob[] {
  const groups = new Map<string, { payloads: readonly Payload[]; connectionIds: string[]; reason: string }>();
  for (const d of delivery.report.deferred) {
    const payloads = delivery.channelPayload !== null ? [delivery.channelPayload] : d.payloads;
    const key = JSON.stringify(payloads);
    const group = groups.get(key);
    if (group) group.connectionIds.push(d.connectionId);
    else groups.set(key, { payloads, connectionIds: [d.connectionId], reason: d.reason });
  }
  const jobs: ConnectionsJob[] = [];
  for (const { payloads, connectionIds, reason } of groups.values()) {
    for (let i = 0; i < connectionIds.length; i += RETRY_JOB_MAX_CONNECTIONS) {
      jobs.push(
        connectionsJob({
          connectionIds: connectionIds.slice(i, i + RETRY_JOB_MAX_CONNECTIONS),
          payloads,
          attempt,
          lastError: reason,
          ...delivery.origin,
        }),
      );
    }
  }
  return jobs;
}
