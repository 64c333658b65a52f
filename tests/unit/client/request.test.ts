import { describe, expect, it } from 'vitest';
import { isWsOverHttp, readWebSocketRequest } from '#src/client/request.js';

const CT = 'application/websocket-events';

function wsRequest(body: BodyInit | null, headers: Record<string, string> = {}, method = 'POST'): Request {
  return new Request('http://backend.test/ws?room=1', {
    method,
    headers: { 'Content-Type': CT, Accept: CT, 'Connection-Id': 'conn-1', ...headers },
    body,
  });
}

describe('isWsOverHttp', () => {
  it('accepts POST with the content type (parameters allowed) and a matching Accept', () => {
    expect(isWsOverHttp(wsRequest('OPEN\r\n'))).toBe(true);
    expect(isWsOverHttp(wsRequest('', { 'Content-Type': `${CT}; charset=utf-8` }))).toBe(true);
    expect(isWsOverHttp(wsRequest('', { Accept: 'text/html, application/*;q=0.5' }))).toBe(true);
    expect(isWsOverHttp(wsRequest('', { Accept: '*/*' }))).toBe(true);
  });

  it('refuses other methods, content types and Accept headers', () => {
    expect(isWsOverHttp(wsRequest(null, {}, 'GET'))).toBe(false);
    expect(isWsOverHttp(wsRequest('', { 'Content-Type': 'application/json' }))).toBe(false);
    expect(isWsOverHttp(wsRequest('', { Accept: 'text/plain' }))).toBe(false);
    const noAccept = new Request('http://backend.test/', { method: 'POST', headers: { 'Content-Type': CT }, body: '' });
    expect(isWsOverHttp(noAccept)).toBe(false);
  });
});

describe('readWebSocketRequest', () => {
  it('reads the connection id, lower-cased meta, the events and whether it is opening', async () => {
    const read = await readWebSocketRequest(
      wsRequest('OPEN\r\n', { 'Meta-User': 'alice', 'meta-Room': 'lobby', 'Sec-WebSocket-Protocol': 'chat.v2, chat.v1' }),
    );
    expect(read).toEqual({
      ok: true,
      value: {
        connectionId: 'conn-1',
        meta: { user: 'alice', room: 'lobby' },
        events: [{ type: 'OPEN' }],
        isOpening: true,
        requestedProtocols: ['chat.v2', 'chat.v1'],
      },
    });
  });

  it('decodes every event kind, with byte lengths in either hex case', async () => {
    const body = new Uint8Array([
      ...new TextEncoder().encode('TEXT 1C\r\nhere is another nice message\r\nBINARY 2\r\n'),
      1,
      2,
      ...new TextEncoder().encode('\r\nPING\r\nPONG 1\r\nx\r\nCLOSE 5\r\n'),
      0x03,
      0xe8,
      ...new TextEncoder().encode('bye\r\n'),
    ]);
    const read = await readWebSocketRequest(wsRequest(body));
    expect(read.ok && read.value.events).toEqual([
      { type: 'TEXT', text: 'here is another nice message' },
      { type: 'BINARY', data: new Uint8Array([1, 2]) },
      { type: 'PING', data: new Uint8Array() },
      { type: 'PONG', data: new TextEncoder().encode('x') },
      { type: 'CLOSE', code: 1000, reason: 'bye' },
    ]);
    expect(read.ok && read.value.isOpening).toBe(false);
  });

  it('reads CLOSE without a code, DISCONNECT, and an empty keep-alive body', async () => {
    const closed = await readWebSocketRequest(wsRequest('CLOSE\r\n'));
    expect(closed.ok && closed.value.events).toEqual([{ type: 'CLOSE', code: null, reason: '' }]);
    const gone = await readWebSocketRequest(wsRequest('DISCONNECT\r\n'));
    expect(gone.ok && gone.value.events).toEqual([{ type: 'DISCONNECT' }]);
    const empty = await readWebSocketRequest(wsRequest(''));
    expect(empty.ok && empty.value.events).toEqual([]);
    expect(empty.ok && empty.value.meta).toEqual({});
  });

  it('keeps a Meta-__proto__ header as an ordinary key', async () => {
    const read = await readWebSocketRequest(wsRequest('', { 'Meta-__proto__': 'x' }));
    expect(read.ok && Object.keys(read.value.meta)).toEqual(['__proto__']);
    expect(read.ok && Object.getPrototypeOf(read.value.meta)).toBe(Object.prototype);
  });

  it('reports a missing or blank Connection-Id as a typed error', async () => {
    const missing = new Request('http://backend.test/', { method: 'POST', headers: { 'Content-Type': CT, Accept: CT }, body: 'OPEN\r\n' });
    expect(await readWebSocketRequest(missing)).toEqual({
      ok: false,
      error: { kind: 'missing-connection-id', message: 'the request has no Connection-Id header' },
    });
    const blank = await readWebSocketRequest(wsRequest('OPEN\r\n', { 'Connection-Id': ' ' }));
    expect(!blank.ok && blank.error.kind).toBe('missing-connection-id');
  });

  it('reports an undecodable body with the offset of the problem', async () => {
    const read = await readWebSocketRequest(wsRequest('OPEN\r\nTEXT 10\r\nshort\r\n'));
    expect(read.ok).toBe(false);
    if (read.ok) return;
    expect(read.error.kind).toBe('undecodable-body');
    if (read.error.kind !== 'undecodable-body') return;
    expect(read.error.decode).toMatchObject({ reason: 'truncated', offset: 15 });
    expect(read.error.message).toContain('at byte 15');
  });

  it('refuses a body over the limit, whether declared or streamed', async () => {
    // The header alone decides: the body is short, but the sender announced more than the limit.
    const declared = await readWebSocketRequest(wsRequest('OPEN\r\n', { 'Content-Length': '1000' }), { maxBodyBytes: 10 });
    expect(!declared.ok && declared.error).toEqual({ kind: 'body-too-large', message: 'the body is larger than 10 bytes', limit: 10 });
    const chunks = ['TEXT 5\r\n', 'hello\r\n'];
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
      cancel() {
        cancelled = true;
      },
    });
    const request = new Request('http://backend.test/', {
      method: 'POST',
      headers: { 'Connection-Id': 'c' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    const streamed = await readWebSocketRequest(request, { maxBodyBytes: 10 });
    expect(!streamed.ok && streamed.error.kind).toBe('body-too-large');
    expect(cancelled).toBe(true);
  });

  it('reports a body that was already consumed', async () => {
    const request = wsRequest('OPEN\r\n');
    await request.text();
    const read = await readWebSocketRequest(request);
    expect(!read.ok && read.error.kind).toBe('body-unreadable');
  });
});
