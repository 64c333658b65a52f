/**
 * A connection's chain of scheduled jobs: heartbeats (`keep-alive`) and backend polls (`Keep-Alive-Interval`) each
 * travel through the delayed lane as one job per period, named by their setting's `since`. This is the timing they
 * share; each says when its next step is due.
 */
import { MAX_QUEUE_DELAY_SECONDS } from './ports.js';

export type ChainDecision =
  | { readonly kind: 'stop'; readonly reason: string }
  | { readonly kind: 'wait'; readonly dueAt: number }
  | { readonly kind: 'due'; readonly nextDueAt: number };

/**
 * What a firing job of a chain should do. `current` is the setting in force (null when it, or the connection, is
 * gone); a different `since` means a newer chain runs. The step is due at the job's `dueAt`, or at `notBefore` if
 * that is later (something happened since the job was scheduled); a job that fires early (queue delays are capped
 * at 15 minutes, or `notBefore` moved) waits again.
 */
export function decideChainStep(
  job: { readonly since: number; readonly dueAt: number },
  current: { readonly since: number; readonly periodMs: number } | null,
  notBefore: number | undefined,
  now: number,
  what: string,
): ChainDecision {
  if (current === null) return { kind: 'stop', reason: `${what} is off or the connection is gone` };
  if (current.since !== job.since) return { kind: 'stop', reason: `${what} was changed; a newer chain runs` };
  const dueAt = Math.max(job.dueAt, notBefore ?? job.dueAt);
  // Half a second of slack: the queue's delays are whole seconds.
  if (dueAt - now > 500) return { kind: 'wait', dueAt };
  return { kind: 'due', nextDueAt: now + current.periodMs };
}

/** The queue delay that fires a chain's job at `dueAt`: whole seconds, at least 1; longer periods hop more than once. */
export function chainDelaySeconds(dueAt: number, now: number): number {
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(1, Math.ceil((dueAt - now) / 1000)));
}
