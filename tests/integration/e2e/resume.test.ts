/**
 * History and gap-free resume end to end (issue 14): a backend written with our client library subscribes each
 * client with the `since` its URL carries. A client that was away gets every item it missed, in order, then the
 * live ones, with no gap and no duplicate at the seam, even while publishes keep arriving.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient, WebSocketReply } from '#src/client/index.js';
import { ClientPool, E2E_KEY, startE2E, waitFor, type E2EStack } from '#test-helpers/e2e.js';

describe('resume end to end', () => {
  let e2e: E2EStack;
  let control: ControlClient;
  const clients = new ClientPool();

  beforeAll(async () => {
    e2e = await startE2E({ delivery: 'direct', settings: { historyMaxItems: 100 } });
    control = new ControlClient({ url: e2e.stack.controlUrl, key: E2E_KEY, iss: 'e2e-tests', retry: false });
    // /resume/<channel>?since=<id>&rf=<text>: subscribe to <channel>, resuming after `since` when given.
    e2e.backend.route('/resume', async (request, recorded) => {
      const reply = new WebSocketReply({ request });
      if (!request.isOpening) return reply.toResponse();
      const channel = recorded.query.get('channel') ?? 'none';
      const since = recorded.query.get('since') ?? undefined;
      const recoveryFailed = recorded.query.get('rf') ?? undefined;
      return reply.accept().subscribe(channel, { since, recoveryFailed }).toResponse();
    });
  });
  afterEach(() => clients.closeAll());
  afterAll(() => e2e?.stop());

  const url = (channel: string, params: Record<string, string> = {}) =>
    `${e2e.stack.wsUrl}/resume?${new URLSearchParams({ channel, ...params }).toString()}`;
  const publishAll = async (channel: string, from: number, to: number) => {
    for (let i = from; i <= to; i++) await control.publish(channel, `m${i}`, { id: `id-${i}` });
  };
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);

  it('a client away for 50 items reconnects with since while 20 more are published: it has all 70, in order, once', async () => {
    const channel = 'resume-seam';
    const first = await clients.connect(url(channel));
    await publishAll(channel, 1, 5);
    await first.nth(5);
    first.ws.close();
    await first.closed;

    await publishAll(channel, 6, 55);
    // Reconnect while 20 more items are being published: the seam lands somewhere inside them.
    const more = publishAll(channel, 56, 75);
    const again = await clients.connect(url(channel, { since: 'id-5' }));
    await more;
    await again.nth(70, 30_000);
    await control.publish(channel, 'end', { id: 'id-end' });
    await again.nth(71);
    expect(again.messages).toEqual([...range(6, 75), 'end']);
    expect(e2e.stack.metrics.counter('ResumesReplayed')).toBeGreaterThan(0);
  }, 60_000);

  it('sends recovery-failed for an unknown id, then continues live; without it, just continues live', async () => {
    const channel = 'resume-unknown';
    await publishAll(channel, 1, 3);
    const told = await clients.connect(url(channel, { since: 'never-published', rf: '{"type":"reload"}' }));
    const silent = await clients.connect(url(channel, { since: 'never-published' }));
    await waitFor(async () => e2e.stack.metrics.counter('ResumesFailed') >= 2, 'both resumes to fail');
    await control.publish(channel, 'live', { id: 'id-live' });
    await told.nth(2);
    await silent.nth(1);
    expect(told.messages).toEqual(['{"type":"reload"}', 'live']);
    expect(silent.messages).toEqual(['live']);
  });

  it('fails a resume more than historyMaxItems behind (100 here), sending recovery-failed instead of a partial replay', async () => {
    const channel = 'resume-far';
    await publishAll(channel, 1, 102);
    const client = await clients.connect(url(channel, { since: 'id-1', rf: 'reload' }));
    await client.nth(1);
    await control.publish(channel, 'live', { id: 'id-live' });
    await client.nth(2);
    expect(client.messages).toEqual(['reload', 'live']);
  });

  it('serves the channel history over the control API', async () => {
    const channel = 'resume-history';
    await publishAll(channel, 1, 4);
    const client = await clients.connect(url(channel));
    await control.publish(channel, 'probe', { id: 'id-probe' });
    // The publishes before the client subscribed may still be on their way: the probe comes after all of them.
    await waitFor(() => client.messages.includes('probe'), 'the probe');
    const page = await control.history(channel, { since: 'id-2', limit: 2 });
    expect(page.ok && page.value.items.map((i) => i.type === 'text' && i.content)).toEqual(['m3', 'm4']);
    expect(page.ok && page.value.more).toBe(true);
    const latest = await control.history(channel, { limit: 2 });
    expect(latest.ok && latest.value.items.map((i) => i.id)).toEqual(['id-4', 'id-probe']);
    const unknown = await control.history(channel, { since: 'nope' });
    expect(unknown.ok ? null : unknown.error.kind).toBe('since-unknown');
  });
});
