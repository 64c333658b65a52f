import type { KeepAlive } from './connection.js';
import { keepAliveJob, type KeepAliveJob } from './fanout/jobs.js';
import { binaryMessage, textMessage } from './message.js';
import type { SessionAction } from './protocol/reply.js';
import type { QueueEntry } from './ports.js';
import { chainDelaySeconds, decideChainStep, type ChainDecision } from './chain.js';

export interface KeepAliveChange {
  /** `undefined`: the reply did not touch keep-alives; `null`: turn them off; otherwise the new setting. */
  readonly change: KeepAlive | null | undefined;
  readonly ignored: string[];
}

/**
 * The keep-alive a reply asks for: its last `keep-alive` control message wins, as in Pushpin. A message without
 * content turns heartbeats off. Ping and pong heartbeats are refused, because API Gateway cannot send control
 * frames; send a text heartbeat instead.
 */
export function keepAliveFromActions(actions: readonly SessionAction[], now: number): KeepAliveChange {
  let change: KeepAlive | null | undefined;
  const ignored: string[] = [];
  for (const action of actions) {
    if (action.kind !== 'control' || action.message.type !== 'keep-alive') continue;
    const { message, timeoutSeconds, mode } = action.message;
    if (message === null) {
      change = null;
    } else if (message.kind === 'ping' || message.kind === 'pong') {
      ignored.push(`keep-alive with message-type ${message.kind} ignored: API Gateway cannot send ${message.kind} frames; use text`);
    } else {
      const payload = message.kind === 'text' ? textMessage(message.text) : binaryMessage(message.data);
      change = { payload, timeoutSeconds: Math.max(1, timeoutSeconds), mode, since: now };
    }
  }
  return { change, ignored };
}

/** The queue entry that fires a connection's heartbeat `dueAt` (through the delayed lane). */
export function keepAliveEntry(connectionId: string, keepAlive: KeepAlive, dueAt: number, now: number, generation = 0): QueueEntry {
  return { job: keepAliveJob(connectionId, keepAlive.since, dueAt, generation), delaySeconds: chainDelaySeconds(dueAt, now) };
}

/**
 * What a firing heartbeat job should do, given the connection's current keep-alive (null when the connection or
 * its keep-alive is gone): `due` sends it. Heartbeats are due `timeoutSeconds` after the last activity (`idle`) or
 * after the previous heartbeat (`interval`).
 */
export function decideKeepAlive(
  job: KeepAliveJob,
  current: KeepAlive | null,
  lastActivityAt: number | undefined,
  now: number,
): ChainDecision {
  const periodMs = (current?.timeoutSeconds ?? 0) * 1000;
  const notBefore = current?.mode === 'idle' && lastActivityAt !== undefined ? lastActivityAt + periodMs : undefined;
  return decideChainStep(job, current && { since: current.since, periodMs }, notBefore, now, 'keep-alive');
}
