/**
 * `id` de-duplication and `prev-id` ordering (docs/pushpin-semantics.md §6, Pushpin's `Sequencer`). Both systems
 * run with Pushpin's shipped values: `id_cache_ttl` 60 s, `message_wait` 5,000 ms (checked every second, so a
 * held item goes out after 5–6 s), at most 100 held items per channel.
 */
import { settle, waitUntil, type TestClient } from '../client.js';
import { list, realTexts, textItem, type Group, type ScenarioContext } from '../scenario.js';

/**
 * How long after `since` something happened, in the buckets that matter: not held (delivery latency alone, which
 * under a loaded machine can reach a few seconds), or held for `message_wait` (5 s, checked every second).
 */
function after(since: number, at: number | undefined): string {
  if (at === undefined) return 'never (within 10 s)';
  const ms = at - since;
  if (ms < 3_500) return 'without waiting';
  if (ms >= 4_500 && ms < 7_500) return 'after 5–6 s';
  return `after ~${Math.round(ms / 1000)} s`;
}

function arrival(client: TestClient, text: string): number | undefined {
  return client.received.find((r) => r.kind === 'text' && r.data === text)?.at;
}

/** Publishes t1, then t3 waiting for a t2 that never comes; says when t3 arrived. */
async function t3Delay(ctx: ScenarioContext, noSeq: boolean): Promise<string> {
  const channel = ctx.channel();
  const client = await ctx.subscribedClient([channel]);
  if (!client) return 'not subscribed';
  await ctx.publishText(channel, 't1', { id: 't1' });
  const since = Date.now();
  await ctx.publish([{ ...textItem(channel, 't3', { id: 't3', prevId: 't2' }), ...(noSeq ? { 'no-seq': true } : {}) }]);
  await waitUntil(() => arrival(client, 't3') !== undefined, 10_000);
  return `t3 delivered ${after(since, arrival(client, 't3'))}`;
}

/** A subscribed client on a channel whose last id is `p0`, so items with another `prev-id` are held. */
async function withLastId(ctx: ScenarioContext): Promise<{ channel: string; client: TestClient } | null> {
  const channel = ctx.channel();
  const client = await ctx.subscribedClient([channel]);
  if (!client) return null;
  await ctx.publishText(channel, 'p0', { id: 'p0' });
  return { channel, client };
}

export const sequencing: Group = {
  name: 'sequencing',
  title: 'id de-duplication and prev-id ordering',
  concurrent: true,
  scenarios: [
    {
      id: 'sequencing.dedup',
      title: 'same id twice on a channel within 60 s, and once on another channel',
      async run(ctx) {
        const [one, two] = [ctx.channel('one'), ctx.channel('two')];
        const client = await ctx.subscribedClient([one, two]);
        if (!client) return 'not subscribed';
        await ctx.publishText(one, 'first', { id: 'd1' });
        await ctx.publishText(one, 'again', { id: 'd1' });
        await ctx.publishText(two, 'other-channel', { id: 'd1' });
        await ctx.publishText(one, 'fence-one');
        await ctx.publishText(two, 'fence-two');
        await waitUntil(() => ['fence-one', 'fence-two'].every((f) => realTexts(client).includes(f)), 3_000);
        return `client got: ${list(
          realTexts(client)
            .filter((t) => !t.startsWith('fence'))
            .sort(),
        )}`;
      },
    },
    {
      id: 'sequencing.prev-id-order',
      title: 'publish s1, s3(prev s2), s2(prev s1)',
      async run(ctx) {
        const channel = ctx.channel();
        const client = await ctx.subscribedClient([channel]);
        if (!client) return 'not subscribed';
        await ctx.publishText(channel, 's1', { id: 's1' });
        await ctx.publishText(channel, 's3', { id: 's3', prevId: 's2' });
        await ctx.publishText(channel, 's2', { id: 's2', prevId: 's1' });
        await waitUntil(() => realTexts(client).length >= 3, 8_000);
        return `order: ${list(realTexts(client))}`;
      },
    },
    {
      id: 'sequencing.prev-id-wait',
      title: 'publish t1, then t3(prev t2); t2 never comes',
      run: (ctx) => t3Delay(ctx, false),
    },
    {
      id: 'sequencing.no-seq',
      title: "the same with 'no-seq': true on t3",
      run: (ctx) => t3Delay(ctx, true),
    },
    {
      id: 'sequencing.same-prev-id',
      title: 'x(prev gone) and y(prev gone): two items waiting for the same predecessor',
      async run(ctx) {
        const setup = await withLastId(ctx);
        if (!setup) return 'not subscribed';
        const { channel, client } = setup;
        const since = Date.now();
        await ctx.publishText(channel, 'x', { id: 'x', prevId: 'gone' });
        await ctx.publishText(channel, 'y', { id: 'y', prevId: 'gone' });
        await waitUntil(() => arrival(client, 'x') !== undefined, 10_000);
        await settle(() => client.received.length, 1_000, 3_000);
        return `x ${after(since, arrival(client, 'x'))}; y ${after(since, arrival(client, 'y'))}`;
      },
    },
    {
      id: 'sequencing.pending-cap',
      title: '101 items each waiting for a different missing predecessor',
      async run(ctx) {
        const setup = await withLastId(ctx);
        if (!setup) return 'not subscribed';
        const { channel, client } = setup;
        const since = Date.now();
        const items = Array.from({ length: 101 }, (_, k) => textItem(channel, `q${k}`, { id: `q${k}`, prevId: `missing${k}` }));
        for (let k = 0; k < items.length; k += 25) {
          const result = await ctx.publish(items.slice(k, k + 25));
          if (result.status !== 200) return `publish answered ${result.status} ${result.body}`;
        }
        const held = () => realTexts(client).filter((t) => t.startsWith('q')).length;
        await waitUntil(() => held() > 0, 10_000);
        await settle(held, 1_500, 5_000);
        const first = client.received.find((r) => r.kind === 'text' && r.data.startsWith('q'))?.at;
        const dropped = Array.from({ length: 101 }, (_, k) => `q${k}`).filter((q) => !realTexts(client).includes(q));
        return `${held()} of 101 delivered, first ${after(since, first)}; dropped: ${list(dropped)}`;
      },
    },
  ],
};
