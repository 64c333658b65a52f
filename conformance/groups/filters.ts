/**
 * Publish filters and `set-meta` (docs/pushpin-semantics.md §3.3–3.4, §5): each subscriber's filters decide, per
 * item, from its `set-meta` values and the item's `meta`. Every scenario publishes the items under test and then
 * a plain `fence` item: once the fence arrived, anything published before it would have too (per-channel order).
 */
import { control, echoClose, openReply, type BackendReply } from '../backend.js';
import type { TestClient } from '../client.js';
import { waitUntil } from '../client.js';
import { closeOutcome, list, realTexts, type Group, type ItemOptions, type ScenarioContext } from '../scenario.js';

interface Subscriber {
  /** Client name (path segment). */
  readonly name: string;
  /** `set-meta` values sent before subscribing. */
  readonly setMeta?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly subscribe: readonly { readonly channel: string; readonly filters?: readonly string[] }[];
}

/** Opens one client per subscriber; the OPEN reply sets its meta, then subscribes. */
async function subscribers(ctx: ScenarioContext, subs: readonly Subscriber[]): Promise<TestClient[]> {
  ctx.route((req): BackendReply => {
    if (req.events[0]?.type === 'OPEN') {
      const sub = subs.find((s) => req.path.endsWith(`/${s.name}`));
      const events = [
        ...Object.entries(sub?.setMeta ?? {}).map(([name, value]) => control({ type: 'set-meta', name, value })),
        ...(sub?.subscribe ?? []).map((s) =>
          control({ type: 'subscribe', channel: s.channel, ...(s.filters ? { filters: s.filters } : {}) }),
        ),
      ];
      return openReply(events, sub?.headers ?? {});
    }
    return echoClose(req) ?? {};
  });
  return Promise.all(subs.map((s) => ctx.connect(s.name)));
}

/** Publishes `items` then a fence on `channel`, and waits until every client has the fence (or 3 s). */
async function publishFenced(
  ctx: ScenarioContext,
  clients: readonly TestClient[],
  channel: string,
  items: readonly { readonly content: string; readonly options?: ItemOptions }[],
): Promise<void> {
  for (const item of items) await ctx.publishText(channel, item.content, item.options ?? {});
  await ctx.publishText(channel, 'fence');
  await waitUntil(() => clients.every((c) => realTexts(c).includes('fence')), 3_000);
}

/** What each client received besides the fence, as `alice: a,b; bob: nothing`. */
function received(names: readonly string[], clients: readonly TestClient[]): string {
  return names.map((name, i) => `${name}: ${list(realTexts(clients[i] as TestClient).filter((t) => t !== 'fence'))}`).join('; ');
}

