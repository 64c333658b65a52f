import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planSubscriptions, type SubscriptionOp } from '#src/domain/session/subscriptions.js';

const sub = (channel: string): SubscriptionOp => ({ op: 'subscribe', channel });
const unsub = (channel: string): SubscriptionOp => ({ op: 'unsubscribe', channel });

describe('planSubscriptions', () => {
  it('folds operations in order over the current channels', () => {
    expect(planSubscriptions(['a'], [sub('b'), unsub('a')], 20)).toEqual({ subscribe: ['b'], unsubscribe: ['a'], ignored: [] });
    expect(planSubscriptions(['a'], [unsub('a'), sub('a')], 20)).toEqual({ subscribe: [], unsubscribe: [], ignored: [] });
    expect(planSubscriptions([], [sub('x'), unsub('x')], 20)).toEqual({ subscribe: [], unsubscribe: [], ignored: [] });
    expect(planSubscriptions(['a'], [sub('a'), unsub('zz')], 20)).toEqual({ subscribe: [], unsubscribe: [], ignored: [] });
  });

  it('ignores subscribes beyond the cap, but an unsubscribe first makes room', () => {
    const full = planSubscriptions(['a', 'b'], [sub('c'), unsub('a'), sub('d')], 2);
    expect(full.subscribe).toEqual(['d']);
    expect(full.unsubscribe).toEqual(['a']);
    expect(full.ignored).toHaveLength(1);
    expect(full.ignored[0]).toContain('"c"');
  });

  it('never leaves more than cap channels, and the plan applied to current gives the folded set', () => {
    const channel: fc.Arbitrary<string> = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
    fc.assert(
      fc.property(
        fc.uniqueArray(channel, { maxLength: 6 }),
        fc.array(fc.record({ op: fc.constantFrom('subscribe' as const, 'unsubscribe' as const), channel })),
        fc.integer({ min: 1, max: 6 }),
        (current, ops, cap) => {
          const plan = planSubscriptions(current, ops, cap);
          const after = new Set(current);
          for (const c of plan.unsubscribe) after.delete(c);
          for (const c of plan.subscribe) after.add(c);
          // Additions only happen under the cap; a connection already over it never grows.
          expect(plan.subscribe.length === 0 || after.size <= cap).toBe(true);
          expect(plan.subscribe.every((c) => !current.includes(c))).toBe(true);
          expect(plan.unsubscribe.every((c) => current.includes(c))).toBe(true);
          // A channel whose last operation is an unsubscribe is never left subscribed.
          const last = new Map(ops.map((o) => [o.channel, o.op]));
          for (const [c, op] of last) if (op === 'unsubscribe') expect(after.has(c)).toBe(false);
        },
      ),
    );
  });
});
