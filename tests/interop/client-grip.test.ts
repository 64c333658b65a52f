/**
 * The client library against the real `@fanoutio/grip` 4.3 (js-grip): requests shaped as js-grip backends receive
 * them are read alike; our replies decode with js-grip's decoder into what its `WebSocketContext` produces for the
 * same calls; its `validateSig` accepts our control JWT; its `Publisher` and our `ControlClient` send equivalent
 * publish bodies.
 */
import {
  Auth,
  ConnectionIdMissingException,
  decodeWebSocketEvents,
  encodeWebSocketEvents,
  getWebSocketContextFromReq,
  isWsOverHttp as gripIsWsOverHttp,
  Publisher,
  validateSig,
  WebSocketContext,
  WebSocketDecodeEventException,
  WebSocketEvent,
  WebSocketMessageFormat,
  type IWebSocketEvent,
} from '@fanoutio/grip';
import { describe, expect, it } from 'vitest';
import { ControlClient } from '#src/client/publisher.js';
import { isWsOverHttp, readWebSocketRequest, type WebSocketEvent as OurEvent } from '#src/client/request.js';
import { WebSocketReply } from '#src/client/response.js';
import { verifyGripSig } from '#src/client/signature.js';

const KEY = 'client-interop-key';
const CT = 'application/websocket-events';
const utf8 = new TextEncoder();
const text = new TextDecoder();

/** Captures what a publisher POSTs, answering like Pushpin. */
function capture(): { fetch: typeof fetch; bodies: unknown[]; auth: (string | null)[]; urls: string[] } {
  const bodies: unknown[] = [];
  const auth: (string | null)[] = [];
  const urls: string[] = [];
  const fn = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    urls.push(String(input));
    auth.push(new Headers(init.headers).get('authorization'));
    bodies.push(JSON.parse(typeof init.body === 'string' ? init.body : ''));
    return new Response('Published\n');
  };
  return { fetch: fn, bodies, auth, urls };
}

function wsRequest(events: IWebSocketEvent[], headers: Record<string, string> = {}): Request {
  return new Request('http://backend.test/ws', {
    method: 'POST',
    headers: { 'Content-Type': CT, Accept: CT, 'Connection-Id': 'conn-7', ...headers },
    body: new Uint8Array(encodeWebSocketEvents(events)),
  });
}

/** js-grip's event as ours, for comparison (its content is bytes or null). */
function fromGrip(event: IWebSocketEvent): OurEvent {
  const raw = event.getContent();
  const bytes = raw === null ? new Uint8Array() : typeof raw === 'string' ? utf8.encode(raw) : raw;
  const type = event.getType();
  switch (type) {
    case 'OPEN':
      return { type: 'OPEN' };
    case 'DISCONNECT':
      return { type: 'DISCONNECT' };
    case 'TEXT':
      return { type: 'TEXT', text: text.decode(bytes) };
    case 'BINARY':
    case 'PING':
    case 'PONG':
      return { type, data: bytes };
    case 'CLOSE':
      return bytes.length < 2
        ? { type: 'CLOSE', code: null, reason: '' }
        : { type: 'CLOSE', code: ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0), reason: text.decode(bytes.subarray(2)) };
    default:
      throw new Error(`unexpected js-grip event ${type}`);
  }
}

/** A TEXT control message compared by meaning, since js-grip writes `channel` before `type`. */
function normalise(event: OurEvent): unknown {
  if (event.type === 'TEXT' && event.text.startsWith('c:')) return { control: JSON.parse(event.text.slice(2)) };
  return event;
}

describe('reading requests as js-grip does', () => {
  it('agrees with js-grip on what is WebSocket-over-HTTP', () => {
    const variants: [string, Record<string, string>][] = [
      ['POST', { 'Content-Type': CT, Accept: CT }],
      ['POST', { 'Content-Type': `${CT}; charset=utf-8`, Accept: 'application/*' }],
      ['POST', { 'Content-Type': CT, Accept: 'text/html, */*;q=0.1' }],
      ['POST', { 'Content-Type': CT }],
      ['POST', { 'Content-Type': 'application/json', Accept: CT }],
      ['POST', { 'Content-Type': CT, Accept: 'text/plain' }],
      ['PUT', { 'Content-Type': CT, Accept: CT }],
    ];
    for (const [method, headers] of variants) {
      const request = new Request('http://backend.test/', { method, headers, body: '' });
      expect(isWsOverHttp(request), `${method} ${JSON.stringify(headers)}`).toBe(gripIsWsOverHttp(request));
    }
  });

  it('reads the same connection id, meta, events and opening flag as getWebSocketContextFromReq', async () => {
    const events = [
      new WebSocketEvent('OPEN'),
      new WebSocketEvent('TEXT', utf8.encode('héllo')),
      new WebSocketEvent('BINARY', new Uint8Array([0, 1, 255])),
      new WebSocketEvent('PING'),
      new WebSocketEvent('CLOSE', new Uint8Array([0x0f, 0xa0, ...utf8.encode('bye')])),
    ];
    const headers = { 'Meta-User': 'alice', 'Meta-Room-Id': '42' };
    const theirs = await getWebSocketContextFromReq(wsRequest(events, headers));
    const ours = await readWebSocketRequest(wsRequest(events, headers));
    expect(ours.ok).toBe(true);
    if (!ours.ok) return;
    expect(ours.value.connectionId).toBe(theirs.id);
    expect(ours.value.meta).toEqual(theirs.meta);
    expect(ours.value.isOpening).toBe(theirs.isOpening());
    expect(ours.value.events).toEqual(events.map(fromGrip));
  });

  it('fails where js-grip throws, with typed errors instead', async () => {
    const noId = new Request('http://backend.test/', { method: 'POST', headers: { 'Content-Type': CT, Accept: CT }, body: 'OPEN\r\n' });
    await expect(getWebSocketContextFromReq(noId.clone())).rejects.toBeInstanceOf(ConnectionIdMissingException);
    expect(await readWebSocketRequest(noId)).toMatchObject({ ok: false, error: { kind: 'missing-connection-id' } });

    const garbage = (): Request => new Request('http://backend.test/', { method: 'POST', headers: { 'Connection-Id': 'c' }, body: 'OPEN' });
    await expect(getWebSocketContextFromReq(garbage())).rejects.toBeInstanceOf(WebSocketDecodeEventException);
    expect(await readWebSocketRequest(garbage())).toMatchObject({ ok: false, error: { kind: 'undecodable-body' } });
  });
});

