/**
 * The catch-up job of a resume (`since` on a subscribe; see `domain/history.ts`): replay what the connection
 * missed, then make its subscription live, all while the channel's ordering group waits behind this job.
 */
import { forgetConnections } from '../forget-connections.js';
import { decideResume, type ResumeDecision } from '../history.js';
import { textMessage, type Payload } from '../message.js';
import type { Result } from '../result.js';
import type { StoreError } from '../ports.js';
import { DONE, failed, type JobResult } from './batch.js';
import { deliver, emptyReport } from './deliver.js';
import type { CatchUpJob } from './jobs.js';
import { applyDeliveryReport } from './settle.js';
import type { JobContext, QueueRecord } from './worker.js';

/** How long a catch-up waits for the channel index to show its subscription live before going on anyway. */
const INDEX_WAIT_MS = 5_000;

/**
 * Replays the retained items of `job.channel` published after `job.since` and before this job (its queue
 * sequence), in order, to the connection — or, when that is impossible, sends `recoveryFailed` if given — and then
 * ends the resume: the subscription becomes live for items after this job. Every publish queued before the
 * resume is in history by now (the channel's group ran it first) and every later one runs after this job, so the
 * client gets each item once, with no gap at the seam.
 *
 * A 410 within the connection's join grace is retried (an OPEN reply subscribes before `$connect` returns); a
 * gone connection is forgotten. A failed history read fails the job (the queue retries it); a replay that could
 * not be finished in the job is retried later as a connections job, like any deferred delivery.
 */
export async function runCatchUpJob(ctx: JobContext, job: CatchUpJob, record: QueueRecord): Promise<JobResult> {
  const { deps } = ctx;
  const { log, metrics } = deps;
  // Off the ordered lane there is no seam to keep: deliver everything live (a duplicate beats a loss).
  const sequence = record.sequence ?? '0';
  if (record.sequence === null)
    log.error('a catch-up job came without a sequence; its subscription goes live without a replay', { jobId: record.id });
  const decision = record.sequence === null ? null : await decide(ctx, job, record.sequence);
  if (decision !== null && !decision.ok)
    return failed(`reading the channel's history failed (${decision.error.kind}): ${decision.error.message}`);
  const payloads: Payload[] = [];
  if (decision?.value.kind === 'replay') payloads.push(...decision.value.items.map((item) => item.message));
  else if (decision?.value.kind === 'failed' && job.recoveryFailed !== undefined) payloads.push(textMessage(job.recoveryFailed));

  if (payloads.length > 0) {
    const delivered = await replay(ctx, job, payloads);
    if (delivered !== 'delivered') return delivered === 'gone' ? DONE : delivered;
  }
  const finished = await deps.resumes.finishResume(job.connectionId, job.channel, job.token, sequence);
  if (!finished.ok) return failed(`ending the resume failed (${finished.error.kind}): ${finished.error.message}`);
  if (!finished.value) {
    log.info('a resume was replaced or its subscription removed before it caught up', {
      connectionId: job.connectionId,
      channel: job.channel,
    });
    return DONE;
  }
  await untilIndexShowsLive(ctx, job, sequence);
  if (decision?.value.kind === 'replay') {
    metrics.count('ResumesReplayed');
    metrics.count('ItemsReplayed', decision.value.items.length);
    log.debug('resumed a subscription', { connectionId: job.connectionId, channel: job.channel, replayed: decision.value.items.length });
  } else if (decision?.value.kind === 'failed') {
    metrics.count('ResumesFailed');
    log.info('a resume could not replay; the subscription continues live', {
      connectionId: job.connectionId,
      channel: job.channel,
      reason: decision.value.reason,
      detail: decision.value.detail,
      recoveryFailedSent: job.recoveryFailed !== undefined,
    });
  }
  metrics.timing('ResumeLatency', deps.clock() - job.requestedAt);
  return DONE;
}

/** Where `since` is, and what history holds after it and before this job. */
async function decide(ctx: JobContext, job: CatchUpJob, sequence: string): Promise<Result<ResumeDecision, StoreError>> {
  const { history, config, clock } = ctx.deps;
  const now = clock();
  if (config.history.ttlMs <= 0) return { ok: true, value: decideResume(config.history, job.since, null, []) };
  const since = await history.findSequence(job.channel, job.since, now);
  if (!since.ok) return since;
  if (since.value === null) return { ok: true, value: decideResume(config.history, job.since, null, []) };
  const items = await history.readAfter(job.channel, since.value, sequence, config.history.maxItems + 1, now);
  if (!items.ok) return items;
  return { ok: true, value: decideResume(config.history, job.since, since.value, items.value) };
}

/** Sends the replay in order; `gone` when the connection left (it is forgotten), else what the delivery made of the job. */
async function replay(ctx: JobContext, job: CatchUpJob, payloads: readonly Payload[]): Promise<'delivered' | 'gone' | JobResult> {
  const { deps } = ctx;
  const stillJoining = async (id: string): Promise<boolean> => {
    const found = await deps.connections.getConnection(id);
    return !found.ok || (found.value !== null && found.value.connectedAt === job.connectedAt);
  };
  const report = await deliver(ctx.tools, [job.connectionId], payloads, emptyReport(), {
    graceUntil: job.connectedAt + deps.config.joinGraceMs,
    stillJoining,
  });
  if (report.gone.length > 0) {
    await forgetConnections(deps, report.gone, 'gone (410) during a catch-up', 'warn', new Map([[job.connectionId, job.connectedAt]]));
    return 'gone';
  }
  if (report.fatal === null && report.deferred.length === 0 && report.rejected.length === 0) return 'delivered';
  const settled = await applyDeliveryReport(deps, {
    report,
    origin: { publishId: `catchup:${job.token}`, publishedAt: job.requestedAt },
    attempt: 0,
    channelPayload: null,
  });
  return settled.ok ? 'delivered' : settled;
}

/**
 * Waits (bounded) until the channel index shows the subscription live: the group's next jobs page that index,
 * which is eventually consistent, and must not skip the connection as still catching up.
 */
async function untilIndexShowsLive(ctx: JobContext, job: CatchUpJob, sequence: string): Promise<void> {
  const { deps } = ctx;
  const deadline = deps.clock() + INDEX_WAIT_MS;
  for (let pause = 10; ; pause = Math.min(pause * 2, 250)) {
    const entry = await deps.index.readSubscriber(job.channel, job.connectionId);
    const shown = entry.ok ? entry.value : null;
    // Live as this job left it, or already resumed again by a newer subscribe: either way not this job's to wait on.
    if (shown !== null && (shown.resume === undefined ? shown.liveAfter === sequence : shown.resume !== job.token)) return;
    if (deps.clock() >= deadline) {
      deps.log.warn('the channel index did not show a resumed subscription live in time; the next publish may skip it', {
        connectionId: job.connectionId,
        channel: job.channel,
      });
      return;
    }
    await deps.sleep(pause);
  }
}
