import { describe, expect, it } from 'vitest';
import { onMessage } from '#src/domain/session/message.js';
import { backendError, binaryFrame, closeFrame, eventsReply, httpReply, storeError, textFrame } from '#test-helpers/fakes.js';
import { connectionRecord, sessionHarness, TARGET_URL } from '#test-helpers/harness.js';

const ID = 'L0SM9cOFvHcCIhw=';
const subscribe = (channel: string) => textFrame(`c:{"type":"subscribe","channel":"${channel}"}`);
const unsubscribe = (channel: string) => textFrame(`c:{"type":"unsubscribe","channel":"${channel}"}`);

function connected(config: Parameters<typeof sessionHarness>[0] = {}, record = connectionRecord(ID, { meta: { user: 'alice' } })) {
  const h = sessionHarness(config);
  h.store.seedConnection(record);
  return h;
}

describe('onMessage: forwarding', () => {
  it('forwards the text as a TEXT event with the replayed handshake and the stored Meta-*', async () => {
    const h = connected();

    await onMessage(h.deps, { connectionId: ID, text: 'héllo' });

    expect(h.backend.requests).toHaveLength(1);
    const request = h.backend.requests[0];
    expect(request?.url).toBe(`${TARGET_URL}?room=1`);
    expect(new TextDecoder().decode(request?.body)).toBe('TEXT 6\r\nhéllo\r\n');
    expect(request?.headers).toMatchObject({
      'Connection-Id': ID,
      'Grip-Sig': h.signer.token,
      'Meta-user': 'alice',
      cookie: 'sid=abc',
      origin: 'https://app.example',
    });
    expect(h.metrics.total('MessagesIn')).toBe(1);
  });

  it('posts the reply’s messages in order, prefix stripped, binary as bytes', async () => {
    const h = connected();
    h.backend.respond(
      eventsReply([textFrame('m:one'), binaryFrame(new Uint8Array([0x6d, 0x3a, 7, 8])), textFrame('m:two'), textFrame('no prefix')]),
    );

    const outcome = await onMessage(h.deps, { connectionId: ID, text: 'hi' });

    expect(outcome).toEqual({ kind: 'handled', sent: 3 });
    expect(h.sender.posted(ID)).toEqual(['one', new Uint8Array([7, 8]), 'two']);
    expect(h.sender.closes()).toEqual([]);
    expect(h.metrics.total('MessagesOut')).toBe(3);
    expect(h.log.find('warn', 'does not start with the message prefix')).toHaveLength(1);
  });

  it('stores meta changes (an empty value deletes)', async () => {
    const h = connected(undefined, connectionRecord(ID, { meta: { user: 'alice', room: 'hall' } }));
    h.backend.respond(eventsReply('', { 'Set-Meta-Room': 'lobby', 'Set-Meta-User': '', 'Set-Meta-Lang': 'fr' }));

    await onMessage(h.deps, { connectionId: ID, text: 'hi' });

    expect(h.store.records.get(ID)?.meta).toEqual({ room: 'lobby', lang: 'fr' });
    await onMessage(h.deps, { connectionId: ID, text: 'again' });
    expect(h.backend.requests[1]?.headers).toMatchObject({ 'Meta-room': 'lobby', 'Meta-lang': 'fr' });
    expect(Object.keys(h.backend.requests[1]?.headers ?? {})).not.toContain('Meta-user');
  });

  it('applies subscribe/unsubscribe against the current subscriptions, within the cap', async () => {
    const h = connected({ maxSubscriptionsPerConnection: 3 });
    h.store.seedSubscribers('a', [ID]);
    h.store.seedSubscribers('b', [ID]);
    h.backend.respond(eventsReply([unsubscribe('a'), subscribe('c'), subscribe('b'), subscribe('d'), subscribe('e'), unsubscribe('zz')]));

    const outcome = await onMessage(h.deps, { connectionId: ID, text: 'hi' });

    expect(outcome).toEqual({ kind: 'handled', sent: 0 });
    expect([...(h.store.subscriptions.get(ID)?.keys() ?? [])].sort()).toEqual(['b', 'c', 'd']);
    expect(h.store.callsOf('unsubscribe').map((c) => c.args[1])).toEqual([['a']]);
    expect(h.store.callsOf('subscribe').map((c) => c.args[1])).toEqual([['c', 'd']]);
    expect(h.store.callsOf('subscribe')[0]?.args[2]).toBe(h.store.records.get(ID)?.expiresAt);
    expect(h.log.find('warn', '"e" ignored')).toHaveLength(1);
  });

  it('keeps the cap under concurrency: ten replies each subscribing 20 channels at once leave at most 20', async () => {
    const h = connected({ maxSubscriptionsPerConnection: 20 }, connectionRecord(ID, { subscriptionCount: 0 }));
    for (let r = 0; r < 10; r++) h.backend.respond(eventsReply(Array.from({ length: 20 }, (_, c) => subscribe(`r${r}-c${c}`))));

    await Promise.all(Array.from({ length: 10 }, () => onMessage(h.deps, { connectionId: ID, text: 'go' })));

    expect(h.store.subscriptions.get(ID)?.size).toBe(20);
    expect(h.store.records.get(ID)?.subscriptionCount).toBe(20);
    expect(h.log.find('warn', 'would pass the cap of 20')).toHaveLength(9);
  });

  it('does not touch subscriptions when the reply has no subscription changes', async () => {
    const h = connected();
    h.backend.respond(eventsReply(textFrame('m:x')));
    await onMessage(h.deps, { connectionId: ID, text: 'hi' });
    expect(h.store.callsOf('listSubscriptions')).toHaveLength(0);
    expect(h.store.callsOf('listSubscriptionFilters')).toHaveLength(0);
  });
});