describe('replies, decoded by js-grip', () => {
  it("match WebSocketContext's output for accept + subscribe + send + unsubscribe + detach + meta + close", async () => {
    const context = new WebSocketContext('conn-7', { old: 'x', keep: 'same' }, [new WebSocketEvent('OPEN')]);
    context.accept();
    context.subscribe('room');
    context.send('welcome');
    context.sendBinary(new Uint8Array([1, 2]));
    context.unsubscribe('lobby');
    context.detach();
    context.meta['room'] = 'lobby';
    delete context.meta['old'];
    context.close(4000);

    const reply = new WebSocketReply()
      .accept()
      .subscribe('room')
      .send('welcome')
      .sendBinary(new Uint8Array([1, 2]))
      .unsubscribe('lobby')
      .detach()
      .setMeta('room', 'lobby')
      .deleteMeta('old')
      .close(4000);
    const response = reply.toResponse();
    const decoded = decodeWebSocketEvents(new Uint8Array(await response.arrayBuffer()));

    expect(decoded.map(fromGrip).map(normalise)).toEqual(context.getOutgoingEvents().map(fromGrip).map(normalise));
    // Messages are byte-identical; only the control JSON's key order differs.
    expect(decoded.map((e) => e.getType())).toEqual(['OPEN', 'TEXT', 'TEXT', 'BINARY', 'TEXT', 'TEXT', 'CLOSE']);

    const theirHeaders = new Headers(context.toHeaders());
    expect(response.status).toBe(200);
    for (const name of ['content-type', 'sec-websocket-extensions', 'set-meta-room', 'set-meta-old']) {
      expect(response.headers.get(name), name).toBe(theirHeaders.get(name));
    }
  });

  it("round-trip byte-exactly through js-grip's codec, close reasons and drops included", async () => {
    const bytes = new Uint8Array(await new WebSocketReply().send('x').close(1001, 'going away').toResponse().arrayBuffer());
    const decoded = decodeWebSocketEvents(bytes);
    expect(decoded.map(fromGrip)).toEqual([
      { type: 'TEXT', text: 'm:x' },
      { type: 'CLOSE', code: 1001, reason: 'going away' },
    ]);
    expect(encodeWebSocketEvents(decoded)).toEqual(bytes);
    const dropped = decodeWebSocketEvents(new Uint8Array(await new WebSocketReply().drop().toResponse().arrayBuffer()));
    expect(dropped.map((e) => e.getType())).toEqual(['DISCONNECT']);
  });
});

describe('signatures', () => {
  it("js-grip's validateSig accepts our control JWT, and rejects it with another key or issuer", async () => {
    const captured = capture();
    await new ControlClient({ url: 'http://pushpin.test:5561', key: KEY, iss: 'backend', fetch: captured.fetch }).publish('room', 'x');
    const token = (captured.auth[0] ?? '').replace(/^Bearer /, '');
    expect(await validateSig(token, KEY)).toBe(true);
    expect(await validateSig(token, KEY, 'backend')).toBe(true);
    expect(await validateSig(token, 'another-key')).toBe(false);
    expect(await validateSig(token, KEY, 'someone-else')).toBe(false);
  });

  it("verifyGripSig accepts js-grip's HS256 JWT and rejects it with another key", async () => {
    const header = await new Auth.Jwt({ iss: 'pushpin' }, utf8.encode(KEY)).buildHeader();
    const request = new Request('http://backend.test/', { method: 'POST', headers: { 'Grip-Sig': header.replace(/^Bearer /, '') } });
    expect(await verifyGripSig(request, { key: KEY, iss: 'pushpin' })).toMatchObject({ signed: true, claims: { iss: 'pushpin' } });
    expect(await verifyGripSig(request, { key: 'another-key' })).toEqual({ signed: false, reason: 'bad-signature' });
  });
});

describe('publishing, compared with js-grip Publisher', () => {
  it('sends the same URL, Authorization and body for text, binary and close items', async () => {
    const theirs = capture();
    const publisher = new Publisher({ control_uri: 'http://pushpin.test:5561/', key: KEY }, { fetch: theirs.fetch });
    await publisher.publishFormats('room', new WebSocketMessageFormat('hello'), 'm2', 'm1');
    await publisher.publishFormats('room', new WebSocketMessageFormat(new Uint8Array([0, 1, 254, 255])));
    await publisher.publishFormats('room', new WebSocketMessageFormat(null, true, 4000));

    const ours = capture();
    const control = new ControlClient({ url: 'http://pushpin.test:5561/', key: KEY, fetch: ours.fetch });
    await control.publish('room', 'hello', { id: 'm2', prevId: 'm1' });
    await control.publishBinary('room', new Uint8Array([0, 1, 254, 255]));
    await control.closeChannel('room', { code: 4000 });

    expect(ours.urls).toEqual(theirs.urls);
    expect(ours.auth).toEqual(theirs.auth);
    expect(ours.auth[0]).toBe(`Bearer ${KEY}`);
    expect(ours.bodies).toEqual(theirs.bodies);
  });
});
