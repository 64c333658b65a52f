import { describe, expect, it } from 'vitest';
import { expiryFor } from '#src/domain/connection.js';
import { parseJob, type ConnectionsJob } from '#src/domain/fanout/jobs.js';
import { onConnect, type ConnectInput } from '#src/domain/session/connect.js';
import { backendError, binaryFrame, closeFrame, eventsReply, gripAccept, httpReply, storeError, textFrame } from '#test-helpers/fakes.js';
import { sessionHarness, TARGET_URL } from '#test-helpers/harness.js';

const ID = 'L0SM9cOFvHcCIhw=';

function input(overrides: Partial<ConnectInput> = {}): ConnectInput {
  return {
    connectionId: ID,
    headers: {
      Host: 'abc.execute-api.eu-west-1.amazonaws.com',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Protocol': 'chat, superchat',
      'Sec-WebSocket-Extensions': 'permessage-deflate',
      Cookie: 'sid=abc',
      Origin: 'https://app.example',
      'Meta-User': 'mallory',
      'Grip-Sig': 'forged.token.here',
      'Connection-Id': 'forged-id',
      'X-Custom': 'kept',
    },
    path: '/',
    query: 'room=1',
    ...overrides,
  };
}

/** The one ConnectionsJob queued for the OPEN reply, checked to survive the queue's own parser. */
function openJob(h: ReturnType<typeof sessionHarness>): ConnectionsJob {
  expect(h.queue.queued).toHaveLength(1);
  const [message] = h.queue.queued;
  const parsed = parseJob(message?.body ?? '');
  expect(parsed.ok, parsed.ok ? '' : parsed.error.message).toBe(true);
  const job = message?.entry.job;
  if (job?.kind !== 'connections') throw new Error(`expected a connections job, got ${job?.kind}`);
  return job;
}

