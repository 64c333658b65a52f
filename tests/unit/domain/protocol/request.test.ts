import { describe, expect, it } from 'vitest';
import type { Handshake } from '#src/domain/connection.js';
import { decodeEvents } from '#src/domain/protocol/codec.js';
import {
  buildBackendRequest,
  handshakeFromClient,
  MAX_STORED_HANDSHAKE_BYTES,
  offeredSubprotocols,
  unsafePathReason,
} from '#src/domain/protocol/request.js';

const ascii = (b: Uint8Array): string => String.fromCharCode(...b);

describe('handshakeFromClient', () => {
  it('strips every spelling of the reserved headers that a CGI/WSGI stack or proxy folds into them', () => {
    const { handshake } = handshakeFromClient({
      headers: {
        Meta_User: 'admin',
        'Meta.Role': 'root',
        Grip_Sig: 'forged',
        'grip.last': 'x',
        Connection_Id: 'spoofed',
        Content_Length: '1',
        X_Custom_Header: 'kept',
      },
      path: '/',
      query: '',
    });
    expect(handshake.headers).toEqual({ x_custom_header: 'kept' });
  });

  it('strips what Pushpin strips and keeps the rest, lower-cased, in order (capture 1 headers)', () => {
    const { handshake, dropped } = handshakeFromClient({
      headers: {
        Host: '127.0.0.1:7999',
        Upgrade: 'websocket',
        Connection: 'Upgrade',
        'Keep-Alive': 'timeout=5',
        Accept: '*/*',
        'Accept-Encoding': 'gzip',
        'Content-Encoding': 'gzip',
        'Transfer-Encoding': 'chunked',
        Expect: '100-continue',
        'Content-Length': '0',
        'X-Test': 'yes',
        Cookie: 'sid=1',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'vfYLMKHBrgmHYGEGVgE0yQ==',
        'Sec-WebSocket-Extensions': 'permessage-deflate',
        'Connection-Id': 'spoofed',
        'Meta-User': 'admin',
        'meta-role': 'root',
        'Grip-Sig': 'forged',
        'Grip-Feature': 'x',
        Origin: 'https://app.example',
      },
      path: '/ws',
      query: 'token=abc',
    });
    expect(handshake).toEqual({
      path: '/ws',
      query: 'token=abc',
      headers: {
        'x-test': 'yes',
        cookie: 'sid=1',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'vfYLMKHBrgmHYGEGVgE0yQ==',
        origin: 'https://app.example',
      },
    });
    expect(Object.keys(handshake.headers)).toEqual(['x-test', 'cookie', 'sec-websocket-version', 'sec-websocket-key', 'origin']);
    expect(dropped).toEqual([]);
  });

  it('joins multi-values with ", ", cookies with "; ", and merges names that differ only in case', () => {
    const { handshake } = handshakeFromClient({
      headers: { 'X-Forwarded-For': ['1.1.1.1', '2.2.2.2'], Cookie: ['a=1', 'b=2'], cookie: 'c=3', 'x-a': 'one', 'X-A': ['two'] },
      path: '/',
      query: '',
    });
    expect(handshake.headers).toEqual({ 'x-forwarded-for': '1.1.1.1, 2.2.2.2', cookie: 'a=1; b=2; c=3', 'x-a': 'one, two' });
  });

  it('drops a leading ? from the query and keeps an empty one empty', () => {
    expect(handshakeFromClient({ headers: {}, path: '/', query: '?a=1' }).handshake.query).toBe('a=1');
    expect(handshakeFromClient({ headers: {}, path: '/', query: '' }).handshake.query).toBe('');
  });

  it('drops and reports headers with invalid names or values, and skips empty multi-values', () => {
    const { handshake, dropped } = handshakeFromClient({
      headers: { 'bad name': 'x', 'x-crlf': 'a\r\nInjected: yes', 'x-nul': 'a\u0000', 'x-empty': [], 'x-ok': 'fine' },
      path: '/',
      query: '',
    });
    expect(handshake.headers).toEqual({ 'x-ok': 'fine' });
    expect(dropped).toEqual(['bad name', 'x-crlf', 'x-nul']);
  });

  it('trims an oversized header set deterministically: largest unprotected first, protected last', () => {
    const big = 'v'.repeat(7000);
    const headers = {
      cookie: big,
      'x-a': big,
      'x-b': big,
      'x-c': 'small',
      authorization: `Bearer ${'t'.repeat(3000)}`,
      'sec-websocket-protocol': 'chat',
    };
    const first = handshakeFromClient({ headers, path: '/', query: '' });
    const second = handshakeFromClient({ headers, path: '/', query: '' });
    expect(first).toEqual(second);
    // x-a and x-b (same size) go first, by name; then everything fits.
    expect(first.dropped).toEqual(['x-a', 'x-b']);
    expect(Object.keys(first.handshake.headers)).toEqual(['cookie', 'x-c', 'authorization', 'sec-websocket-protocol']);
    const size = Object.entries(first.handshake.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    expect(size).toBeLessThanOrEqual(MAX_STORED_HANDSHAKE_BYTES);
  });

  it('drops protected headers too when nothing else is left', () => {
    const { handshake, dropped } = handshakeFromClient({
      headers: { cookie: 'c'.repeat(MAX_STORED_HANDSHAKE_BYTES), origin: 'https://o.example', 'x-small': '1' },
      path: '/',
      query: '',
    });
    expect(dropped).toEqual(['x-small', 'cookie']);
    expect(handshake.headers).toEqual({ origin: 'https://o.example' });
  });

  it('counts UTF-8 bytes of values against the limit', () => {
    const { dropped } = handshakeFromClient({ headers: { 'x-u': '€'.repeat(6000) }, path: '/', query: '' });
    expect(dropped).toEqual(['x-u']);
  });
});

describe('offeredSubprotocols', () => {
  const hs = (value?: string): Handshake => ({
    path: '/',
    query: '',
    headers: value === undefined ? {} : { 'sec-websocket-protocol': value },
  });
  it.each<[string | undefined, string[]]>([
    [undefined, []],
    ['', []],
    ['chat', ['chat']],
    ['chat, superchat', ['chat', 'superchat']],
    [' a ,, b ,a', ['a', 'b']],
  ])('%j', (value, expected) => {
    expect(offeredSubprotocols(hs(value))).toEqual(expected);
  });
});

describe('buildBackendRequest', () => {
  const handshake: Handshake = { path: '/', query: '', headers: { cookie: 'sid=1', 'x-test': 'yes' } };
  const base = { connectionId: 'L0SM9cOFvHcCIhw=', handshake, meta: {}, events: [], gripSig: 'sig.jwt.value' };

  it.each<[string, string, string, string]>([
    ['http://backend:8999', '/', '', 'http://backend:8999'],
    ['http://backend:8999/', '', '', 'http://backend:8999/'],
    ['http://backend:8999/api', '/', '', 'http://backend:8999/api'],
    ['http://backend:8999', '/ws', 'token=abc', 'http://backend:8999/ws?token=abc'],
    ['http://backend:8999/', '/ws', '', 'http://backend:8999/ws'],
    ['http://backend:8999/api/', '/ws/room/', '', 'http://backend:8999/api/ws/room/'],
    ['http://backend:8999/api//', '//ws', '', 'http://backend:8999/api/ws'],
    ['http://backend:8999/api?key=1', '/ws', 'a=2', 'http://backend:8999/api/ws?key=1&a=2'],
    ['http://backend:8999/api?key=1', '/', '', 'http://backend:8999/api?key=1'],
    ['http://backend:8999/api?', '/', 'a=2', 'http://backend:8999/api?a=2'],
    ['http://backend:8999/api#frag', '/ws', 'a=1', 'http://backend:8999/api/ws?a=1'],
  ])('URL: %s + %j + %j', (targetUrl, path, query, url) => {
    expect(buildBackendRequest({ ...base, targetUrl, handshake: { ...handshake, path, query } }).url).toBe(url);
  });

  it('sets the GRIP headers, meta and the encoded events', () => {
    const request = buildBackendRequest({
      ...base,
      targetUrl: 'http://backend:8999/',
      meta: { user: 'alice' },
      events: [{ type: 'TEXT', text: 'ping' }],
    });
    expect(request.headers).toEqual({
      cookie: 'sid=1',
      'x-test': 'yes',
      'Meta-user': 'alice',
      'Sec-WebSocket-Extensions': 'grip',
      Accept: 'application/websocket-events',
      'Content-Type': 'application/websocket-events',
      'Connection-Id': 'L0SM9cOFvHcCIhw=',
      'Grip-Sig': 'sig.jwt.value',
    });
    expect(ascii(request.body)).toBe('TEXT 4\r\nping\r\n');
    expect(decodeEvents(request.body)).toEqual({ ok: true, value: [{ type: 'TEXT', text: 'ping' }] });
  });

  it('an empty event list is an empty body (a keep-alive poll)', () => {
    expect(buildBackendRequest({ ...base, targetUrl: 'http://b' }).body.length).toBe(0);
  });

  it("the server's headers win over replayed ones with the same name", () => {
    const request = buildBackendRequest({
      ...base,
      targetUrl: 'http://b',
      handshake: { path: '/', query: '', headers: { 'content-type': 'text/plain', 'grip-sig': 'forged', 'meta-user': 'x', accept: '*/*' } },
      meta: { user: 'real' },
    });
    expect(request.headers).toEqual({
      'Meta-user': 'real',
      'Sec-WebSocket-Extensions': 'grip',
      Accept: 'application/websocket-events',
      'Content-Type': 'application/websocket-events',
      'Connection-Id': 'L0SM9cOFvHcCIhw=',
      'Grip-Sig': 'sig.jwt.value',
    });
  });

  it('round-trips a captured handshake into a request shaped like Pushpin’s (capture 8)', () => {
    const { handshake: captured } = handshakeFromClient({
      headers: {
        Host: '127.0.0.1:7999',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'ofgpc4dekRvEsDk8itEGJQ==',
        'Sec-WebSocket-Extensions': 'permessage-deflate',
      },
      path: '/meta',
      query: '',
    });
    const request = buildBackendRequest({
      targetUrl: 'http://127.0.0.1:8999',
      connectionId: 'b56bb777-5315-45bb-9993-a1050f399524',
      handshake: captured,
      meta: { user: 'alice' },
      events: [{ type: 'TEXT', text: 'ping' }],
      gripSig: 'token',
    });
    expect(request.url).toBe('http://127.0.0.1:8999/meta');
    const lower = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
    expect(lower).toMatchObject({
      'sec-websocket-version': '13',
      'sec-websocket-key': 'ofgpc4dekRvEsDk8itEGJQ==',
      'sec-websocket-extensions': 'grip',
      accept: 'application/websocket-events',
      'content-type': 'application/websocket-events',
      'connection-id': 'b56bb777-5315-45bb-9993-a1050f399524',
      'meta-user': 'alice',
      'grip-sig': 'token',
    });
    expect(lower['host']).toBeUndefined();
    expect(request.body.length).toBe(14);
  });
});

describe('unsafePathReason: client paths that could leave TARGET_URL', () => {
  it.each([
    ['/../admin', 'dot segment'],
    ['/%2e%2e/admin', 'dot segment'],
    ['/%2E%2e/admin', 'dot segment'],
    ['/.%2E/admin', 'dot segment'],
    ['/%252e%252e/admin', 'dot segment'],
    ['/a/./b', 'dot segment'],
    ['/a/..', 'dot segment'],
    ['/a/..\\..\\admin', 'backslash'],
    ['/a/%5c..%5Cadmin', 'backslash'],
    ['/a\u0000b', 'control character'],
  ])('%s → %s', (path, reason) => {
    expect(unsafePathReason(path)).toBe(reason);
  });

  it.each(['/', '', '/chat', '/chat/room-1', '/a..b/c', '/...', '/.well-known/x', '/%2e%2e%2e', '/caf%C3%A9'])('%s is safe', (path) => {
    expect(unsafePathReason(path)).toBeNull();
  });

  it('never appends an unsafe path to the target URL, whatever calls it', () => {
    const request = (path: string) =>
      buildBackendRequest({
        targetUrl: 'https://api.example/t',
        connectionId: 'abc=',
        handshake: { path, query: '', headers: {} },
        meta: {},
        events: [],
        gripSig: 'sig',
      });
    expect(request('/chat').url).toBe('https://api.example/t/chat');
    expect(request('/../admin').url).toBe('https://api.example/t');
    expect(new URL(request('/a/%2e%2e/%2e%2e/admin').url).pathname).toBe('/t');
  });
});