export const filters: Group = {
  name: 'filters',
  title: 'publish filters and set-meta',
  scenarios: [
    {
      id: 'filters.skip-self',
      title: 'skip-self: an item with meta.sender=alice skips the subscriber whose set-meta user is alice',
      async run(ctx) {
        const channel = ctx.channel();
        const clients = await subscribers(ctx, [
          { name: 'alice', setMeta: { user: 'alice' }, subscribe: [{ channel, filters: ['skip-self'] }] },
          { name: 'bob', setMeta: { user: 'bob' }, subscribe: [{ channel, filters: ['skip-self'] }] },
        ]);
        if (!(await ctx.awaitSubscribed(clients, channel))) return 'not subscribed';
        await publishFenced(ctx, clients, channel, [{ content: 'from-alice', options: { meta: { sender: 'alice' } } }]);
        return received(['alice', 'bob'], clients);
      },
    },
    {
      id: 'filters.skip-self-header-meta',
      title: 'skip-self ignores Set-Meta-User (header meta is not filter meta)',
      async run(ctx) {
        const channel = ctx.channel();
        const clients = await subscribers(ctx, [
          { name: 'alice', headers: { 'Set-Meta-User': 'alice' }, subscribe: [{ channel, filters: ['skip-self'] }] },
        ]);
        if (!(await ctx.awaitSubscribed(clients, channel))) return 'not subscribed';
        await publishFenced(ctx, clients, channel, [{ content: 'from-alice', options: { meta: { sender: 'alice' } } }]);
        return received(['alice'], clients);
      },
    },
    {
      id: 'filters.skip-users',
      title: "skip-users: meta.skip_users=' carol, alice ' skips alice, not bob",
      async run(ctx) {
        const channel = ctx.channel();
        const clients = await subscribers(ctx, [
          { name: 'alice', setMeta: { user: 'alice' }, subscribe: [{ channel, filters: ['skip-users'] }] },
          { name: 'bob', setMeta: { user: 'bob' }, subscribe: [{ channel, filters: ['skip-users'] }] },
        ]);
        if (!(await ctx.awaitSubscribed(clients, channel))) return 'not subscribed';
        await publishFenced(ctx, clients, channel, [{ content: 'not-for-alice', options: { meta: { skip_users: ' carol, alice ' } } }]);
        return received(['alice', 'bob'], clients);
      },
    },
    {
      id: 'filters.require-sub',
      title: 'require-sub: meta.require_sub=<other channel> reaches only subscribers of that channel',
      async run(ctx) {
        const channel = ctx.channel();
        const other = ctx.channel('other');
        const clients = await subscribers(ctx, [
          { name: 'in', subscribe: [{ channel, filters: ['require-sub'] }, { channel: other }] },
          { name: 'out', subscribe: [{ channel, filters: ['require-sub'] }] },
        ]);
        if (!(await ctx.awaitSubscribed(clients, channel))) return 'not subscribed';
        await publishFenced(ctx, clients, channel, [{ content: 'req', options: { meta: { require_sub: other } } }]);
        return received(['subscribed to it', 'not subscribed'], clients);
      },
    },
    {
      id: 'filters.var-subst',
      title: "var-subst: '%(name)s' from set-meta, '%%' → '%'; an unknown variable drops the item",
      async run(ctx) {
        const channel = ctx.channel();
        const clients = await subscribers(ctx, [
          { name: 'alice', setMeta: { name: 'Alice' }, subscribe: [{ channel, filters: ['var-subst'] }] },
        ]);
        if (!(await ctx.awaitSubscribed(clients, channel))) return 'not subscribed';
        await publishFenced(ctx, clients, channel, [{ content: 'hi %(name)s 100%%' }, { content: 'bad %(nope)s' }]);
        return received(['alice'], clients);
      },
    },
    {
      id: 'filters.build-id',
      title: "build-id: '%(x)I' renders x once set-meta id_format is set",
      async run(ctx) {
        const channel = ctx.channel();
        const clients = await subscribers(ctx, [
          { name: 'a', setMeta: { id_format: 'fmt' }, subscribe: [{ channel, filters: ['build-id'] }] },
        ]);
        if (!(await ctx.awaitSubscribed(clients, channel))) return 'not subscribed';
        await publishFenced(ctx, clients, channel, [{ content: 'id=%(abc)I' }]);
        return received(['got'], clients);
      },
    },
    {
      id: 'filters.content-filters',
      title: "publish 'content-filters' must equal the subscriber's content filters",
      async run(ctx) {
        const channel = ctx.channel();
        const clients = await subscribers(ctx, [
          { name: 'plain', subscribe: [{ channel }] },
          { name: 'subst', setMeta: { name: 'Bo' }, subscribe: [{ channel, filters: ['var-subst'] }] },
        ]);
        if (!(await ctx.awaitSubscribed(clients, channel))) return 'not subscribed';
        await publishFenced(ctx, clients, channel, [
          { content: 'raw', options: { contentFilters: [] } },
          { content: 'tpl %(name)s', options: { contentFilters: ['var-subst'] } },
        ]);
        return received(['no filters', 'var-subst'], clients);
      },
    },
    {
      id: 'filters.unknown-name',
      title: 'an unknown filter name is ignored',
      async run(ctx) {
        const channel = ctx.channel();
        const clients = await subscribers(ctx, [{ name: 'a', subscribe: [{ channel, filters: ['no-such-filter'] }] }]);
        if (!(await ctx.awaitSubscribed(clients, channel))) return 'not subscribed';
        await publishFenced(ctx, clients, channel, [{ content: 'x' }]);
        return received(['got'], clients);
      },
    },
    {
      id: 'filters.set-meta-delete',
      title: "set-meta without 'value' deletes: skip-self no longer matches",
      async run(ctx) {
        const channel = ctx.channel();
        ctx.route((req): BackendReply => {
          if (req.events[0]?.type === 'OPEN')
            return openReply([
              control({ type: 'set-meta', name: 'user', value: 'alice' }),
              control({ type: 'set-meta', name: 'user' }),
              control({ type: 'subscribe', channel, filters: ['skip-self'] }),
            ]);
          return echoClose(req) ?? {};
        });
        const client = await ctx.connect('alice');
        if (!(await ctx.awaitSubscribed([client], channel))) return 'not subscribed';
        await publishFenced(ctx, [client], channel, [{ content: 'from-alice', options: { meta: { sender: 'alice' } } }]);
        return received(['alice'], [client]);
      },
    },
    {
      id: 'filters.too-many',
      title: 'subscribe with 6 filters',
      async run(ctx) {
        const channel = ctx.channel();
        const clients = await subscribers(ctx, [{ name: 'a', subscribe: [{ channel, filters: Array<string>(6).fill('skip-self') }] }]);
        const client = clients[0] as TestClient;
        const subscribed = await ctx.awaitSubscribed(clients, channel, 3_000);
        await waitUntil(() => client.close !== null, subscribed ? 0 : 2_000);
        return client.close !== null ? closeOutcome(client) : subscribed ? 'subscribed, open' : 'not subscribed, open';
      },
    },
  ],
};