describe('onConnect: the backend accepts', () => {
  it('stores the record with handshake, subprotocol, GRIP mode and meta, and answers accepted', async () => {
    const h = sessionHarness();
    h.backend.respond(gripAccept('', { 'Sec-WebSocket-Protocol': 'chat', 'Set-Meta-User': 'alice', 'Set-Cookie': 'a=1' }));

    const outcome = await onConnect(h.deps, input());

    expect(outcome).toEqual({ kind: 'accepted', subprotocol: 'chat', headers: { 'set-cookie': 'a=1' } });
    const record = h.store.records.get(ID);
    expect(record).toMatchObject({
      connectionId: ID,
      handshake: {
        path: '/',
        query: 'room=1',
        headers: {
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-version': '13',
          'sec-websocket-protocol': 'chat, superchat',
          cookie: 'sid=abc',
          origin: 'https://app.example',
          'x-custom': 'kept',
        },
      },
      subprotocol: 'chat',
      grip: { enabled: true, messagePrefix: 'm:' },
      meta: { user: 'alice' },
      connectedAt: h.time.now,
      expiresAt: expiryFor(h.time.now),
    });
    expect(h.metrics.total('ConnectionsOpened')).toBe(1);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });

  describe('the OPEN request', () => {
    async function sentOpen() {
      const h = sessionHarness();
      h.backend.respond(gripAccept());
      await onConnect(h.deps, input());
      const request = h.backend.requests[0];
      const headers = request?.headers ?? {};
      return { h, request, headers, lower: Object.keys(headers).map((n) => n.toLowerCase()) };
    }

    it('is one POST to the target with the client’s query and an OPEN body', async () => {
      const { h, request } = await sentOpen();
      expect(h.backend.requests).toHaveLength(1);
      expect(request?.url).toBe(`${TARGET_URL}?room=1`);
      expect(h.backend.bodyText()).toBe('OPEN\r\n');
    });

    it('carries Connection-Id, a freshly signed Grip-Sig and the WebSocket-over-HTTP headers', async () => {
      const { h, headers } = await sentOpen();
      expect(headers['Connection-Id']).toBe(ID);
      expect(headers['Grip-Sig']).toBe(h.signer.token);
      expect(h.signer.signed).toBe(1);
      expect(headers['Content-Type']).toBe('application/websocket-events');
      expect(headers['Accept']).toBe('application/websocket-events');
      expect(headers['Sec-WebSocket-Extensions']).toBe('grip');
    });

    it('replays the client’s handshake headers', async () => {
      const { headers } = await sentOpen();
      expect(headers['cookie']).toBe('sid=abc');
      expect(headers['x-custom']).toBe('kept');
    });

    it('strips the client’s Meta-*, Grip-*, Connection-Id and Host headers', async () => {
      const { headers, lower } = await sentOpen();
      expect(lower.filter((n) => n.startsWith('meta-'))).toEqual([]);
      expect(lower.filter((n) => n === 'connection-id')).toHaveLength(1);
      expect(lower.filter((n) => n.startsWith('grip-'))).toEqual(['grip-sig']);
      expect(lower).not.toContain('host');
      expect(Object.values(headers)).not.toContain('forged.token.here');
      expect(Object.values(headers)).not.toContain('mallory');
    });
  });

  it('writes the reply’s subscriptions with the record’s expiry', async () => {
    const h = sessionHarness();
    h.backend.respond(
      gripAccept(textFrame('c:{"channel":"room","type":"subscribe"}') + textFrame('c:{"type":"subscribe","channel":"news"}')),
    );

    await onConnect(h.deps, input());

    const expiresAt = expiryFor(h.time.now);
    expect([...(h.store.subscriptions.get(ID) ?? [])]).toEqual([
      ['room', expiresAt],
      ['news', expiresAt],
    ]);
    expect(h.store.indexOf('room').map((e) => e.connectionId)).toEqual([ID]);
  });

  it('stores the OPEN reply’s set-meta as filter meta and writes it with the filtered subscriptions', async () => {
    const h = sessionHarness();
    h.backend.respond(
      gripAccept(
        textFrame('c:{"type":"set-meta","name":"user","value":"alice"}') +
          textFrame('c:{"type":"subscribe","channel":"room","filters":["skip-self","require-sub"]}') +
          textFrame('c:{"type":"subscribe","channel":"news"}'),
      ),
    );

    await onConnect(h.deps, input());

    expect(h.store.records.get(ID)?.filterMeta).toEqual({ user: 'alice' });
    expect(h.store.records.get(ID)?.meta).toEqual({});
    expect(h.store.subscriptionFilters.get(ID)).toEqual(
      new Map([['room', { names: ['skip-self', 'require-sub'], meta: { user: 'alice' }, channels: ['room', 'news'] }]]),
    );
  });

  it('accepts, then closes with 1011 when the OPEN reply subscribes with more than 5 filters', async () => {
    const h = sessionHarness();
    h.backend.respond(
      gripAccept(textFrame('m:hi') + textFrame('c:{"type":"subscribe","channel":"room","filters":["1","2","3","4","5","6"]}')),
    );

    expect((await onConnect(h.deps, input())).kind).toBe('accepted');

    expect(openJob(h).payloads).toEqual([
      { kind: 'text', text: 'hi' },
      { kind: 'close', code: 1011 },
    ]);
    expect(h.store.subscriptions.get(ID)).toBeUndefined();
  });

  it('queues the reply’s messages as ONE ordered ConnectionsJob (orderKey conn:<id>, graceUntil), a trailing close included', async () => {
    const h = sessionHarness({ openGraceMs: 7_000 });
    h.backend.respond(
      gripAccept([textFrame('m:welcome'), binaryFrame(new Uint8Array([0x6d, 0x3a, 1, 2])), textFrame('m:second'), closeFrame(4000, 'bye')]),
    );

    const outcome = await onConnect(h.deps, input());

    expect(outcome.kind).toBe('accepted');
    expect(h.queue.enqueueCalls).toHaveLength(1);
    expect(h.queue.entries()[0]?.orderKey).toBe(`conn:${ID}`);
    expect(h.queue.entries()[0]?.delaySeconds).toBeUndefined();
    expect(openJob(h)).toEqual({
      v: 1,
      kind: 'connections',
      connectionIds: [ID],
      payloads: [
        { kind: 'text', text: 'welcome' },
        { kind: 'binary', base64: 'AQI=' },
        { kind: 'text', text: 'second' },
        { kind: 'close', code: 4000, reason: 'bye' },
      ],
      attempt: 0,
      graceUntil: h.time.now + 7_000,
      publishId: `open:${ID}`,
      publishedAt: h.time.now,
    });
  });

  it('sends nothing after a close or a drop', async () => {
    const closing = sessionHarness();
    closing.backend.respond(gripAccept(textFrame('m:a') + 'CLOSE\r\n' + textFrame('m:after')));
    await onConnect(closing.deps, input());
    expect(openJob(closing).payloads).toEqual([{ kind: 'text', text: 'a' }, { kind: 'close' }]);

    const dropping = sessionHarness();
    dropping.backend.respond(gripAccept(textFrame('m:a') + 'DISCONNECT\r\n' + textFrame('m:after')));
    await onConnect(dropping.deps, input());
    expect(openJob(dropping).payloads).toEqual([{ kind: 'text', text: 'a' }, { kind: 'close' }]);
  });

  it('queues a close whose reason is too long for a close frame in a form the worker can still parse', async () => {
    const h = sessionHarness();
    const reason = 'r'.repeat(200);
    h.backend.respond(gripAccept([textFrame('m:welcome'), closeFrame(1000, reason)]));

    const outcome = await onConnect(h.deps, input());

    expect(outcome.kind).toBe('accepted');
    const job = openJob(h);
    expect(job.payloads[0]).toEqual({ kind: 'text', text: 'welcome' });
    const close = job.payloads[1];
    expect(close?.kind).toBe('close');
    if (close?.kind === 'close') {
      expect(close.code).toBe(1000);
      expect(new TextEncoder().encode(close.reason ?? '').length).toBeLessThanOrEqual(123);
    }
  });

  it('keeps at most maxSubscriptionsPerConnection subscriptions and logs the ignored ones', async () => {
    const h = sessionHarness({ maxSubscriptionsPerConnection: 2 });
    const subscribe = (c: string) => textFrame(`c:{"type":"subscribe","channel":"${c}"}`);
    h.backend.respond(gripAccept(subscribe('a') + subscribe('b') + subscribe('a') + subscribe('c')));

    const outcome = await onConnect(h.deps, input());

    expect(outcome.kind).toBe('accepted');
    expect([...(h.store.subscriptions.get(ID)?.keys() ?? [])]).toEqual(['a', 'b']);
    expect(h.log.find('warn', '"c" ignored')).toHaveLength(1);
  });

  it('without GRIP mode, TEXT events are sent verbatim and c: has no meaning', async () => {
    const h = sessionHarness();
    h.backend.respond(eventsReply(`OPEN\r\n${textFrame('c:{"type":"subscribe","channel":"x"}')}`));

    await onConnect(h.deps, input());

    expect(h.store.records.get(ID)?.grip).toEqual({ enabled: false });
    expect(h.store.subscriptions.get(ID)).toBeUndefined();
    expect(openJob(h).payloads).toEqual([{ kind: 'text', text: 'c:{"type":"subscribe","channel":"x"}' }]);
  });
});

