/**
 * Interop with the real `@fanoutio/grip` 4.3 (js-grip), both directions: what backends and publishers built on it
 * send must be understood by our domain code, and what we send must be understood by it.
 */
import {
  encodeWebSocketEvents,
  decodeWebSocketEvents,
  getWebSocketContextFromReq,
  HttpStreamFormat,
  isWsOverHttp,
  Item,
  Publisher,
  validateSig,
  WebSocketContext,
  WebSocketEvent,
  WebSocketMessageFormat,
  type IWebSocketEvent,
} from '@fanoutio/grip';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GripMode } from '#src/domain/connection.js';
import { binaryMessage } from '#src/domain/message.js';
import { authorizeControl, signGripSig } from '#src/domain/auth.js';
import { decodeEvents, encodeEvents } from '#src/domain/protocol/codec.js';
import type { WsEvent } from '#src/domain/protocol/events.js';
import { interpretOpenReply, interpretSessionReply, type OpenReplyContext, type OpenReplyDecision } from '#src/domain/protocol/reply.js';
import { buildBackendRequest, handshakeFromClient } from '#src/domain/protocol/request.js';
import { parsePublishBody } from '#src/domain/publish/parse.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const KEY = 'interop-shared-key';
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Our event as js-grip models it: contentless events have `null` content. */
function toGrip(event: WsEvent): WebSocketEvent {
  switch (event.type) {
    case 'OPEN':
    case 'DISCONNECT':
      return new WebSocketEvent(event.type);
    case 'TEXT':
      return new WebSocketEvent('TEXT', utf8(event.text));
    case 'BINARY':
      return new WebSocketEvent('BINARY', event.data);
    case 'PING':
    case 'PONG':
      return new WebSocketEvent(event.type, event.data.length > 0 ? event.data : null);
    case 'CLOSE': {
      if (event.code === null) return new WebSocketEvent('CLOSE');
      const reason = utf8(event.reason);
      const content = new Uint8Array(2 + reason.length);
      content.set([event.code >> 8, event.code & 0xff]);
      content.set(reason, 2);
      return new WebSocketEvent('CLOSE', content);
    }
  }
}

function contentBytes(event: IWebSocketEvent): number[] | null {
  const content = event.getContent();
  if (content === null) return null;
  return [...(typeof content === 'string' ? utf8(content) : content)];
}

const eventArb: fc.Arbitrary<WsEvent> = fc.oneof(
  fc.constant<WsEvent>({ type: 'OPEN' }),
  fc.constant<WsEvent>({ type: 'DISCONNECT' }),
  fc.string({ unit: 'binary', maxLength: 30 }).map((text): WsEvent => ({ type: 'TEXT', text })),
  fc.uint8Array({ maxLength: 30 }).map((data): WsEvent => ({ type: 'BINARY', data })),
  fc.uint8Array({ maxLength: 8 }).map((data): WsEvent => ({ type: 'PING', data })),
  fc.uint8Array({ maxLength: 8 }).map((data): WsEvent => ({ type: 'PONG', data })),
  fc.constant<WsEvent>({ type: 'CLOSE', code: null, reason: '' }),
  fc
    .record({ code: fc.integer({ min: 0, max: 65535 }), reason: fc.string({ maxLength: 20 }) })
    .map(({ code, reason }): WsEvent => ({ type: 'CLOSE', code, reason })),
);

