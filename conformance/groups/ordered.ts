/**
 * Ordered requests (docs/pushpin-semantics.md §1.1–1.2): one request at a time per connection, a reply's
 * `Set-Meta-*` applied before the next request, and the messages that waited meanwhile batched into one request.
 */
import { echoClose, openReply, say, textOf, type BackendReply, type BackendRequest } from '../backend.js';
import { sleep, waitUntil } from '../client.js';
import type { Group } from '../scenario.js';

function texts(request: BackendRequest): string[] {
  return request.events.filter((e) => e.type === 'TEXT').map(textOf);
}

export const ordered: Group = {
  name: 'ordered',
  title: 'one request at a time per connection, in order',
  scenarios: [
    {
      id: 'ordered.login-then-act',
      title: "'login' (reply sets Set-Meta-User) then 'whoami' at once, on 5 connections",
      async run(ctx) {
        ctx.route(async (req): Promise<BackendReply> => {
          if (req.events[0]?.type === 'OPEN') return openReply();
          const close = echoClose(req);
          if (close) return close;
          const headers: Record<string, string> = {};
          const events: (readonly [string, string])[] = [];
          for (const text of texts(req)) {
            if (text.startsWith('login:')) {
              await sleep(50); // an app checks credentials: long enough for a concurrent whoami to overtake
              headers['Set-Meta-User'] = text.slice('login:'.length);
              events.push(say('ok'));
            } else if (text === 'whoami') events.push(say(`user=${req.meta['user'] ?? 'none'}`));
          }
          return { headers, events };
        });
        const clients = await Promise.all([1, 2, 3, 4, 5].map((n) => ctx.connect(`c${n}`)));
        for (const client of clients) {
          client.send('login:alice');
          client.send('whoami');
        }
        await waitUntil(() => clients.every((c) => c.texts().some((t) => t.startsWith('user='))), 5_000);
        const saw = clients.filter((c) => c.texts().includes('user=alice')).length;
        return `whoami saw the user on ${saw}/5`;
      },
    },
    {
      id: 'ordered.burst-order',
      title: 'reply order for a burst of 10 messages (backend slower for earlier ones)',
      async run(ctx) {
        ctx.route(async (req): Promise<BackendReply> => {
          if (req.events[0]?.type === 'OPEN') return openReply();
          const close = echoClose(req);
          if (close) return close;
          const batch = texts(req);
          const first = Number(batch[0]?.slice(1) ?? '10');
          await sleep((11 - first) * 15); // b1 takes longest: any concurrency reverses the replies
          return { events: batch.map((t) => say(`re:${t}`)) };
        });
        const client = await ctx.connect();
        for (let n = 1; n <= 10; n++) client.send(`b${n}`);
        await waitUntil(() => client.texts().length >= 10, 5_000);
        const replies = client.texts().map((t) => t.replace('re:b', ''));
        if (replies.length < 10) return `${replies.length} of 10 replies`;
        // Only in order / not: a concurrent system's exact order depends on scheduling.
        return replies.join(',') === '1,2,3,4,5,6,7,8,9,10' ? 'replies in order' : 'replies out of order';
      },
    },
    {
      id: 'ordered.batching',
      title: '10 messages sent while the first request is in flight: messages per request',
      async run(ctx) {
        let release: () => void = () => undefined;
        const held = new Promise<void>((resolve) => (release = resolve));
        let first = true;
        const requests = ctx.route(async (req): Promise<BackendReply> => {
          if (req.events[0]?.type === 'OPEN') return openReply();
          const close = echoClose(req);
          if (close) return close;
          if (first) {
            first = false;
            await held;
          }
          return { events: texts(req).map((t) => say(`re:${t}`)) };
        });
        const client = await ctx.connect();
        for (let n = 1; n <= 10; n++) client.send(`b${n}`);
        await sleep(300); // every message is at the server before the first reply leaves the backend
        release();
        await waitUntil(() => client.texts().length >= 10, 5_000);
        const sizes = requests.filter((r) => texts(r).length > 0).map((r) => texts(r).length);
        return `messages per request: ${sizes.join('+')}`;
      },
    },
  ],
};