describe('onConnect: the backend refuses or fails', () => {
  it('passes a rejection through: status, headers and body; nothing stored', async () => {
    const h = sessionHarness();
    h.backend.respond(httpReply(403, 'go away', { 'Content-Type': 'text/plain', 'X-Reason': 'banned', Connection: 'close' }));

    const outcome = await onConnect(h.deps, input());

    expect(outcome.kind).toBe('rejected');
    if (outcome.kind !== 'rejected') return;
    expect(outcome.status).toBe(403);
    expect(outcome.headers).toEqual({ 'content-type': 'text/plain', 'x-reason': 'banned' });
    expect(new TextDecoder().decode(outcome.body)).toBe('go away');
    expect(h.store.records.size).toBe(0);
    expect(h.store.callsOf('putConnection')).toHaveLength(0);
    expect(h.metrics.total('ConnectionsRejected')).toBe(1);
  });

  it.each([
    ['a 204', httpReply(204)],
    ['a 200 with another content type', httpReply(200, 'OPEN\r\n', { 'Content-Type': 'text/plain' })],
  ])('refuses %s (a 2xx that is not an accept) with 502', async (_name, reply) => {
    const h = sessionHarness();
    h.backend.respond(reply);
    const outcome = await onConnect(h.deps, input());
    expect(outcome).toMatchObject({ kind: 'rejected', status: 502 });
    expect(h.store.records.size).toBe(0);
  });

  it.each(['connect', 'timeout', 'too-large', 'protocol'] as const)('answers 502 when the backend call fails (%s)', async (kind) => {
    const h = sessionHarness();
    h.backend.respond(backendError(kind));

    const outcome = await onConnect(h.deps, input());

    expect(outcome).toMatchObject({ kind: 'rejected', status: 502 });
    expect(h.store.records.size).toBe(0);
    expect(h.queue.enqueueCalls).toHaveLength(0);
    expect(h.log.find('error', ID).length).toBeGreaterThan(0);
    expect(h.metrics.total('BackendErrors')).toBe(1);
  });

  it.each([
    ['an undecodable body', eventsReply('OPEN\r\nTEXT zz\r\n')],
    ['an empty accept', eventsReply('')],
    ['a first event other than OPEN', eventsReply(textFrame('hello'))],
    ['a subprotocol the client did not offer', gripAccept('', { 'Sec-WebSocket-Protocol': 'mqtt' })],
  ])('answers 502 for an invalid reply: %s', async (_name, reply) => {
    const h = sessionHarness();
    h.backend.respond(reply);
    const outcome = await onConnect(h.deps, input());
    expect(outcome).toMatchObject({ kind: 'rejected', status: 502 });
    expect(h.store.records.size).toBe(0);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });

  it('answers 503 and leaves nothing stored when the record cannot be stored', async () => {
    const h = sessionHarness();
    h.store.fail('putConnection', storeError('throttled'));
    h.backend.respond(gripAccept(textFrame('c:{"type":"subscribe","channel":"room"}') + textFrame('m:hi')));

    const outcome = await onConnect(h.deps, input());

    expect(outcome).toMatchObject({ kind: 'rejected', status: 503 });
    expect(h.store.hasItems(ID)).toBe(false);
    expect(h.store.callsOf('subscribe')).toHaveLength(0);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });

  it('answers 503 and deletes the connection’s items when subscribing fails', async () => {
    const h = sessionHarness();
    h.store.fail('subscribe');
    h.backend.respond(gripAccept(textFrame('c:{"type":"subscribe","channel":"room"}') + textFrame('m:hi')));

    const outcome = await onConnect(h.deps, input());

    expect(outcome).toMatchObject({ kind: 'rejected', status: 503 });
    expect(h.store.hasItems(ID)).toBe(false);
    expect(h.queue.enqueueCalls).toHaveLength(0);
  });

  it('answers 503 and deletes the connection’s items (record and subscriptions) when queueing fails', async () => {
    const h = sessionHarness();
    h.queue.fail('enqueue');
    h.backend.respond(gripAccept(textFrame('c:{"type":"subscribe","channel":"room"}') + textFrame('m:hi')));

    const outcome = await onConnect(h.deps, input());

    expect(outcome).toMatchObject({ kind: 'rejected', status: 503 });
    expect(h.queue.enqueueCalls).toHaveLength(1);
    expect(h.store.hasItems(ID)).toBe(false);
    expect(h.store.indexOf('room')).toEqual([]);
    expect(h.store.callsOf('deleteConnections').map((c) => c.args[0])).toEqual([[ID]]);
    expect(h.metrics.total('ConnectionsOpened')).toBe(0);
  });
});

