/**
 * `keep-alive` control messages (docs/pushpin-semantics.md §2.2, §3.5), with a 2 s timeout. In `idle` mode
 * Pushpin's timer restarts on frames sent *to* the client, never on frames *from* it.
 */
import { control, echoClose, openReply, textOf, type BackendReply } from '../backend.js';
import { sleep, type TestClient } from '../client.js';
import type { Group, ScenarioContext } from '../scenario.js';

const TIMEOUT_SECONDS = 2;
const WATCH_MS = 6_500;

/** A client whose OPEN reply sets up keep-alives (and subscribes to `channel` if given). */
async function withKeepAlive(ctx: ScenarioContext, keepAlive: Readonly<Record<string, unknown>>, channel?: string): Promise<TestClient> {
  ctx.route((req): BackendReply => {
    if (req.events[0]?.type === 'OPEN')
      return openReply([
        ...(channel ? [control({ type: 'subscribe', channel })] : []),
        control({ type: 'keep-alive', timeout: TIMEOUT_SECONDS, ...keepAlive }),
      ]);
    return echoClose(req) ?? {};
  });
  return ctx.connect();
}

function heartbeatsSince(client: TestClient, since: number): number {
  return client.received.filter((r) => r.kind === 'text' && r.data === 'hb' && r.at >= since).length;
}

/** `none`, or `yes` (at least one per timeout period on average, so jitter cannot flip it). */
function heartbeats(n: number, periodMs: number): string {
  if (n === 0) return 'none';
  return n >= Math.floor(periodMs / (TIMEOUT_SECONDS * 1000)) - 1 ? 'about every 2 s' : `only ${n}`;
}

/** Heartbeats a subscribed client gets while a tick is published to it every 400 ms. */
async function whileReceiving(ctx: ScenarioContext, keepAlive: Readonly<Record<string, unknown>>): Promise<string> {
  const channel = ctx.channel();
  const client = await withKeepAlive(ctx, keepAlive, channel);
  if (!(await ctx.awaitSubscribed([client], channel))) return 'not subscribed';
  const since = Date.now();
  await tick(ctx, channel, WATCH_MS);
  return `heartbeats: ${heartbeats(heartbeatsSince(client, since), WATCH_MS)}`;
}

/** Publishes a tick to `channel` every 400 ms for `ms`. */
async function tick(ctx: ScenarioContext, channel: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await ctx.publishText(channel, 'tick');
    await sleep(400);
  }
}

export const keepalive: Group = {
  name: 'keepalive',
  title: 'keep-alive timers and heartbeats',
  concurrent: true,
  scenarios: [
    {
      id: 'keepalive.idle-silent',
      title: 'idle mode, 2 s, nothing happens for 6.5 s',
      async run(ctx) {
        const client = await withKeepAlive(ctx, { content: 'hb' });
        const since = Date.now();
        await sleep(WATCH_MS);
        return `heartbeats: ${heartbeats(heartbeatsSince(client, since), WATCH_MS)}`;
      },
    },
    {
      id: 'keepalive.idle-receiver',
      title: 'idle mode, 2 s, client only receives (a publish every 400 ms)',
      run: (ctx) => whileReceiving(ctx, { content: 'hb' }),
    },
    {
      id: 'keepalive.idle-talker',
      title: 'idle mode, 2 s, client only talks (a message every 400 ms, no replies)',
      async run(ctx) {
        const client = await withKeepAlive(ctx, { content: 'hb' });
        const since = Date.now();
        for (const end = since + WATCH_MS; Date.now() < end; await sleep(400)) client.send('talk');
        return `heartbeats: ${heartbeats(heartbeatsSince(client, since), WATCH_MS)}`;
      },
    },
    {
      id: 'keepalive.interval',
      title: 'interval mode, 2 s, while a publish arrives every 400 ms',
      run: (ctx) => whileReceiving(ctx, { content: 'hb', mode: 'interval' }),
    },
    {
      id: 'keepalive.ping',
      title: "message-type 'ping', 2 s: what the client and the backend see",
      async run(ctx) {
        const requests: { type: string; content: string }[] = [];
        ctx.route((req): BackendReply => {
          for (const e of req.events) requests.push({ type: e.type, content: textOf(e) });
          if (req.events[0]?.type === 'OPEN')
            return openReply([control({ type: 'keep-alive', timeout: TIMEOUT_SECONDS, content: 'hb', 'message-type': 'ping' })]);
          return echoClose(req) ?? {};
        });
        const client = await ctx.connect();
        await sleep(5_000);
        const pings = client.received.filter((r) => r.kind === 'ping');
        const texts = client.count('text');
        const pongs = requests.filter((r) => r.type === 'PONG');
        return (
          `client got ${pings.length > 0 ? `ping frames ('${pings[0]?.data ?? ''}')` : 'no ping frames'}` +
          `${texts > 0 ? ` and ${texts} text messages` : ''}; backend got ${pongs.length > 0 ? `PONG events ('${pongs[0]?.content ?? ''}')` : 'no PONG events'}`
        );
      },
    },
  ],
};
