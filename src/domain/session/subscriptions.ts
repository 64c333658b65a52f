export type SubscriptionOp = { readonly op: 'subscribe' | 'unsubscribe'; readonly channel: string };

export interface SubscriptionPlan {
  /** Channels to add (not already subscribed), in the order asked. */
  readonly subscribe: string[];
  /** Channels to remove (currently subscribed), in the order asked. */
  readonly unsubscribe: string[];
  /** Subscribes that were dropped because the connection reached its cap, with the reason for the log. */
  readonly ignored: string[];
}

/**
 * Folds a reply's subscribe/unsubscribe operations, in order, over the connection's current channels, keeping
 * at most `cap` subscriptions (Pushpin's `connection_subscription_max`: extra subscribes are ignored, not an
 * error). Subscribing twice, or unsubscribing a channel the connection is not in, changes nothing.
 *
 * @example
 * planSubscriptions(['a'], [{ op: 'subscribe', channel: 'b' }, { op: 'unsubscribe', channel: 'a' }], 20)
 * // { subscribe: ['b'], unsubscribe: ['a'], ignored: [] }
 */
export function planSubscriptions(current: readonly string[], ops: readonly SubscriptionOp[], cap: number): SubscriptionPlan {
  const initial = new Set(current);
  const now = new Set(current);
  const ignored: string[] = [];
  for (const { op, channel } of ops) {
    if (op === 'unsubscribe') {
      now.delete(channel);
    } else if (!now.has(channel)) {
      if (now.size >= cap) ignored.push(`subscribe to ${JSON.stringify(channel)} ignored: the connection already has ${cap} subscriptions`);
      else now.add(channel);
    }
  }
  return {
    subscribe: [...now].filter((c) => !initial.has(c)),
    unsubscribe: [...initial].filter((c) => !now.has(c)),
    ignored,
  };
}