describe('onConnect: Keep-Alive-Interval', () => {
  it('an OPEN reply with Keep-Alive-Interval stores the polling (raised to the minimum) and schedules the first poll', async () => {
    const h = sessionHarness();
    h.backend.respond(gripAccept('', { 'Keep-Alive-Interval': '5' }));

    expect((await onConnect(h.deps, input())).kind).toBe('accepted');

    expect(h.store.records.get(ID)).toMatchObject({ backendPoll: { intervalSeconds: 20, since: h.time.now }, lastExchangeAt: h.time.now });
    expect(h.queue.queued.map((q) => q.entry)).toEqual([
      { job: { v: 1, kind: 'poll', connectionId: ID, since: h.time.now, dueAt: h.time.now + 20_000 }, delaySeconds: 20 },
    ]);
  });

  it('an empty OPEN reply with Keep-Alive-Interval defers: the OPEN is asked again after the interval, with its meta', async () => {
    const h = sessionHarness();
    const started = h.time.now;
    h.backend.respond(eventsReply('', { 'Keep-Alive-Interval': '20', 'Set-Meta-Stage': 'waiting' }), gripAccept());

    const outcome = await onConnect(h.deps, input());

    expect(outcome.kind).toBe('accepted');
    expect(h.backend.requests.map((_, i) => h.backend.bodyText(i))).toEqual(['OPEN\r\n', 'OPEN\r\n']);
    expect(h.backend.requests[1]?.headers['Meta-stage']).toBe('waiting');
    expect(h.time.sleeps).toEqual([20_000]);
    expect(h.time.now - started).toBe(20_000);
    // The deferring reply's interval stays in force: the connection is polled.
    expect(h.store.records.get(ID)).toMatchObject({ meta: { stage: 'waiting' }, backendPoll: { intervalSeconds: 20 } });
  });

  it('a deferral the next request could not answer within API Gateway’s 29 s refuses the handshake with 504, storing nothing', async () => {
    const h = sessionHarness();
    h.backend.respond(eventsReply('', { 'Keep-Alive-Interval': '20' }), eventsReply('', { 'Keep-Alive-Interval': '20' }), gripAccept());

    const outcome = await onConnect(h.deps, input());

    expect(outcome).toMatchObject({ kind: 'rejected', status: 504 });
    expect(h.backend.requests).toHaveLength(2);
    expect(h.store.records.size).toBe(0);
    expect(h.log.find('warn', 'deferred the OPEN past')).toHaveLength(1);
  });
});