describe('onMessage: publish filters and set-meta', () => {
  const control = (message: Record<string, unknown>) => textFrame(`c:${JSON.stringify(message)}`);
  const setMeta = (name: string, value?: string) => control({ type: 'set-meta', name, ...(value !== undefined ? { value } : {}) });
  const subscribeWith = (channel: string, filters: string[]) => control({ type: 'subscribe', channel, filters });

  it('keeps set-meta as filter meta, apart from Set-Meta-* meta, and writes it with each filtered subscription', async () => {
    const h = connected();
    h.backend.respond(eventsReply([setMeta('user', 'bob'), subscribeWith('room', ['skip-self']), subscribe('plain')]));

    await onMessage(h.deps, { connectionId: ID, text: 'login' });

    expect(h.store.records.get(ID)?.filterMeta).toEqual({ user: 'bob' });
    expect(h.store.records.get(ID)?.meta).toEqual({ user: 'alice' });
    expect(h.store.subscriptionFilters.get(ID)).toEqual(new Map([['room', { names: ['skip-self'], meta: { user: 'bob' } }]]));
    expect([...(h.store.subscriptions.get(ID)?.keys() ?? [])].sort()).toEqual(['plain', 'room']);
    expect(h.log.find('warn', 'set-meta')).toHaveLength(0);
  });

  it('a later set-meta rewrites the filter state of filtered subscriptions only; the same value writes nothing', async () => {
    const h = connected();
    h.backend.respond(eventsReply([setMeta('user', 'bob'), subscribeWith('room', ['skip-self']), subscribe('plain')]));
    await onMessage(h.deps, { connectionId: ID, text: 'login' });
    h.backend.respond(eventsReply([setMeta('user', 'carol')]));
    await onMessage(h.deps, { connectionId: ID, text: 'rename' });

    expect(h.store.callsOf('updateSubscriptionFilters').map((c) => c.args[1])).toEqual([
      new Map([['room', { names: ['skip-self'], meta: { user: 'carol' } }]]),
    ]);
    expect(h.store.subscriptionFilters.get(ID)?.get('room')?.meta).toEqual({ user: 'carol' });

    h.backend.respond(eventsReply([setMeta('user', 'carol')]));
    await onMessage(h.deps, { connectionId: ID, text: 'same' });
    h.backend.respond(eventsReply([setMeta('user')]));
    await onMessage(h.deps, { connectionId: ID, text: 'logout' });
    expect(h.store.callsOf('listSubscriptionFilters')).toHaveLength(3);
    expect(h.store.records.get(ID)?.filterMeta).toEqual({});
    expect(h.store.subscriptionFilters.get(ID)?.get('room')?.meta).toEqual({});
  });

  it("require-sub carries the connection's channels, kept current as it subscribes and unsubscribes", async () => {
    const h = connected();
    h.backend.respond(eventsReply([subscribeWith('room', ['require-sub']), subscribe('vip')]));
    await onMessage(h.deps, { connectionId: ID, text: 'join' });
    expect(h.store.subscriptionFilters.get(ID)?.get('room')?.channels).toEqual(['room', 'vip']);

    h.backend.respond(eventsReply([unsubscribe('vip')]));
    await onMessage(h.deps, { connectionId: ID, text: 'leave vip' });
    expect(h.store.subscriptionFilters.get(ID)?.get('room')?.channels).toEqual(['room']);
  });

  it('subscribing again replaces the filter list; without filters the subscription loses them', async () => {
    const h = connected();
    h.backend.respond(eventsReply([subscribeWith('room', ['skip-self'])]));
    await onMessage(h.deps, { connectionId: ID, text: '1' });
    h.backend.respond(eventsReply([subscribeWith('room', ['skip-users'])]));
    await onMessage(h.deps, { connectionId: ID, text: '2' });
    expect(h.store.subscriptionFilters.get(ID)?.get('room')?.names).toEqual(['skip-users']);
    h.backend.respond(eventsReply([subscribe('room')]));
    await onMessage(h.deps, { connectionId: ID, text: '3' });
    expect(h.store.subscriptionFilters.get(ID)?.has('room')).toBe(false);
    expect(h.store.records.get(ID)?.subscriptionCount).toBe(1);
  });

  it('more than 5 filters: the reply is carried out without that subscribe, then the client is closed with 1011', async () => {
    const h = connected();
    h.backend.respond(eventsReply([textFrame('m:before'), subscribeWith('room', ['a', 'b', 'c', 'd', 'e', 'f']), subscribe('ok')]));

    const outcome = await onMessage(h.deps, { connectionId: ID, text: 'hi' });

    expect(outcome).toEqual({ kind: 'closed', reason: "too many filters for channel 'room'" });
    expect(h.sender.posted(ID)).toEqual(['before']);
    expect(h.sender.closes()).toEqual([{ connectionId: ID, request: { code: 1011 } }]);
    expect([...(h.store.subscriptions.get(ID)?.keys() ?? [])]).toEqual(['ok']);
  });

  it('logs unknown filter names, which are kept and skipped at delivery', async () => {
    const h = connected();
    h.backend.respond(eventsReply([subscribeWith('room', ['no-such-filter'])]));
    await onMessage(h.deps, { connectionId: ID, text: 'hi' });
    expect(h.log.find('warn', 'unknown filters ["no-such-filter"]')).toHaveLength(1);
    expect(h.store.subscriptionFilters.get(ID)?.get('room')?.names).toEqual(['no-such-filter']);
  });
});

