/**
 * Backend polling (`Keep-Alive-Interval`, docs/pushpin-semantics.md §1.5): a backend that sets the header on a
 * reply gets an empty WebSocket-over-HTTP request (no events) after that many seconds without a request, so it can
 * send to the client without waiting for the client to speak. Pushpin restarts its `keepAliveTimer` after every
 * response; here a chain of delayed jobs compares the due time with the connection's last exchange.
 */
import type { BackendPoll } from './connection.js';
import { backendPollJob, type BackendPollJob } from './fanout/jobs.js';
import type { QueueEntry } from './ports.js';
import { chainDelaySeconds, decideChainStep, type ChainDecision } from './chain.js';
import type { PollInterval } from './protocol/reply.js';

/** Pushpin raises a shorter `Keep-Alive-Interval` to this. */
export const MIN_POLL_INTERVAL_SECONDS = 20;

/**
 * The connection's backend polling after a reply's `Keep-Alive-Interval`: `undefined` when nothing changes (no
 * header, or the interval it already has: its chain runs on), `null` to stop, or a new setting (a new chain).
 */
export function backendPollAfter(
  requested: PollInterval,
  current: BackendPoll | null | undefined,
  now: number,
  minSeconds: number = MIN_POLL_INTERVAL_SECONDS,
): BackendPoll | null | undefined {
  if (requested === undefined) return undefined;
  if (requested === null) return current ? null : undefined;
  const intervalSeconds = Math.max(minSeconds, requested);
  if (current && current.intervalSeconds === intervalSeconds) return undefined;
  return { intervalSeconds, since: now };
}

/** The queue entry that fires a connection's backend poll `dueAt` (through the delayed lane). */
export function backendPollEntry(connectionId: string, poll: BackendPoll, dueAt: number, now: number, generation = 0): QueueEntry {
  return { job: backendPollJob(connectionId, poll.since, dueAt, generation), delaySeconds: chainDelaySeconds(dueAt, now) };
}

/**
 * What a firing poll job should do, given the connection's current polling (null when the connection is gone,
 * detached, or polling is off) and its last exchange with the backend: `due` polls. A poll is due
 * `intervalSeconds` after the last exchange.
 */
export function decideBackendPoll(
  job: BackendPollJob,
  current: BackendPoll | null,
  lastExchangeAt: number | undefined,
  now: number,
): ChainDecision {
  const periodMs = (current?.intervalSeconds ?? 0) * 1000;
  const notBefore = lastExchangeAt === undefined ? undefined : lastExchangeAt + periodMs;
  return decideChainStep(job, current && { since: current.since, periodMs }, notBefore, now, 'backend polling (Keep-Alive-Interval)');
}

/**
 * Whether an answered exchange should be written as the connection's last: only while polling is on, and (to
 * avoid a write per message) only once the stored one is half an interval old. A poll may so come up to half an
 * interval early, never late; a poll's own exchange is always written (it is a whole interval after the last).
 */
export function exchangeIsStale(poll: BackendPoll | null | undefined, lastExchangeAt: number | undefined, now: number): boolean {
  if (!poll) return false;
  return lastExchangeAt === undefined || now - lastExchangeAt > (poll.intervalSeconds * 1000) / 2;
}