describe('codec interop with js-grip', () => {
  it('js-grip decodes what we encode, and encodes the same events to the same bytes (2,000 runs)', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 8 }), (events) => {
        const ours = encodeEvents(events);
        const theirs = encodeWebSocketEvents(events.map(toGrip));
        expect([...theirs]).toEqual([...ours]);
        const decoded = decodeWebSocketEvents(ours);
        expect(decoded.map((e) => [e.getType(), contentBytes(e)])).toEqual(events.map(toGrip).map((e) => [e.getType(), contentBytes(e)]));
      }),
      { numRuns: 2_000 },
    );
  });

  it('we decode what js-grip encodes (2,000 runs)', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 8 }), (events) => {
        expect(decodeEvents(encodeWebSocketEvents(events.map(toGrip)))).toEqual({ ok: true, value: events });
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('our backend requests, read by js-grip', () => {
  async function request(events: WsEvent[], meta: Record<string, string> = {}): Promise<Request> {
    const { handshake } = handshakeFromClient({
      headers: { Cookie: 'sid=1', 'Sec-WebSocket-Protocol': 'chat', 'Meta-Evil': 'spoofed', Host: 'gw.example' },
      path: '/ws',
      query: 'room=1',
    });
    const built = buildBackendRequest({
      targetUrl: 'http://backend.example/app',
      connectionId: 'L0SM9cOFvHcCIhw=',
      handshake,
      meta,
      events,
      gripSig: await signGripSig({ key: KEY, iss: 'grip-server', nowSeconds: nowSeconds() }),
    });
    return new Request(built.url, { method: 'POST', headers: built.headers, body: new Uint8Array(built.body) });
  }

  it('an OPEN request is a WebSocket-over-HTTP request with the connection id, meta and events', async () => {
    const req = await request([{ type: 'OPEN' }], { user: 'alice' });
    expect(req.url).toBe('http://backend.example/app/ws?room=1');
    expect(isWsOverHttp(req)).toBe(true);
    const ctx = await getWebSocketContextFromReq(req.clone());
    expect(ctx.id).toBe('L0SM9cOFvHcCIhw=');
    expect(ctx.meta).toEqual({ user: 'alice' });
    expect(ctx.isOpening()).toBe(true);
    expect(req.headers.get('cookie')).toBe('sid=1');
  });

  it('TEXT, CLOSE and DISCONNECT reach recv() as js-grip backends expect', async () => {
    const ctx = await getWebSocketContextFromReq(
      await request([
        { type: 'TEXT', text: 'hello ✓' },
        { type: 'CLOSE', code: 1001, reason: '' },
      ]),
    );
    expect(ctx.isOpening()).toBe(false);
    expect(ctx.recv()).toBe('hello ✓');
    expect(ctx.recv()).toBeNull();
    expect(ctx.closeCode).toBe(1001);

    const gone = await getWebSocketContextFromReq(await request([{ type: 'DISCONNECT' }]));
    expect(() => gone.recv()).toThrow('Client disconnected unexpectedly.');
  });

  it('validateSig and Publisher#validateGripSig accept our Grip-Sig; a wrong key is rejected', async () => {
    const token = (await request([{ type: 'OPEN' }])).headers.get('grip-sig') ?? '';
    expect(await validateSig(token, KEY)).toBe(true);
    expect(await validateSig(token, KEY, 'grip-server')).toBe(true);
    expect(await validateSig(token, KEY, 'someone-else')).toBe(false);
    expect(await validateSig(token, 'wrong-key')).toBe(false);
    const publisher = new Publisher({ control_uri: 'http://control.example/', control_iss: 'x', key: KEY });
    expect(await publisher.validateGripSig(token)).toEqual({ isProxied: true, needsSigned: true, isSigned: true });
    const other = new Publisher({ control_uri: 'http://control.example/', control_iss: 'x', key: 'not-it' });
    expect(await other.validateGripSig(token)).toMatchObject({ isSigned: false });
  });

  it('a base64: key signs with the same bytes js-grip derives from it', async () => {
    const token = await signGripSig({ key: 'base64:c2VjcmV0', iss: 'i', nowSeconds: nowSeconds() });
    expect(await validateSig(token, 'base64:c2VjcmV0')).toBe(true);
    expect(await validateSig(token, 'secret')).toBe(true);
  });
});

describe('WebSocketContext replies, read by interpretOpenReply and interpretSessionReply', () => {
  const open: OpenReplyContext = { offeredSubprotocols: [] };
  const session: GripMode = { enabled: true, messagePrefix: 'm:' };

  function replyOf(ctx: WebSocketContext): { status: number; headers: Record<string, string>; body: Uint8Array } {
    const headers = Object.fromEntries(Object.entries(ctx.toHeaders()).map(([k, v]) => [k.toLowerCase(), v]));
    return { status: 200, headers, body: encodeWebSocketEvents(ctx.getOutgoingEvents()) };
  }

  it('accept + subscribe + send + meta + close() (code 0)', () => {
    const ctx = new WebSocketContext('c1', {}, [new WebSocketEvent('OPEN')]);
    ctx.accept();
    ctx.subscribe('room');
    ctx.send('welcome');
    ctx.sendBinary(new Uint8Array([1, 2]));
    ctx.meta['room'] = 'lobby';
    ctx.close();
    const decision: OpenReplyDecision = interpretOpenReply(replyOf(ctx), open);
    expect(decision).toEqual({
      kind: 'accept',
      subprotocol: null,
      grip: { enabled: true, messagePrefix: 'm:' },
      clientHeaders: {},
      metaChanges: { room: 'lobby' },
      actions: [
        { kind: 'control', message: { type: 'subscribe', channel: 'room', filters: [] } },
        { kind: 'send', message: { kind: 'text', text: 'welcome' } },
        { kind: 'send', message: binaryMessage(new Uint8Array([1, 2])) },
        { kind: 'close', code: 1000, reason: '' },
      ],
      ignored: [],
    });
  });

  it('a context that did not accept() is not an accept (no OPEN in the body)', () => {
    const ctx = new WebSocketContext('c1', {}, [new WebSocketEvent('OPEN')]);
    ctx.send('hi');
    expect(interpretOpenReply(replyOf(ctx), open)).toMatchObject({
      kind: 'invalid',
      reason: 'backend reply to OPEN starts with TEXT; the first event must be OPEN',
    });
  });

  it('later replies: unsubscribe, detach, close(4000), meta changed and deleted', () => {
    const ctx = new WebSocketContext('c1', { user: 'alice', room: 'a' }, [new WebSocketEvent('TEXT', utf8('hi'))]);
    expect(ctx.recv()).toBe('hi');
    ctx.unsubscribe('room');
    ctx.detach();
    delete ctx.meta['user'];
    ctx.meta['room'] = 'b';
    ctx.close(4000);
    expect(interpretSessionReply(replyOf(ctx), session)).toEqual({
      kind: 'update',
      metaChanges: { user: null, room: 'b' },
      actions: [
        { kind: 'control', message: { type: 'unsubscribe', channel: 'room' } },
        { kind: 'control', message: { type: 'detach' } },
        { kind: 'close', code: 4000, reason: '' },
      ],
      ignored: [],
    });
  });

  it('disconnect() drops; the PONG js-grip queues for a PING is ignored with a reason', () => {
    const ctx = new WebSocketContext('c1', {}, [new WebSocketEvent('PING'), new WebSocketEvent('TEXT', utf8('x'))]);
    ctx.recv();
    ctx.disconnect();
    const decision = interpretSessionReply(replyOf(ctx), session);
    expect(decision).toMatchObject({ kind: 'update', actions: [{ kind: 'drop' }] });
    if (decision.kind === 'update')
      expect(decision.ignored).toEqual(['event 0 (PONG) ignored: the gateway cannot send control frames to the client']);
  });

  it('a prefixed context subscribes to prefixed channels', () => {
    const ctx = new WebSocketContext('c1', {}, [new WebSocketEvent('OPEN')], 'app:');
    ctx.accept();
    ctx.subscribe('room');
    expect(interpretOpenReply(replyOf(ctx), open)).toMatchObject({
      actions: [{ kind: 'control', message: { type: 'subscribe', channel: 'app:room' } }],
    });
  });
});

describe('Publisher requests, read by parsePublishBody and authorizeControl', () => {
  interface Captured {
    url: string;
    authorization: string | undefined;
    body: string;
  }

  function capturingPublisher(config: { control_uri: string; control_iss?: string; key?: string }): {
    publisher: Publisher;
    captured: Captured[];
  } {
    const captured: Captured[] = [];
    const publisher = new Publisher(config, {
      fetch: async (input, init) => {
        const body = init?.body;
        captured.push({
          url: String(input),
          authorization: new Headers(init?.headers).get('authorization') ?? undefined,
          body: typeof body === 'string' ? body : '',
        });
        return new Response('Published\n', { status: 200 });
      },
    });
    return { publisher, captured };
  }

  it('a JWT publisher (control_iss + key): body parsed, Authorization accepted, a different key rejected', async () => {
    const { publisher, captured } = capturingPublisher({ control_uri: 'http://control.example/', control_iss: 'myiss', key: KEY });
    await publisher.publishFormats('room', new WebSocketMessageFormat('hello'));
    await publisher.publish(
      'room',
      new Item([new WebSocketMessageFormat(new Uint8Array([0, 255])), new HttpStreamFormat('stream')], 'm2', 'm1'),
    );
    await publisher.publishFormats('room', new WebSocketMessageFormat(null, true, 4000));
    await publisher.publishHttpStream('room', 'only http');

    expect(captured.map((c) => c.url)).toEqual(Array(4).fill('http://control.example/publish/'));
    const parsed = captured.map((c) => parsePublishBody(c.body));
    expect(parsed).toEqual([
      {
        ok: true,
        value: [
          {
            target: { kind: 'channel', channel: 'room' },
            id: null,
            prevId: null,
            payload: { kind: 'text', text: 'hello' },
            ignored: null,
            meta: {},
            contentFilters: null,
          },
        ],
      },
      {
        ok: true,
        value: [
          {
            target: { kind: 'channel', channel: 'room' },
            id: 'm2',
            prevId: 'm1',
            payload: { kind: 'binary', base64: 'AP8=' },
            ignored: null,
            meta: {},
            contentFilters: null,
          },
        ],
      },
      {
        ok: true,
        value: [
          {
            target: { kind: 'channel', channel: 'room' },
            id: null,
            prevId: null,
            payload: { kind: 'close', code: 4000 },
            ignored: null,
            meta: {},
            contentFilters: null,
          },
        ],
      },
      {
        ok: true,
        value: [
          {
            target: { kind: 'channel', channel: 'room' },
            id: null,
            prevId: null,
            payload: null,
            ignored: 'no ws-message format',
            meta: {},
            contentFilters: null,
          },
        ],
      },
    ]);

    for (const { authorization } of captured) {
      expect(authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      expect(await authorizeControl(authorization, { key: KEY, iss: 'myiss' })).toEqual({ ok: true, scheme: 'jwt' });
      expect(await authorizeControl(authorization, { key: KEY })).toEqual({ ok: true, scheme: 'jwt' });
      expect(await authorizeControl(authorization, { key: 'a-different-key' })).toEqual({
        ok: false,
        reason: 'bearer JWT rejected: bad-signature',
      });
      expect(await authorizeControl(authorization, { key: KEY, iss: 'not-myiss' })).toEqual({
        ok: false,
        reason: 'bearer JWT rejected: wrong-issuer',
      });
    }
  });

  it('a key-only publisher sends Bearer <key>, accepted only with that key', async () => {
    const { publisher, captured } = capturingPublisher({ control_uri: 'http://control.example/base', key: KEY });
    await publisher.publishFormats('room', new WebSocketMessageFormat('x'));
    expect(captured[0]?.url).toBe('http://control.example/base/publish/');
    expect(await authorizeControl(captured[0]?.authorization, { key: KEY })).toEqual({ ok: true, scheme: 'key' });
    expect(await authorizeControl(captured[0]?.authorization, { key: 'a-different-key' })).toMatchObject({ ok: false });
  });

  it('a publisher without credentials sends no Authorization, which is rejected', async () => {
    const { publisher, captured } = capturingPublisher({ control_uri: 'http://control.example/' });
    await publisher.publishFormats('room', new WebSocketMessageFormat('x'));
    expect(captured[0]?.authorization).toBeUndefined();
    expect(await authorizeControl(captured[0]?.authorization, { key: KEY })).toEqual({ ok: false, reason: 'missing Authorization header' });
  });
});