describe('onMessage: closing', () => {
  it('a CLOSE with a code closes the client with that code and reason, after the messages before it; nothing after', async () => {
    const h = connected();
    h.backend.respond(eventsReply([textFrame('m:bye soon'), closeFrame(4001, 'kicked'), textFrame('m:never')]));

    const outcome = await onMessage(h.deps, { connectionId: ID, text: 'hi' });

    expect(outcome.kind).toBe('closed');
    expect(h.sender.calls).toEqual([
      { op: 'post', connectionId: ID, data: 'bye soon' },
      { op: 'close', connectionId: ID, request: { code: 4001, reason: 'kicked' } },
    ]);
    expect(h.metrics.total('ConnectionsClosed')).toBe(1);
  });

  it('a CLOSE without a code closes without one; js-grip’s code 0 becomes 1000', async () => {
    const plain = connected();
    plain.backend.respond(eventsReply(closeFrame(null)));
    await onMessage(plain.deps, { connectionId: ID, text: 'hi' });
    expect(plain.sender.closes(ID)).toEqual([{ connectionId: ID, request: {} }]);

    const zero = connected();
    zero.backend.respond(eventsReply(closeFrame(0)));
    await onMessage(zero.deps, { connectionId: ID, text: 'hi' });
    expect(zero.sender.closes(ID)).toEqual([{ connectionId: ID, request: { code: 1000, reason: '' } }]);
  });

  it('a close reason longer than a close frame allows is cut to 123 bytes', async () => {
    const h = connected();
    h.backend.respond(eventsReply(closeFrame(4000, 'é'.repeat(100))));

    await onMessage(h.deps, { connectionId: ID, text: 'hi' });

    const reason = h.sender.closes(ID)[0]?.request?.reason ?? '';
    expect(new TextEncoder().encode(reason).length).toBeLessThanOrEqual(123);
    expect(reason).toBe('é'.repeat(61));
  });

  it('a DISCONNECT drops the client (close without a request)', async () => {
    const h = connected();
    h.backend.respond(eventsReply('DISCONNECT\r\n'));

    const outcome = await onMessage(h.deps, { connectionId: ID, text: 'hi' });

    expect(outcome).toEqual({ kind: 'closed', reason: 'backend dropped the connection' });
    expect(h.sender.closes(ID)).toEqual([{ connectionId: ID, request: undefined }]);
  });

  it.each(['connect', 'timeout', 'too-large', 'protocol'] as const)(
    'backend failure (%s, after any retries) closes the client with 1011 and changes nothing',
    async (kind) => {
      const h = connected();
      h.backend.fallback = backendError(kind);

      const outcome = await onMessage(h.deps, { connectionId: ID, text: 'hi' });

      expect(outcome).toEqual({ kind: 'closed', reason: `backend ${kind}` });
      expect(h.sender.calls).toEqual([{ op: 'close', connectionId: ID, request: { code: 1011, reason: 'backend unavailable' } }]);
      expect(h.store.callsOf('updateConnection')).toHaveLength(0);
      expect(h.log.find('error', ID)).toHaveLength(1);
    },
  );

  it.each([
    ['a 500', httpReply(500, 'oops', { 'Set-Meta-Room': 'x' })],
    ['a wrong content type', httpReply(200, '', { 'Content-Type': 'application/websocket-events; charset=utf-8', 'Set-Meta-Room': 'x' })],
    ['an undecodable body', eventsReply('TEXT 99\r\nshort\r\n', { 'Set-Meta-Room': 'x' })],
  ])('an invalid reply (%s) closes the client with 1011 and applies nothing', async (_name, reply) => {
    const h = connected();
    h.backend.respond(reply);

    const outcome = await onMessage(h.deps, { connectionId: ID, text: 'hi' });

    expect(outcome.kind).toBe('closed');
    expect(h.sender.calls).toEqual([{ op: 'close', connectionId: ID, request: { code: 1011, reason: 'invalid backend reply' } }]);
    expect(h.store.records.get(ID)?.meta).toEqual({ user: 'alice' });
    expect(h.store.callsOf('updateConnection')).toHaveLength(0);
    expect(h.metrics.total('BackendErrors')).toBe(1);
  });

  it('an unknown connection is closed without asking the backend', async () => {
    const h = sessionHarness();

    const outcome = await onMessage(h.deps, { connectionId: 'nobody', text: 'hi' });

    expect(outcome).toEqual({ kind: 'unknown-connection' });
    expect(h.backend.requests).toHaveLength(0);
    expect(h.sender.closes('nobody')).toHaveLength(1);
    expect(h.sender.closes('nobody')[0]?.request?.code).toBe(1011);
  });

  it('a store read failure drops the message but keeps the connection', async () => {
    const h = connected();
    h.store.failOnce('getConnection', storeError('throttled'));

    const outcome = await onMessage(h.deps, { connectionId: ID, text: 'hi' });

    expect(outcome).toEqual({ kind: 'handled', sent: 0 });
    expect(h.backend.requests).toHaveLength(0);
    expect(h.sender.calls).toEqual([]);
    expect(h.log.find('error', ID)).toHaveLength(1);
  });
});

