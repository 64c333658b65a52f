/** What the session logic reads out of a reply's actions besides sending: subscriptions and unsupported parts. */
import type { SessionAction } from '../protocol/reply.js';
import type { SubscriptionOp } from './subscriptions.js';

/** The subscribe/unsubscribe operations of a reply, in order. */
export function subscriptionOps(actions: readonly SessionAction[]): SubscriptionOp[] {
  const ops: SubscriptionOp[] = [];
  for (const action of actions) {
    if (action.kind !== 'control') continue;
    const m = action.message;
    if (m.type === 'subscribe' || m.type === 'unsubscribe') ops.push({ op: m.type, channel: m.channel });
  }
  return ops;
}

/** GRIP control messages this server parses but does not act on, with the reason, for the log. */
export function unsupportedControls(actions: readonly SessionAction[]): string[] {
  const out: string[] = [];
  for (const action of actions) {
    if (action.kind !== 'control') continue;
    const type = action.message.type;
    if (type === 'detach') out.push('detach ignored: API Gateway keeps the client connection either way');
    if (type === 'set-meta') out.push('set-meta ignored: publish filters (skip-self, …) are not supported');
  }
  return out;
}
