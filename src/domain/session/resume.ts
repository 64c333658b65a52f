/**
 * Starting resumes (`since` on a subscribe; see `domain/history.ts`): the session writes each resumed subscription
 * catching up, with a fresh token, and then queues its catch-up job in the channel's ordering group.
 */
import { catchUpEntry } from '../fanout/jobs.js';
import type { FanoutQueue, Log, Metrics, SubscriptionOwner, SubscriptionStore } from '../ports.js';
import type { ResumeRequest } from './subscriptions.js';

/**
 * A resume token: distinct for every subscribe, so that a newer resume of the same subscription ends an older
 * catch-up job quietly (`finishResume` is conditional on it).
 */
export function resumeTokens(resumes: readonly ResumeRequest[], now: number, random: () => number): Map<string, string> {
  return new Map(resumes.map((r) => [r.channel, `${now.toString(36)}.${Math.floor(random() * 2 ** 48).toString(36)}`]));
}

/**
 * Queues the catch-up jobs of subscriptions just written catching up (`tokens`). When they cannot be queued the
 * subscriptions are made live at once (no replay, but no subscription stuck skipping every publish), and the
 * failure is logged and counted.
 */
export async function startCatchUps(
  deps: {
    readonly queue: FanoutQueue;
    readonly subscriptions: Pick<SubscriptionStore, 'finishResume'>;
    readonly log: Log;
    readonly metrics: Metrics;
  },
  owner: SubscriptionOwner,
  resumes: readonly ResumeRequest[],
  tokens: ReadonlyMap<string, string>,
  now: number,
): Promise<void> {
  const started = resumes.flatMap((r) => {
    const token = tokens.get(r.channel);
    return token === undefined ? [] : [{ ...r, token }];
  });
  if (started.length === 0) return;
  const { connectionId, connectedAt } = owner;
  const queued = await deps.queue.enqueue(
    started.map((r) =>
      catchUpEntry({
        channel: r.channel,
        connectionId,
        since: r.since,
        ...(r.recoveryFailed !== undefined ? { recoveryFailed: r.recoveryFailed } : {}),
        token: r.token,
        connectedAt,
        requestedAt: now,
      }),
    ),
  );
  if (queued.ok) return;
  deps.log.error('could not queue catch-up jobs; the subscriptions continue live without a replay', {
    connectionId,
    channels: started.map((r) => r.channel),
    detail: queued.error.message,
  });
  deps.metrics.count('ResumesFailed', started.length);
  for (const r of started) {
    const live = await deps.subscriptions.finishResume(connectionId, r.channel, r.token, '0');
    if (!live.ok)
      deps.log.error('a resumed subscription could not be made live; it stays silent until resubscribed', {
        connectionId,
        channel: r.channel,
      });
  }
}