describe('onMessage: sending the reply', () => {
  it('a 410 on a reply send deletes the connection’s items and stops sending', async () => {
    const h = connected();
    h.store.seedSubscribers('room', [ID]);
    h.sender.script(ID, 'gone');
    h.backend.respond(eventsReply([textFrame('m:one'), textFrame('m:two')]));

    const outcome = await onMessage(h.deps, { connectionId: ID, text: 'hi' });

    expect(outcome).toEqual({ kind: 'closed', reason: 'client gone' });
    expect(h.sender.calls).toHaveLength(1);
    expect(h.store.hasItems(ID)).toBe(false);
  });

  it('other send failures are logged and the remaining messages still go out', async () => {
    const h = connected();
    h.sender.script(ID, 'throttled', 'ok');
    h.backend.respond(eventsReply([textFrame('m:one'), textFrame('m:two')]));

    const outcome = await onMessage(h.deps, { connectionId: ID, text: 'hi' });

    expect(outcome).toEqual({ kind: 'handled', sent: 1 });
    expect(h.sender.posted(ID)).toEqual(['one', 'two']);
    expect(h.log.find('error', 'could not send a reply message')).toHaveLength(1);
    expect(h.store.hasItems(ID)).toBe(true);
  });
});

describe('detach (Pushpin: the backend side closes, the client and its subscriptions stay)', () => {
  it('marks the connection detached, sends the backend one code-less CLOSE, then drops the client’s frames', async () => {
    const h = connected();
    h.store.seedSubscribers('news', [ID]);
    h.backend.respond(eventsReply([textFrame('m:bye backend'), textFrame('c:{"type":"detach"}')]));

    await onMessage(h.deps, { connectionId: ID, text: 'detach-me' });

    expect(h.sender.posted(ID)).toEqual(['bye backend']);
    expect(h.backend.requests).toHaveLength(2);
    expect(h.backend.bodyText(1)).toBe('CLOSE\r\n');
    expect((await h.store.getConnection(ID)).ok && h.store.records.get(ID)?.detached).toBe(true);

    const outcome = await onMessage(h.deps, { connectionId: ID, text: 'after' });
    expect(outcome).toEqual({ kind: 'handled', sent: 0 });
    expect(h.backend.requests).toHaveLength(2);
    expect(h.store.indexOf('news')).toHaveLength(1);
  });
});

