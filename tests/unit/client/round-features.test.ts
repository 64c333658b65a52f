/**
 * Wire formats of the client API for this round's server features (issues 11 and 14): subscribe with resume and
 * filters, filter meta, item meta, ping/pong, and channel history. The server side arrives separately; these tests
 * pin what the client sends and reads. End-to-end tests against local mode are pending (see the README's list of
 * differences).
 */
import { decodeWebSocketEvents, encodeWebSocketEvents, WebSocketContext, WebSocketEvent } from '@fanoutio/grip';
import { describe, expect, it } from 'vitest';
import { GripUsageError } from '#src/client/errors.js';
import { textItem } from '#src/client/items.js';
import { ControlClient, ControlError } from '#src/client/publisher.js';
import { readWebSocketRequest } from '#src/client/request.js';
import { WebSocketReply } from '#src/client/response.js';
import { decodeEvents } from '#src/domain/protocol/codec.js';
import { parseGripControlMessage } from '#src/domain/protocol/grip-control.js';
import type { WsEvent } from '#src/domain/protocol/events.js';
import { parsePublishBody } from '#src/domain/publish/parse.js';

async function eventsOf(response: Response): Promise<WsEvent[]> {
  const decoded = decodeEvents(new Uint8Array(await response.arrayBuffer()));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.value;
}

const texts = async (reply: WebSocketReply) => (await eventsOf(reply.toResponse())).map((e) => (e.type === 'TEXT' ? e.text : e.type));

describe('subscribe options', () => {
  it('writes since, recovery-failed and filters in the documented order', async () => {
    const reply = new WebSocketReply().subscribe('room:1', { since: 'm-41', recoveryFailed: '{"type":"reload"}', filters: ['skip-self'] });
    expect(await texts(reply)).toEqual([
      'c:{"type":"subscribe","channel":"room:1","since":"m-41","recovery-failed":"{\\"type\\":\\"reload\\"}","filters":["skip-self"]}',
    ]);
  });

  it('leaves out what is not given, so a plain subscribe is what Pushpin has always read', async () => {
    expect(await texts(new WebSocketReply().subscribe('a').subscribe('b', { filters: [] }).subscribe('c', { since: 'x' }))).toEqual([
      'c:{"type":"subscribe","channel":"a"}',
      'c:{"type":"subscribe","channel":"b"}',
      'c:{"type":"subscribe","channel":"c","since":"x"}',
    ]);
  });

  it('is read by the server parser as a subscribe with the same channel, filters, since and recovery-failed', async () => {
    const [event] = await eventsOf(
      new WebSocketReply().subscribe('room', { since: 's', recoveryFailed: 'reload', filters: ['skip-self', 'require-sub'] }).toResponse(),
    );
    const json = event?.type === 'TEXT' ? event.text.slice(2) : '';
    expect(parseGripControlMessage(json)).toEqual({
      kind: 'control',
      message: { type: 'subscribe', channel: 'room', filters: ['skip-self', 'require-sub'], since: 's', recoveryFailed: 'reload' },
    });
  });

  it('refuses an empty since, a non-string recoveryFailed, over 5 filters and an empty filter name', () => {
    const reply = new WebSocketReply();
    expect(() => reply.subscribe('a', { since: '' })).toThrow(GripUsageError);
    expect(() => reply.subscribe('a', { recoveryFailed: 5 as unknown as string })).toThrow(GripUsageError);
    expect(() => reply.subscribe('a', { recoveryFailed: 'x'.repeat(131_073) })).toThrow(/131072/);
    expect(() => reply.subscribe('a', { filters: ['a', 'b', 'c', 'd', 'e', 'f'] })).toThrow(/more than the 5/);
    expect(() => reply.subscribe('a', { filters: [''] })).toThrow(GripUsageError);
  });
});

describe('setFilterMeta', () => {
  it('writes set-meta with a value, and without one to remove it', async () => {
    expect(await texts(new WebSocketReply().setFilterMeta('user', 'alice').setFilterMeta('user', null))).toEqual([
      'c:{"type":"set-meta","name":"user","value":"alice"}',
      'c:{"type":"set-meta","name":"user"}',
    ]);
  });

  it('refuses an empty name', () => {
    expect(() => new WebSocketReply().setFilterMeta('', 'x')).toThrow(GripUsageError);
  });
});

describe('publish meta', () => {
  it('puts meta on the item, and the server parser accepts it', async () => {
    const item = textItem('room', 'hi', { id: 'm1', meta: { sender: 'alice' } });
    expect(item).toEqual({ channel: 'room', id: 'm1', meta: { sender: 'alice' }, formats: { 'ws-message': { content: 'hi' } } });
    expect(parsePublishBody(JSON.stringify({ items: [item] })).ok).toBe(true);
    const bodies: unknown[] = [];
    const control = new ControlClient({
      url: 'http://control.test',
      fetch: async (_url, init) => {
        bodies.push(JSON.parse(String(init?.body)));
        return new Response('Published\n');
      },
    });
    await control.publish('room', 'hi', { meta: { sender: 'alice' } });
    expect(bodies).toEqual([{ items: [{ channel: 'room', meta: { sender: 'alice' }, formats: { 'ws-message': { content: 'hi' } } }] }]);
  });
});

