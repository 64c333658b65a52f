/**
 * `detach` (docs/pushpin-semantics.md §2.3): the backend side is closed with one code-less CLOSE, later client
 * frames are dropped, the client keeps its connection and subscriptions.
 */
import { control, openReply, textOf, type BackendEvent, type BackendReply, type BackendRequest } from '../backend.js';
import { settle, waitUntil, type TestClient } from '../client.js';
import { closeOutcome, list, realTexts, type ScenarioContext, type Group } from '../scenario.js';

function describe(event: BackendEvent): string {
  if (event.type === 'CLOSE')
    return event.content && event.content.length >= 2 ? `CLOSE ${event.content.readUInt16BE(0)}` : 'CLOSE (no code)';
  return event.content ? `${event.type} ${textOf(event)}` : event.type;
}

/** A subscribed client whose backend answers `detach-me` with a detach; returns the requests list too. */
async function detachedClient(ctx: ScenarioContext, channel: string): Promise<{ client: TestClient; requests: BackendRequest[] } | null> {
  const requests = ctx.route((req): BackendReply => {
    if (req.events[0]?.type === 'OPEN') return openReply([control({ type: 'subscribe', channel })]);
    if (req.events.some((e) => e.type === 'TEXT' && textOf(e) === 'detach-me')) return { events: [control({ type: 'detach' })] };
    return {}; // no CLOSE echo: Pushpin then ends the backend session at once
  });
  const client = await ctx.connect();
  if (!(await ctx.awaitSubscribed([client], channel))) return null;
  client.send('detach-me');
  await waitUntil(() => requests.some((r) => r.events.some((e) => e.type === 'CLOSE')), 2_000);
  return { client, requests };
}

function eventsAfterDetach(requests: readonly BackendRequest[]): string {
  const at = requests.findIndex((r) => r.events.some((e) => e.type === 'TEXT' && textOf(e) === 'detach-me'));
  return list(requests.slice(at + 1).flatMap((r) => r.events.map(describe)));
}

export const detach: Group = {
  name: 'detach',
  title: 'detach',
  scenarios: [
    {
      id: 'detach.forwarding',
      title: 'after detach: client sends 2 messages, a publish follows',
      async run(ctx) {
        const channel = ctx.channel();
        const setup = await detachedClient(ctx, channel);
        if (!setup) return 'not subscribed';
        const { client, requests } = setup;
        client.send('after1');
        client.send('after2');
        await settle(() => requests.length, 800, 3_000);
        await ctx.publishText(channel, 'pub-after');
        await waitUntil(() => realTexts(client).includes('pub-after'), 3_000);
        return `backend got: ${eventsAfterDetach(requests)}; publish reached client: ${realTexts(client).includes('pub-after') ? 'yes' : 'no'}; client ${closeOutcome(client)}`;
      },
    },
    {
      id: 'detach.client-close',
      title: 'a detached client closes with 4003',
      async run(ctx) {
        const setup = await detachedClient(ctx, ctx.channel());
        if (!setup) return 'not subscribed';
        const { client, requests } = setup;
        await settle(() => requests.length, 500, 2_000);
        const before = requests.length;
        await client.end(4003, 'bye');
        await settle(() => requests.length, 800, 3_000);
        const later = requests.slice(before).flatMap((r) => r.events.map(describe));
        return `close handshake completed: ${client.close?.code ?? 'no'}; backend then got: ${list(later)}`;
      },
    },
  ],
};