describe('onMessage: idle keep-alive timing', () => {
  const keepAlive = { payload: { kind: 'text' as const, text: '{}' }, timeoutSeconds: 30, mode: 'idle' as const, since: 1 };

  it('a client message answered with nothing does not restart the idle timer (Pushpin counts frames sent to the client)', async () => {
    const h = connected({}, connectionRecord(ID, { keepAlive, lastActivityAt: 1_800_000_000_000 - 60_000 }));
    h.backend.respond(eventsReply([]));
    await onMessage(h.deps, { connectionId: ID, text: 'talking' });
    expect(h.store.records.get(ID)?.lastActivityAt).toBe(1_800_000_000_000 - 60_000);
  });

  it('a reply that sends the client something does', async () => {
    const h = connected({}, connectionRecord(ID, { keepAlive, lastActivityAt: 1_800_000_000_000 - 60_000 }));
    h.backend.respond(eventsReply([textFrame('m:hello')]));
    await onMessage(h.deps, { connectionId: ID, text: 'talking' });
    expect(h.store.records.get(ID)?.lastActivityAt).toBe(h.time.now);
  });
});

describe('onMessage: Keep-Alive-Interval', () => {
  it('a reply’s Keep-Alive-Interval turns polling on (a new chain), a same one keeps it, 0 turns it off', async () => {
    const h = connected();
    h.backend.respond(eventsReply('', { 'Keep-Alive-Interval': '30' }));
    await onMessage(h.deps, { connectionId: ID, text: 'a' });
    const since = h.time.now;
    expect(h.store.records.get(ID)).toMatchObject({ backendPoll: { intervalSeconds: 30, since }, lastExchangeAt: since });
    expect(h.queue.queued.map((q) => q.entry.job)).toEqual([{ v: 1, kind: 'poll', connectionId: ID, since, dueAt: since + 30_000 }]);

    h.time.advance(1_000);
    h.backend.respond(eventsReply('', { 'Keep-Alive-Interval': '30' }));
    await onMessage(h.deps, { connectionId: ID, text: 'b' });
    expect(h.store.records.get(ID)?.backendPoll).toEqual({ intervalSeconds: 30, since });
    expect(h.queue.queued).toHaveLength(1);

    h.backend.respond(eventsReply('', { 'Keep-Alive-Interval': '0' }));
    await onMessage(h.deps, { connectionId: ID, text: 'c' });
    expect(h.store.records.get(ID)?.backendPoll).toBeNull();
  });

  it('records the last exchange only once the stored one is half an interval old (no write per message)', async () => {
    const h = sessionHarness();
    const start = h.time.now;
    h.store.seedConnection(connectionRecord(ID, { backendPoll: { intervalSeconds: 20, since: 0 }, lastExchangeAt: start }));
    h.time.advance(5_000);
    await onMessage(h.deps, { connectionId: ID, text: 'soon' });
    expect(h.store.callsOf('updateConnection')).toHaveLength(0);
    h.time.advance(6_000);
    await onMessage(h.deps, { connectionId: ID, text: 'later' });
    expect(h.store.records.get(ID)?.lastExchangeAt).toBe(start + 11_000);
  });
});
