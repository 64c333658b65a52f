/**
 * Pushpin's sequencer (`prev-id`; docs/pushpin-semantics.md §6), in the channel's FIFO group: an item whose
 * `prev-id` is not the id of the last item delivered to its channel is held until that predecessor is delivered
 * (then released, in a chain) or until `messageWaitMs` passed (then delivered anyway). One item per missing
 * predecessor and at most 100 per channel are held; more are dropped, as in Pushpin.
 */
import type { QueueRecord } from './worker.js';
import { DONE, failed, type JobResult } from './batch.js';
import { parseJob, releasedEntry, releaseEntry, serializeJob, type ChannelJob, type ReleaseJob } from './jobs.js';
import type { JobContext } from './worker.js';

/** Held items per channel (Pushpin's `CHANNEL_PENDING_MAX`). */
export const MAX_HELD_PER_CHANNEL = 100;

/** What a fresh publish does: `deliver` now, or stop here (`stop`: held, dropped, or failed and to be retried). */
export type SequencingStep = { readonly kind: 'deliver' } | { readonly kind: 'stop'; readonly result: JobResult };

/**
 * Sequences a fresh publish (the job that starts it): holds it when its `prev-id` is not the channel's last id, and
 * otherwise records it as the channel's last id and releases the item held for it. Off when `messageWaitMs` is 0;
 * `no-seq` items and released ones skip the hold, but still set the last id. A redelivered job that already set the
 * last id is delivered, never held a second time.
 */
export async function sequenceFresh(ctx: JobContext, job: ChannelJob, record: QueueRecord): Promise<SequencingStep> {
  const { deps } = ctx;
  const waitMs = deps.config.messageWaitMs;
  if (waitMs <= 0) return { kind: 'deliver' };
  const state = await deps.sequencer.sequencerState(job.channel);
  if (!state.ok)
    return { kind: 'stop', result: failed(`reading the channel's sequencer failed (${state.error.kind}): ${state.error.message}`) };
  const { lastId, held } = state.value;
  const already = job.itemId !== undefined && lastId === job.itemId;
  const waits = job.prevId !== undefined && job.unsequenced !== true && job.released !== true && !already;
  if (waits && lastId !== null && lastId !== job.prevId) return hold(ctx, job, job.prevId ?? '');
  const newLastId = job.itemId ?? null;
  if (newLastId !== lastId) {
    const set = await deps.sequencer.setLastId(job.channel, newLastId);
    if (!set.ok) return { kind: 'stop', result: failed(`recording the channel's last id failed: ${set.error.message}`) };
  }
  if (held > 0 && newLastId !== null) {
    const released = await release(ctx, job.channel, newLastId, undefined, `${record.id}:release`);
    if (!released.ok) return { kind: 'stop', result: released };
  }
  return { kind: 'deliver' };
}

/** Holds `job` for its predecessor and schedules the end of its wait. */
async function hold(ctx: JobContext, job: ChannelJob, prevId: string): Promise<SequencingStep> {
  const { deps } = ctx;
  const now = deps.clock();
  // Held without its queue sequence: released, it is a fresh publish again, with the sequence of its release.
  const { sequence: _sequence, ...unstamped } = job;
  const outcome = await deps.sequencer.hold(job.channel, prevId, serializeJob(unstamped), now, MAX_HELD_PER_CHANNEL);
  if (!outcome.ok) return { kind: 'stop', result: failed(`holding an item for its predecessor failed: ${outcome.error.message}`) };
  if (outcome.value !== 'held') {
    deps.log.info(
      outcome.value === 'full'
        ? `dropped an item: its channel already holds ${MAX_HELD_PER_CHANNEL} items waiting for their predecessors (as Pushpin)`
        : 'dropped an item: another item already waits for the same predecessor (as Pushpin)',
      { channel: job.channel, id: job.itemId, prevId },
    );
    deps.metrics.count('ItemsDropped');
    return { kind: 'stop', result: DONE };
  }
  const delaySeconds = Math.min(900, Math.max(1, Math.ceil(deps.config.messageWaitMs / 1000)));
  const scheduled = await deps.queue.enqueue([releaseEntry(job.channel, prevId, now, delaySeconds)]);
  if (!scheduled.ok) {
    // Without its timer the item could wait forever: give the place back and let the queue retry the publish.
    await deps.sequencer.takeHeld(job.channel, prevId, now);
    return { kind: 'stop', result: failed(`scheduling the end of a held item's wait failed: ${scheduled.error.message}`) };
  }
  deps.metrics.count('ItemsHeld');
  deps.log.debug('held an item until its predecessor is delivered', { channel: job.channel, id: job.itemId, prevId });
  return { kind: 'stop', result: DONE };
}

/** Takes the item held for `prevId` (only the holding `heldAt`, when given) and queues it in its channel's group. */
async function release(ctx: JobContext, channel: string, prevId: string, heldAt: number | undefined, dedupId: string): Promise<JobResult> {
  const { deps } = ctx;
  const taken = await deps.sequencer.takeHeld(channel, prevId, heldAt);
  if (!taken.ok) return failed(`releasing a held item failed: ${taken.error.message}`);
  if (taken.value === null) return DONE;
  const parsed = parseJob(taken.value.job);
  if (!parsed.ok || parsed.value.kind !== 'channel') {
    deps.log.error('a held item is not a channel job; dropped', { channel, prevId });
    return DONE;
  }
  const queued = await deps.queue.enqueue([releasedEntry(parsed.value, dedupId)]);
  if (!queued.ok) return failed(`queueing a released item failed: ${queued.error.message}`);
  return DONE;
}

/** A held item's wait is over: if its predecessor did not release it meanwhile, it goes out now. */
export function runReleaseJob(ctx: JobContext, job: ReleaseJob, record: QueueRecord): Promise<JobResult> {
  return release(ctx, job.channel, job.prevId, job.heldAt, `${record.id}:expired`);
}
