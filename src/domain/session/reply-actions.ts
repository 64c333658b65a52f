/** What the session logic reads out of a reply's actions besides sending: subscriptions, filter meta, unsupported parts. */
import { applyMetaChanges } from '../connection.js';
import { isKnownFilter, MAX_SUBSCRIBE_FILTERS } from '../filters.js';
import type { SessionAction } from '../protocol/reply.js';
import type { SubscriptionOp } from './subscriptions.js';

/**
 * The subscribe/unsubscribe operations of a reply, in order. A subscribe with more than `MAX_SUBSCRIBE_FILTERS`
 * filters is left out: upstream Pushpin closes the client with 1011 instead (see {@link tooManyFilters}).
 */
export function subscriptionOps(actions: readonly SessionAction[]): SubscriptionOp[] {
  const ops: SubscriptionOp[] = [];
  for (const action of actions) {
    if (action.kind !== 'control') continue;
    const m = action.message;
    if (m.type === 'unsubscribe') ops.push({ op: m.type, channel: m.channel });
    else if (m.type === 'subscribe' && m.filters.length <= MAX_SUBSCRIBE_FILTERS)
      ops.push({
        op: m.type,
        channel: m.channel,
        filters: m.filters,
        ...(m.since !== undefined ? { since: m.since } : {}),
        ...(m.recoveryFailed !== undefined ? { recoveryFailed: m.recoveryFailed } : {}),
      });
  }
  return ops;
}

/**
 * The close reason when a reply subscribes with more than `MAX_SUBSCRIBE_FILTERS` filters (upstream Pushpin's
 * `too many filters for channel '<ch>'`, sent with close code 1011), or `null`.
 */
export function tooManyFilters(actions: readonly SessionAction[]): string | null {
  for (const action of actions) {
    if (action.kind === 'control' && action.message.type === 'subscribe' && action.message.filters.length > MAX_SUBSCRIBE_FILTERS) {
      return `too many filters for channel '${action.message.channel}'`;
    }
  }
  return null;
}

/** The connection's filter meta after the reply's `set-meta` messages, in order (a `null` value deletes). */
export function filterMetaAfter(current: Readonly<Record<string, string>>, actions: readonly SessionAction[]): Record<string, string> {
  let meta: Record<string, string> = { ...current };
  for (const action of actions) {
    if (action.kind === 'control' && action.message.type === 'set-meta') {
      meta = applyMetaChanges(meta, { [action.message.name]: action.message.value });
    }
  }
  return meta;
}

/** Whether two filter meta maps hold the same entries. */
export function sameMeta(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/** Whether a reply detaches the connection (`c:{"type":"detach"}`): Pushpin then closes the backend side. */
export function detaches(actions: readonly SessionAction[]): boolean {
  return actions.some((a) => a.kind === 'control' && a.message.type === 'detach');
}

/** GRIP control messages this server parses but does not act on, and filter names it will skip, for the log. */
export function unsupportedControls(actions: readonly SessionAction[]): string[] {
  const out: string[] = [];
  for (const action of actions) {
    if (action.kind !== 'control') continue;
    const m = action.message;
    if (m.type === 'subscribe') {
      const unknown = m.filters.filter((name) => !isKnownFilter(name));
      if (unknown.length > 0) {
        out.push(`unknown filters ${JSON.stringify(unknown)} on ${JSON.stringify(m.channel)} are skipped at delivery, as Pushpin does`);
      }
    }
  }
  return out;
}
