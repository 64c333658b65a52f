/**
 * Baseline: behaviour both systems already share (subscribe/publish, the `m:` prefix, `Set-Meta-*`, close codes
 * both ways, a rejected handshake). If these differ, suspect the harness before the server.
 */
import { control, echoClose, openReply, say, textOf, type BackendReply } from '../backend.js';
import { settle, waitUntil } from '../client.js';
import { closeOutcome, list, realTexts, type Group } from '../scenario.js';

export const baseline: Group = {
  name: 'baseline',
  title: 'what already matches (harness sanity)',
  scenarios: [
    {
      id: 'baseline.publish',
      title: 'subscribe in the OPEN reply, then publish',
      async run(ctx) {
        const channel = ctx.channel();
        const client = await ctx.subscribedClient([channel]);
        if (!client) return 'not subscribed';
        await ctx.publishText(channel, 'hello');
        await ctx.publish([{ channel, formats: { 'ws-message': { 'content-bin': Buffer.from('bin').toString('base64') } } }]);
        await waitUntil(() => realTexts(client).length >= 1 && client.count('binary') >= 1, 3_000);
        return `text: ${list(realTexts(client))}; binary frames: ${client.count('binary')}`;
      },
    },
    {
      id: 'baseline.message-prefix',
      title: 'backend messages need the m: prefix; unprefixed ones are dropped',
      async run(ctx) {
        ctx.route((req): BackendReply => {
          if (req.events[0]?.type === 'OPEN') return openReply();
          if (req.events.some((e) => e.type === 'TEXT')) return { events: [say('one'), ['TEXT', 'unprefixed'], say('three'), say('end')] };
          return echoClose(req) ?? {};
        });
        const client = await ctx.connect();
        client.send('hi');
        await waitUntil(() => client.texts().includes('end'), 5_000);
        return `client got: ${list(client.texts())}`;
      },
    },
    {
      id: 'baseline.set-meta-header',
      title: 'Set-Meta-User on the OPEN reply comes back as Meta-User',
      async run(ctx) {
        const requests = ctx.route((req) =>
          req.events[0]?.type === 'OPEN' ? openReply([], { 'Set-Meta-User': 'alice' }) : (echoClose(req) ?? {}),
        );
        const client = await ctx.connect();
        client.send('x');
        await waitUntil(() => requests.some((r) => r.events.some((e) => e.type === 'TEXT')), 5_000);
        const next = requests.find((r) => r.events.some((e) => e.type === 'TEXT'));
        return next ? `next request: Meta-User=${next.meta['user'] ?? '(none)'}` : 'no request';
      },
    },
    {
      id: 'baseline.backend-close',
      title: 'backend CLOSE 4000 reaches the client',
      async run(ctx) {
        ctx.route((req): BackendReply => {
          if (req.events[0]?.type === 'OPEN') return openReply();
          if (req.events.some((e) => e.type === 'TEXT'))
            return { events: [['CLOSE', Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('server-bye')])]] };
          return {};
        });
        const client = await ctx.connect();
        client.send('bye');
        await waitUntil(() => client.close !== null, 5_000);
        return closeOutcome(client);
      },
    },
    {
      id: 'baseline.client-close',
      title: 'client close 4001 reaches the backend as CLOSE',
      async run(ctx) {
        const requests = ctx.route((req) => (req.events[0]?.type === 'OPEN' ? openReply() : (echoClose(req) ?? {})));
        const client = await ctx.connect();
        await client.end(4001, 'client-bye');
        await settle(() => requests.length, 500, 3_000);
        const close = requests.flatMap((r) => r.events).find((e) => e.type === 'CLOSE' || e.type === 'DISCONNECT');
        if (!close) return 'backend got nothing';
        if (close.type === 'DISCONNECT' || close.content === null || close.content.length < 2) return `backend got ${close.type}`;
        return `backend got CLOSE ${close.content.readUInt16BE(0)} '${textOf({ type: 'CLOSE', content: close.content.subarray(2) })}'`;
      },
    },
    {
      id: 'baseline.client-drop',
      title: 'client drops the TCP connection: the backend gets DISCONNECT',
      async run(ctx) {
        const requests = ctx.route((req) => (req.events[0]?.type === 'OPEN' ? openReply() : (echoClose(req) ?? {})));
        const client = await ctx.connect();
        client.terminate();
        await waitUntil(() => requests.length > 1, 3_000);
        await settle(() => requests.length, 500, 2_000);
        return `backend got: ${list(requests.slice(1).flatMap((r) => r.events.map((e) => e.type)))}`;
      },
    },
    {
      id: 'baseline.subscription-cap',
      title: 'the OPEN reply subscribes to 21 channels (the cap is 20)',
      async run(ctx) {
        const channels = Array.from({ length: 21 }, (_, n) => ctx.channel(`n${n + 1}`));
        ctx.route((req) =>
          req.events[0]?.type === 'OPEN'
            ? openReply(channels.map((channel) => control({ type: 'subscribe', channel })))
            : (echoClose(req) ?? {}),
        );
        const client = await ctx.connect();
        const twentieth = await ctx.awaitSubscribed([client], channels[19] ?? '');
        await ctx.publishText(channels[20] ?? '', 'on-21st');
        await settle(() => client.received.length, 800, 3_000);
        return `20th channel: ${twentieth ? 'subscribed' : 'not subscribed'}; 21st: ${realTexts(client).includes('on-21st') ? 'subscribed' : 'ignored'}`;
      },
    },
    {
      id: 'baseline.reject',
      title: 'backend answers OPEN with 403: the handshake fails with 403',
      async run(ctx) {
        ctx.route(() => ({ status: 403, headers: { 'Content-Type': 'text/plain' } }));
        try {
          await ctx.connect();
          return 'connected';
        } catch (e) {
          return e instanceof Error ? e.message : String(e);
        }
      },
    },
    {
      id: 'baseline.publish-close',
      title: 'publish a close action with code 4002',
      async run(ctx) {
        const channel = ctx.channel();
        const client = await ctx.subscribedClient([channel]);
        if (!client) return 'not subscribed';
        const result = await ctx.publish([{ channel, formats: { 'ws-message': { action: 'close', code: 4002, reason: 'published' } } }]);
        await waitUntil(() => client.close !== null, 5_000);
        return `publish ${result.status}; client ${closeOutcome(client)}`;
      },
    },
  ],
};
