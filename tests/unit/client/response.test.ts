import { describe, expect, it } from 'vitest';
import { GripUsageError } from '#src/client/errors.js';
import { WebSocketReply } from '#src/client/response.js';
import { decodeEvents } from '#src/domain/protocol/codec.js';
import { parseGripControlMessage } from '#src/domain/protocol/grip-control.js';
import type { WsEvent } from '#src/domain/protocol/events.js';
import { interpretOpenReply, interpretSessionReply, type ReplyResponse } from '#src/domain/protocol/reply.js';

async function asServerSees(response: Response): Promise<ReplyResponse> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return { status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) };
}

async function eventsOf(response: Response): Promise<WsEvent[]> {
  const decoded = decodeEvents(new Uint8Array(await response.arrayBuffer()));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.value;
}

const text = (t: string): WsEvent => ({ type: 'TEXT', text: t });

function usageError(fn: () => unknown): GripUsageError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GripUsageError) return e;
    throw e;
  }
  throw new Error('expected a GripUsageError');
}

describe('WebSocketReply', () => {
  it('accepts with OPEN first, then events in call order, CLOSE last, and the GRIP headers', async () => {
    const reply = new WebSocketReply();
    reply.close(4000, 'done').send('welcome').subscribe('room').accept().unsubscribe('old').setMeta('User', 'alice');
    const response = reply.toResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/websocket-events');
    expect(response.headers.get('sec-websocket-extensions')).toBe('grip');
    expect(response.headers.get('sec-websocket-protocol')).toBeNull();
    expect(response.headers.get('set-meta-user')).toBe('alice');
    expect(await eventsOf(response)).toEqual([
      { type: 'OPEN' },
      text('m:welcome'),
      text('c:{"type":"subscribe","channel":"room"}'),
      text('c:{"type":"unsubscribe","channel":"old"}'),
      { type: 'CLOSE', code: 4000, reason: 'done' },
    ]);
  });

  it('writes byte-exact bodies', async () => {
    const reply = new WebSocketReply().accept().subscribe('room').send('welcome');
    expect(await reply.toResponse().text()).toBe('OPEN\r\nTEXT 27\r\nc:{"type":"subscribe","channel":"room"}\r\nTEXT 9\r\nm:welcome\r\n');
    expect(new Uint8Array(await new WebSocketReply().close().toResponse().arrayBuffer())).toEqual(
      new Uint8Array([...new TextEncoder().encode('CLOSE 2\r\n'), 0x03, 0xe8, 0x0d, 0x0a]),
    );
  });

  it('without accept() sends no OPEN and no extension header (a reply to a later request)', async () => {
    const response = new WebSocketReply().send('hi').toResponse();
    expect(response.headers.get('sec-websocket-extensions')).toBeNull();
    expect(await eventsOf(response)).toEqual([text('m:hi')]);
    expect(await new WebSocketReply().toResponse().text()).toBe('');
  });

  it('applies a custom message prefix to text and binary, announced on accept', async () => {
    const response = new WebSocketReply()
      .sendBinary(new Uint8Array([1, 2]))
      .send('a')
      .accept({ messagePrefix: 'x>', subprotocol: 'chat.v1' })
      .toResponse();
    expect(response.headers.get('sec-websocket-extensions')).toBe('grip; message-prefix="x>"');
    expect(response.headers.get('sec-websocket-protocol')).toBe('chat.v1');
    expect(await eventsOf(response)).toEqual([{ type: 'OPEN' }, { type: 'BINARY', data: new Uint8Array([0x78, 0x3e, 1, 2]) }, text('x>a')]);
    const empty = new WebSocketReply().accept({ messagePrefix: '' }).send('plain').toResponse();
    expect(empty.headers.get('sec-websocket-extensions')).toBe('grip; message-prefix=""');
    expect(await eventsOf(empty)).toEqual([{ type: 'OPEN' }, text('plain')]);
    const later = new WebSocketReply({ messagePrefix: '' }).send('plain');
    expect(await eventsOf(later.toResponse())).toEqual([text('plain')]);
  });

  it('refuses a text message that an empty prefix would turn into a control message', () => {
    const reply = new WebSocketReply({ messagePrefix: '' }).send('c:{"type":"detach"}');
    expect(usageError(() => reply.toResponse()).code).toBe('invalid-message-prefix');
  });

  it('copies binary data at call time', async () => {
    const data = new Uint8Array([1]);
    const reply = new WebSocketReply().sendBinary(data);
    data[0] = 9;
    expect(await eventsOf(reply.toResponse())).toEqual([{ type: 'BINARY', data: new Uint8Array([0x6d, 0x3a, 1]) }]);
  });

  it('drop() emits DISCONNECT last, and the later of close()/drop() wins', async () => {
    expect(await eventsOf(new WebSocketReply().drop().send('x').toResponse())).toEqual([text('m:x'), { type: 'DISCONNECT' }]);
    expect(await eventsOf(new WebSocketReply().close(1000).drop().toResponse())).toEqual([{ type: 'DISCONNECT' }]);
    expect(await eventsOf(new WebSocketReply().drop().close(1001).toResponse())).toEqual([{ type: 'CLOSE', code: 1001, reason: '' }]);
  });

  it('encodes detach and keep-alive control messages that the server parser reads back', async () => {
    const reply = new WebSocketReply()
      .detach()
      .keepAlive({ content: '{}', timeout: 30 })
      .keepAlive({ content: new Uint8Array([0xff]), mode: 'interval' })
      .keepAlive({ content: 'hb', messageType: 'ping', timeout: 20 })
      .keepAlive();
    const events = await eventsOf(reply.toResponse());
    const parsed = events.map((e) => (e.type === 'TEXT' && e.text.startsWith('c:') ? parseGripControlMessage(e.text.slice(2)) : e));
    expect(parsed).toEqual([
      { kind: 'control', message: { type: 'detach' } },
      { kind: 'control', message: { type: 'keep-alive', message: { kind: 'text', text: '{}' }, timeoutSeconds: 30, mode: 'idle' } },
      {
        kind: 'control',
        message: { type: 'keep-alive', message: { kind: 'binary', data: new Uint8Array([0xff]) }, timeoutSeconds: 55, mode: 'interval' },
      },
      {
        kind: 'control',
        message: { type: 'keep-alive', message: { kind: 'ping', data: new TextEncoder().encode('hb') }, timeoutSeconds: 20, mode: 'idle' },
      },
      { kind: 'control', message: { type: 'keep-alive', message: null, timeoutSeconds: 55, mode: 'idle' } },
    ]);
  });

  it('sets and deletes meta with lower-cased names; the last call per name wins', () => {
    const response = new WebSocketReply().setMeta('Room', 'a').setMeta('room', 'b').deleteMeta('USER').toResponse();
    expect(response.headers.get('set-meta-room')).toBe('b');
    expect(response.headers.has('set-meta-user')).toBe(true);
    expect(response.headers.get('set-meta-user')).toBe('');
  });

  it('rejects with the given status, body and headers', async () => {
    const response = new WebSocketReply().accept().send('ignored').reject(403, 'go away', { 'X-Why': 'banned' });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-why')).toBe('banned');
    expect(await response.text()).toBe('go away');
    expect(new WebSocketReply().reject(401).status).toBe(401);
  });

  it('throws typed usage errors for invalid arguments', () => {
    const reply = new WebSocketReply();
    expect(usageError(() => reply.subscribe('')).code).toBe('invalid-channel');
    expect(usageError(() => reply.unsubscribe('$connection')).code).toBe('invalid-channel');
    expect(usageError(() => reply.close(1005)).code).toBe('invalid-close-code');
    expect(usageError(() => reply.close(999)).code).toBe('invalid-close-code');
    expect(usageError(() => reply.close(1000, 'é'.repeat(62))).code).toBe('invalid-close-reason');
    expect(usageError(() => reply.setMeta('bad name', 'x')).code).toBe('invalid-meta-name');
    expect(usageError(() => reply.setMeta('user', 'line\nbreak')).code).toBe('invalid-meta-value');
    expect(usageError(() => reply.setMeta('user', ' padded')).code).toBe('invalid-meta-value');
    expect(usageError(() => reply.setMeta('user', 'José')).code).toBe('invalid-meta-value');
    expect(usageError(() => reply.setMeta('user', '')).code).toBe('invalid-meta-value');
    expect(usageError(() => reply.accept({ subprotocol: 'a b' })).code).toBe('invalid-subprotocol');
    expect(usageError(() => reply.accept({ messagePrefix: 'c:' })).code).toBe('invalid-message-prefix');
    expect(usageError(() => reply.accept({ messagePrefix: 'a"b' })).code).toBe('invalid-message-prefix');
    expect(usageError(() => reply.keepAlive({ content: 'x', timeout: 0 })).code).toBe('invalid-keep-alive');
    expect(usageError(() => reply.keepAlive({ content: new Uint8Array([0xff]), messageType: 'text' })).code).toBe('invalid-keep-alive');
    expect(usageError(() => reply.reject(200)).code).toBe('invalid-status');
    const error = usageError(() => reply.subscribe(''));
    expect(error.name).toBe('GripUsageError');
    expect(error.message).toContain('channel must not be empty');
    // Nothing invalid was queued.
    expect(reply.toResponse().headers.get('sec-websocket-extensions')).toBeNull();
  });

  it('refuses to build a body larger than a GRIP proxy accepts', () => {
    const reply = new WebSocketReply().send('x'.repeat(600_000)).send('y'.repeat(600_000));
    expect(usageError(() => reply.toResponse()).code).toBe('message-too-large');
  });

  it("is read by the server's reply interpreter as the calls intended", async () => {
    const opening = new WebSocketReply()
      .accept({ subprotocol: 'chat.v1', messagePrefix: '>' })
      .subscribe('room')
      .send('welcome')
      .setMeta('user', 'alice')
      .deleteMeta('stale');
    const accepted = interpretOpenReply(await asServerSees(opening.toResponse()), { offeredSubprotocols: ['chat.v1'] });
    expect(accepted).toMatchObject({
      kind: 'accept',
      subprotocol: 'chat.v1',
      grip: { enabled: true, messagePrefix: '>' },
      metaChanges: { user: 'alice', stale: null },
      actions: [
        { kind: 'control', message: { type: 'subscribe', channel: 'room', filters: [] } },
        { kind: 'send', message: { kind: 'text', text: 'welcome' } },
      ],
      ignored: [],
    });

    const later = new WebSocketReply({ messagePrefix: '>' }).send('bye').close(4000, 'done');
    const update = interpretSessionReply(await asServerSees(later.toResponse()), { enabled: true, messagePrefix: '>' });
    expect(update).toEqual({
      kind: 'update',
      metaChanges: {},
      actions: [
        { kind: 'send', message: { kind: 'text', text: 'bye' } },
        { kind: 'close', code: 4000, reason: 'done' },
      ],
      ignored: [],
    });

    const rejected = interpretOpenReply(await asServerSees(new WebSocketReply().reject(403, 'no')), { offeredSubprotocols: [] });
    expect(rejected).toMatchObject({ kind: 'reject', status: 403, body: new TextEncoder().encode('no') });
  });
});
