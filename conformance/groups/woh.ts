/**
 * The rest of WebSocket-over-HTTP (docs/pushpin-semantics.md §1.3, §1.5, §1.8, §1.9, §0): `Keep-Alive-Interval`
 * polling (minimum 20 s, so two scenarios need > 20 s; they run at the same time as the others), an empty OPEN
 * reply, the publish `refresh` action, `Content-Bytes-Accepted`, and an invalid control message.
 */
import { control, echoClose, openReply, textOf, type BackendReply, type BackendRequest } from '../backend.js';
import { sleep, waitUntil } from '../client.js';
import { closeOutcome, list, type Group } from '../scenario.js';

function emptyRequests(requests: readonly BackendRequest[]): BackendRequest[] {
  return requests.filter((r) => r.events.length === 0);
}

export const woh: Group = {
  name: 'woh',
  title: 'Keep-Alive-Interval, refresh, Content-Bytes-Accepted',
  concurrent: true,
  scenarios: [
    {
      id: 'woh.keep-alive-interval',
      title: "OPEN reply with 'Keep-Alive-Interval: 5': when does the first empty request come?",
      long: 'Pushpin raises the interval to its 20 s minimum',
      async run(ctx) {
        let openedAt = 0;
        const requests = ctx.route((req): BackendReply => {
          if (req.events[0]?.type === 'OPEN') {
            openedAt = Date.now();
            return openReply([], { 'Keep-Alive-Interval': '5' });
          }
          return echoClose(req) ?? {};
        });
        await ctx.connect();
        await waitUntil(() => emptyRequests(requests).length > 0, 26_000);
        const first = emptyRequests(requests)[0];
        if (!first) return 'no empty request within 26 s';
        const s = (first.receivedAt - openedAt) / 1000;
        return s >= 19 && s < 22 ? 'first empty request after 20 s' : `first empty request after ~${Math.round(s)} s`;
      },
    },
    {
      id: 'woh.empty-open',
      title: "empty OPEN reply with 'Keep-Alive-Interval: 20', then a normal one",
      long: 'the deferred OPEN is retried after the 20 s interval',
      async run(ctx) {
        let opens = 0;
        const started = Date.now();
        ctx.route((req): BackendReply => {
          if (req.events[0]?.type === 'OPEN') {
            opens++;
            return opens === 1 ? { headers: { 'Keep-Alive-Interval': '20' }, events: [] } : openReply();
          }
          return echoClose(req) ?? {};
        });
        try {
          const client = await ctx.connect('c', 30_000);
          const s = (client.openedAt - started) / 1000;
          return `client open after ${s >= 19 && s < 23 ? '20 s' : `~${Math.round(s)} s`}; OPEN requests: ${opens}`;
        } catch (e) {
          return `${e instanceof Error ? e.message : String(e)}; OPEN requests: ${opens}`;
        }
      },
    },
    {
      id: 'woh.refresh',
      title: "publish {action: 'refresh'} to a subscriber's channel",
      async run(ctx) {
        const channel = ctx.channel();
        const requests = ctx.route((req) =>
          req.events[0]?.type === 'OPEN' ? openReply([control({ type: 'subscribe', channel })]) : (echoClose(req) ?? {}),
        );
        const client = await ctx.connect();
        if (!(await ctx.awaitSubscribed([client], channel))) return 'not subscribed';
        const result = await ctx.publish([{ channel, formats: { 'ws-message': { action: 'refresh' } } }]);
        await waitUntil(() => emptyRequests(requests).length > 0, 2_000);
        return `publish ${result.status}; backend got ${emptyRequests(requests).length > 0 ? 'an empty request' : 'nothing'}`;
      },
    },
    {
      id: 'woh.content-bytes-accepted',
      title: "client sends 'hello', backend answers 'Content-Bytes-Accepted: 2'; then the client sends 'X'",
      async run(ctx) {
        let answered = false;
        const requests = ctx.route((req): BackendReply => {
          if (req.events[0]?.type === 'OPEN') return openReply();
          const close = echoClose(req);
          if (close) return close;
          if (!answered && req.events.some((e) => e.type === 'TEXT')) {
            answered = true;
            return { headers: { 'Content-Bytes-Accepted': '2' } };
          }
          return {};
        });
        const client = await ctx.connect();
        client.send('hello');
        await waitUntil(() => answered, 3_000);
        await sleep(300);
        client.send('X');
        await waitUntil(() => requests.some((r) => r.events.some((e) => e.type === 'TEXT' && textOf(e) === 'X')), 3_000);
        const next = requests.find((r) => r.events.some((e) => e.type === 'TEXT' && textOf(e) === 'X'));
        return next
          ? `next request: ${list(next.events.map((e) => `${e.type} ${textOf(e)}`))}`.replace(/,/g, ', ')
          : 'X never reached the backend';
      },
    },
    {
      id: 'woh.backend-error',
      title: 'backend answers a message with 500',
      async run(ctx) {
        ctx.route((req): BackendReply => (req.events[0]?.type === 'OPEN' ? openReply() : (echoClose(req) ?? { status: 500 })));
        const client = await ctx.connect();
        client.send('x');
        await waitUntil(() => client.close !== null, 5_000);
        return `client ${closeOutcome(client)}`;
      },
    },
    {
      id: 'woh.backend-close-no-code',
      title: 'backend CLOSE without a code',
      async run(ctx) {
        ctx.route((req): BackendReply => {
          if (req.events[0]?.type === 'OPEN') return openReply();
          return req.events.some((e) => e.type === 'TEXT') ? { events: [['CLOSE']] } : {};
        });
        const client = await ctx.connect();
        client.send('bye');
        await waitUntil(() => client.close !== null, 5_000);
        return `client ${closeOutcome(client)}`;
      },
    },
    {
      id: 'woh.invalid-control-message',
      title: 'OPEN reply carries c:{"type":"bogus"}; is the client still connected 10 s later?',
      async run(ctx) {
        ctx.route((req) => (req.events[0]?.type === 'OPEN' ? openReply([control({ type: 'bogus' })]) : (echoClose(req) ?? {})));
        const client = await ctx.connect();
        await waitUntil(() => client.close !== null, 10_000);
        if (client.close === null) return 'open after 10 s';
        return `${closeOutcome(client)} after ~${Math.round((client.close.at - client.openedAt) / 1000)} s`;
      },
    },
  ],
};
