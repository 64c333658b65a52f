import type { SubscriberFilters } from '../filters.js';
import type { SubscriptionFilterNames } from '../ports.js';

export type SubscriptionOp = {
  readonly op: 'subscribe' | 'unsubscribe';
  readonly channel: string;
  /** A subscribe's publish filters (a later subscribe to the same channel replaces them). */
  readonly filters?: readonly string[];
  /** A subscribe's resume point (this server's extension): replay what was published after this item id. */
  readonly since?: string;
  /** With `since`: the text sent instead of a replay when `since` cannot be honoured. */
  readonly recoveryFailed?: string;
};

/** A resume a reply asks for: the channel, and what its catch-up job needs. */
export interface ResumeRequest {
  readonly channel: string;
  readonly since: string;
  readonly recoveryFailed?: string;
}

/**
 * The resumes in a reply: each channel whose last operation is a subscribe with `since` and that is subscribed
 * once the reply is applied (`subscribedAfter`; a subscribe the cap ignored resumes nothing).
 *
 * @example
 * planResumes([{ op: 'subscribe', channel: 'a', since: 'm-41' }], new Set(['a'])) // [{ channel: 'a', since: 'm-41' }]
 */
export function planResumes(ops: readonly SubscriptionOp[], subscribedAfter: ReadonlySet<string>): ResumeRequest[] {
  const last = new Map<string, SubscriptionOp>();
  for (const op of ops) {
    last.delete(op.channel); // re-inserted last: resumes come out in the order of their final subscribe
    last.set(op.channel, op);
  }
  return [...last.values()].flatMap((op) =>
    op.op === 'subscribe' && op.since !== undefined && subscribedAfter.has(op.channel)
      ? [{ channel: op.channel, since: op.since, ...(op.recoveryFailed !== undefined ? { recoveryFailed: op.recoveryFailed } : {}) }]
      : [],
  );
}

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

/** Which subscription items to write so that each carries its current filter state. */
export interface FilterWrites {
  /** Channels to (re)write whole with `subscribe`: the new ones, and subscribed ones whose filter list changed. */
  readonly put: ReadonlyMap<string, SubscriberFilters | undefined>;
  /** Kept subscriptions with filters whose carried state is out of date (filter meta or channels changed). */
  readonly update: ReadonlyMap<string, SubscriberFilters>;
}

/**
 * What a reply's subscription changes and `set-meta` mean for the subscription items, which carry each
 * subscription's filters with the filter meta (and, for `require-sub`, the connection's channels) that fan-out
 * needs without a read per subscriber. Pure: `existing` is the connection's subscriptions before the reply,
 * `plan` what {@link planSubscriptions} made of `ops`, `filterMeta` the meta after the reply.
 *
 * - New channels are put with the filters of their last subscribe op.
 * - A subscribed channel subscribed again with another filter list is put again (Pushpin replaces the list), and
 *   so is one subscribed again with `since` (`resumed`): its item is rewritten catching up.
 * - Every other kept subscription with filters is updated when the filter meta changed, or, if it has
 *   `require-sub`, when the channel set changed.
 *
 * @example
 * planFilterWrites([{ channel: 'a', filters: ['skip-self'] }], planSubscriptions(['a'], [], 20), [], { user: 'bo' }, true)
 * // { put: Map {}, update: Map { 'a' => { names: ['skip-self'], meta: { user: 'bo' } } } }
 */
export function planFilterWrites(
  existing: readonly SubscriptionFilterNames[],
  plan: SubscriptionPlan,
  ops: readonly SubscriptionOp[],
  filterMeta: Readonly<Record<string, string>>,
  metaChanged: boolean,
  resumed: ReadonlySet<string> = new Set(),
): FilterWrites {
  const removed = new Set(plan.unsubscribe);
  const channels = [...existing.map((e) => e.channel).filter((c) => !removed.has(c)), ...plan.subscribe];
  const channelsChanged = plan.subscribe.length > 0 || plan.unsubscribe.length > 0;
  const asked = new Map<string, readonly string[]>();
  for (const op of ops) {
    if (op.op === 'subscribe') asked.set(op.channel, op.filters ?? []);
    else asked.delete(op.channel);
  }
  const stateOf = (names: readonly string[]): SubscriberFilters | undefined =>
    names.length === 0
      ? undefined
      : { names: [...names], meta: { ...filterMeta }, ...(names.includes('require-sub') ? { channels: [...channels] } : {}) };
  const put = new Map<string, SubscriberFilters | undefined>();
  for (const channel of plan.subscribe) put.set(channel, stateOf(asked.get(channel) ?? []));
  const update = new Map<string, SubscriberFilters>();
  for (const { channel, filters } of existing) {
    if (removed.has(channel)) continue;
    const again = asked.get(channel);
    if (again !== undefined && (!sameList(again, filters) || resumed.has(channel))) {
      put.set(channel, stateOf(again));
      continue;
    }
    const state = stateOf(filters);
    if (state !== undefined && (metaChanged || (channelsChanged && state.channels !== undefined))) update.set(channel, state);
  }
  return { put, update };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