describe('ping and pong', () => {
  const request = (body: string) =>
    new Request('http://backend.test/', {
      method: 'POST',
      headers: { 'Connection-Id': 'c1', 'Content-Type': 'application/websocket-events' },
      body,
    });

  it('answers each PING of the request with a PONG carrying its payload, first in the reply, as js-grip does', async () => {
    const read = await readWebSocketRequest(request('PING 2\r\nhi\r\nTEXT 3\r\nm:x\r\nPING\r\n'));
    if (!read.ok) throw new Error(read.error.message);
    const reply = new WebSocketReply({ request: read.value }).send('after');
    expect(await eventsOf(reply.toResponse())).toEqual([
      { type: 'PONG', data: new TextEncoder().encode('hi') },
      { type: 'PONG', data: new Uint8Array(0) },
      { type: 'TEXT', text: 'm:after' },
    ]);

    // js-grip's recv() queues a PONG for each PING it passes over (without the payload).
    const ctx = new WebSocketContext('c1', {}, decodeWebSocketEvents('PING 2\r\nhi\r\nTEXT 3\r\nm:x\r\nPING\r\n'));
    ctx.recv();
    expect(ctx.outEvents.map((e: WebSocketEvent) => e.getType())).toEqual(['PONG']);
  });

  it('lets a backend send ping and pong events, which js-grip decodes', async () => {
    const reply = new WebSocketReply().ping(new Uint8Array([1, 2])).pong();
    const body = new Uint8Array(await reply.toResponse().arrayBuffer());
    expect(decodeWebSocketEvents(body).map((e: WebSocketEvent) => e.getType())).toEqual(['PING', 'PONG']);
    expect(new TextDecoder().decode(body)).toBe(
      new TextDecoder().decode(encodeWebSocketEvents([new WebSocketEvent('PING', new Uint8Array([1, 2])), new WebSocketEvent('PONG')])),
    );
  });

  it('refuses a payload a control frame cannot carry', () => {
    expect(() => new WebSocketReply().ping(new Uint8Array(126))).toThrow(/at most 125/);
    expect(() => new WebSocketReply().pong('x' as unknown as Uint8Array)).toThrow(GripUsageError);
  });
});

describe('ControlClient.history', () => {
  function control(answer: Response | (() => Response), seen: Request[] = []) {
    return new ControlClient({
      url: 'http://control.test/grip',
      key: 'k',
      iss: 'backend',
      retry: { retries: 1, baseDelayMs: 0 },
      sleep: async () => {},
      fetch: async (url, init) => {
        seen.push(new Request(String(url), init));
        return typeof answer === 'function' ? answer() : answer;
      },
    });
  }
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  it('GETs /channels/<channel>/messages with since and limit and the same authorization as publishes', async () => {
    const seen: Request[] = [];
    await control(json({ items: [], more: false }), seen).history('room:a/b', { since: 'm 1', limit: 50 });
    expect(seen[0]?.method).toBe('GET');
    expect(seen[0]?.url).toBe('http://control.test/grip/channels/room%3Aa%2Fb/messages?since=m+1&limit=50');
    expect(seen[0]?.headers.get('authorization')).toMatch(/^Bearer ey/);
    expect(seen[0]?.headers.get('accept')).toBe('application/json');
  });

  it('reads the items in order, text and binary, with their publish time, and whether more follow', async () => {
    const page = await control(
      json({
        items: [
          { id: 'm1', published: '2026-05-01T12:00:00.000Z', content: 'hello' },
          { id: 'm2', published: '2026-05-01T12:00:01.500Z', 'content-bin': 'AQID' },
        ],
        more: true,
      }),
    ).history('room');
    expect(page).toEqual({
      ok: true,
      value: {
        items: [
          { id: 'm1', published: new Date('2026-05-01T12:00:00.000Z'), type: 'text', content: 'hello' },
          { id: 'm2', published: new Date('2026-05-01T12:00:01.500Z'), type: 'binary', content: new Uint8Array([1, 2, 3]) },
        ],
        more: true,
      },
    });
  });

  it('says so as a value when since is not in the history (410 since-unknown)', async () => {
    const page = await control(json({ error: 'since-unknown', message: 'm0 is not in the history of room' }, 410)).history('room', {
      since: 'm0',
    });
    expect(page).toEqual({ ok: false, error: { kind: 'since-unknown', message: 'm0 is not in the history of room' } });
  });

  it('rejects with a ControlError for a failed request, after retrying a 5xx, and for an answer that breaks the format', async () => {
    let calls = 0;
    const failing = control(() => {
      calls++;
      return new Response('down', { status: 503 });
    });
    await expect(failing.history('room')).rejects.toMatchObject({ name: 'ControlError', code: 'server-error', attempts: 2 });
    expect(calls).toBe(2);
    await expect(control(new Response('nope', { status: 404 })).history('room')).rejects.toMatchObject({ code: 'rejected', status: 404 });
    const bad = await control(json({ items: [{ id: 'm1' }] }))
      .history('room')
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ControlError);
    expect(bad).toMatchObject({ code: 'invalid-answer', retryable: false });
  });

  it('refuses a bad channel, since or limit before sending anything', async () => {
    const c = control(json({ items: [] }));
    await expect(c.history('')).rejects.toBeInstanceOf(GripUsageError);
    await expect(c.history('room', { since: '' })).rejects.toBeInstanceOf(GripUsageError);
    await expect(c.history('room', { limit: 0 })).rejects.toBeInstanceOf(GripUsageError);
    await expect(c.history('room', { limit: 1001 })).rejects.toBeInstanceOf(GripUsageError);
  });
});
