import { request } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiGatewayWebSocketEvent } from '#src/handlers/aws-events.js';
import { ConnectionRegistry } from '#src/local/connections.js';
import { bindLocalGateway, startLocalGateway, type LocalGateway, type LocalGatewayOptions } from '#src/local/gateway.js';
import { deferred, HandshakeRejected, openClient, recordingHandlers, waitFor, type RecordingHandlers } from './support.js';
import { RecordingLog } from '#test-helpers/fakes.js';

const running: LocalGateway[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop()));
});

async function gateway(
  handlers: RecordingHandlers,
  options: Partial<LocalGatewayOptions> = {},
): Promise<LocalGateway & { log: RecordingLog }> {
  const log = new RecordingLog();
  const g = await startLocalGateway({ port: 0, handlers, log, ...options });
  running.push(g);
  return Object.assign(g, { log });
}

async function rejection(promise: Promise<unknown>): Promise<HandshakeRejected> {
  const e = await promise.then(
    () => {
      throw new Error('handshake unexpectedly succeeded');
    },
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(HandshakeRejected);
  return e as HandshakeRejected;
}

const disconnectOf = async (handlers: RecordingHandlers, connectionId: string): Promise<ApiGatewayWebSocketEvent> =>
  waitFor(() => handlers.of('DISCONNECT').find((e) => e.requestContext.connectionId === connectionId), 10_000, 'DISCONNECT');

describe('local gateway: $connect', () => {
  it('passes an API Gateway CONNECT event with handshake headers, query and our localHandshake', async () => {
    const handlers = recordingHandlers({ onConnect: () => ({ statusCode: 200, headers: { 'Sec-WebSocket-Protocol': 'p1' } }) });
    const g = await gateway(handlers, { stage: 'dev' });
    const client = await openClient(`${g.url}/chat/room?room=a&tag=x&tag=y`, ['p1'], {
      headers: { 'X-Test': 'yes', 'User-Agent': 'test-agent' },
    });
    client.ws.close();
    const [event] = handlers.of('CONNECT');
    expect(event).toBeDefined();
    const ctx = event!.requestContext;
    expect(ctx).toMatchObject({ routeKey: '$connect', eventType: 'CONNECT', stage: 'dev', apiId: 'local', messageDirection: 'IN' });
    expect(ctx.connectionId).toMatch(/^[A-Za-z0-9+/]{15}=$/);
    expect(ctx.requestId).toMatch(/^[A-Za-z0-9+/]{15}=$/);
    expect(ctx.messageId).toBeUndefined();
    expect(ctx.identity).toEqual({ sourceIp: '127.0.0.1', userAgent: 'test-agent' });
    expect(ctx.requestTime).toMatch(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
    expect(typeof ctx.connectedAt).toBe('number');
    expect(ctx.domainName).toBe(`127.0.0.1:${g.port}`);
    expect(event!.headers).toMatchObject({
      'X-Test': 'yes',
      'Sec-WebSocket-Protocol': 'p1',
      'Sec-WebSocket-Version': '13',
      'X-Forwarded-For': '127.0.0.1',
      'X-Forwarded-Proto': 'http',
    });
    expect(event!.headers?.['Sec-WebSocket-Key']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(event!.headers?.['X-Amzn-Trace-Id']).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(event!.multiValueHeaders?.['X-Test']).toEqual(['yes']);
    expect(event!.queryStringParameters).toEqual({ room: 'a', tag: 'y' });
    expect(event!.multiValueQueryStringParameters).toEqual({ room: ['a'], tag: ['x', 'y'] });
    expect(event!.localHandshake).toEqual({ path: '/chat/room', rawQuery: 'room=a&tag=x&tag=y' });
    expect(event!.isBase64Encoded).toBe(false);
  });

  it('omits the query maps when there is no query', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers);
    const client = await openClient(g.url);
    client.ws.close();
    const [event] = handlers.of('CONNECT');
    expect(event?.queryStringParameters).toBeUndefined();
    expect(event?.multiValueQueryStringParameters).toBeUndefined();
    expect(event?.localHandshake).toEqual({ path: '/', rawQuery: '' });
  });

  it('rejects the handshake with the status, headers and body $connect returned', async () => {
    const handlers = recordingHandlers({
      onConnect: () => ({ statusCode: 403, headers: { 'X-Reason': 'nope', 'Content-Type': 'text/plain' }, body: 'go away' }),
    });
    const g = await gateway(handlers);
    const e = await rejection(openClient(g.url));
    expect(e.status).toBe(403);
    expect(e.headers['x-reason']).toBe('nope');
    expect(e.headers['content-type']).toBe('text/plain');
    expect(e.body).toBe('go away');
    expect(g.connections.count).toBe(0);
    // A rejected connection never existed: no $disconnect.
    await new Promise((r) => setTimeout(r, 50));
    expect(handlers.of('DISCONNECT')).toHaveLength(0);
  });

  it('answers 502 when $connect throws or returns garbage, and keeps serving', async () => {
    let mode: 'throw' | 'garbage' | 'ok' = 'throw';
    const handlers = recordingHandlers({
      onConnect: () => {
        if (mode === 'throw') throw new Error('backend exploded');
        if (mode === 'garbage') return { statusCode: 'yes' } as never;
        return { statusCode: 200 };
      },
    });
    const g = await gateway(handlers);
    const thrown = await rejection(openClient(g.url));
    expect(thrown.status).toBe(502);
    expect(JSON.parse(thrown.body)).toEqual({ message: 'Internal server error' });
    mode = 'garbage';
    expect((await rejection(openClient(g.url))).status).toBe(502);
    mode = 'ok';
    const client = await openClient(g.url);
    client.ws.close();
    expect(g.log.entries.some((l) => l.level === 'error' && l.message.includes('$connect handler failed'))).toBe(true);
  });

  it('never lets result headers inject lines into the handshake response', async () => {
    let headers: Record<string, string> = { 'Sec-WebSocket-Protocol': 'a\r\nX-Evil: 1' };
    const handlers = recordingHandlers({ onConnect: () => ({ statusCode: 200, headers }) });
    const g = await gateway(handlers);
    const injected = await rejection(openClient(g.url, ['a']));
    expect(injected.status).toBe(502);
    expect(injected.headers['x-evil']).toBeUndefined();
    headers = { 'X-Fine': 'yes', 'X-Bad': 'v\r\nX-Evil: 1' };
    const client = await openClient(g.url);
    expect(client.upgradeHeaders['x-fine']).toBe('yes');
    expect(client.upgradeHeaders['x-bad']).toBeUndefined();
    expect(client.upgradeHeaders['x-evil']).toBeUndefined();
    client.ws.close();
  });

  it('answers 504 when $connect outlives the integration timeout', async () => {
    const never = deferred<{ statusCode: number }>();
    const handlers = recordingHandlers({ onConnect: () => never.promise });
    const g = await gateway(handlers, { connectTimeoutMs: 100 });
    expect((await rejection(openClient(g.url))).status).toBe(504);
    never.resolve({ statusCode: 200 });
  });

  it('echoes the chosen subprotocol and puts the other result headers on the 101', async () => {
    const handlers = recordingHandlers({
      onConnect: () => ({ statusCode: 200, headers: { 'sec-websocket-protocol': 'chat.v2', 'X-Session': 's1', Connection: 'evil' } }),
    });
    const g = await gateway(handlers);
    const client = await openClient(g.url, ['chat.v1', 'chat.v2']);
    expect(client.ws.protocol).toBe('chat.v2');
    expect(client.upgradeHeaders['x-session']).toBe('s1');
    expect(client.upgradeHeaders.connection).toBe('Upgrade');
    client.ws.close();
  });

  it('does not pick a subprotocol the handler did not choose (so a client that offered some fails, as on AWS)', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers);
    await expect(openClient(g.url, ['a', 'b'])).rejects.toThrow('Server sent no subprotocol');
  });

  it('keeps the connection pending while $connect runs: posts are gone, info is null', async () => {
    const release = deferred<void>();
    const seen: string[] = [];
    const box: { gw?: LocalGateway } = {};
    const handlers = recordingHandlers({
      onConnect: async (event) => {
        const id = event.requestContext.connectionId;
        seen.push(box.gw!.connections.post(id, 'too early').kind);
        seen.push(box.gw!.connections.close(id).kind);
        seen.push(String(box.gw!.connections.info(id)));
        await release.promise;
        return { statusCode: 200 };
      },
    });
    const gw = await gateway(handlers);
    box.gw = gw;
    const opening = openClient(gw.url);
    await waitFor(() => seen.length === 3, 5_000, '$connect');
    expect(gw.connections.count).toBe(0);
    release.resolve();
    const client = await opening;
    expect(seen).toEqual(['gone', 'gone', 'null']);
    expect(gw.connections.count).toBe(1);
    client.ws.close();
  });

  it('sends $disconnect (1006) when the client drops while an accepting $connect runs', async () => {
    const release = deferred<void>();
    const handlers = recordingHandlers({
      onConnect: async () => {
        await release.promise;
        return { statusCode: 200 };
      },
    });
    const g = await gateway(handlers);
    const socket = await rawUpgrade(g.port);
    const id = (await waitFor(() => handlers.of('CONNECT')[0], 5_000, 'CONNECT')).requestContext.connectionId;
    socket.destroy();
    await new Promise((r) => setTimeout(r, 20));
    release.resolve();
    const event = await disconnectOf(handlers, id);
    expect(event.requestContext.disconnectStatusCode).toBe(1006);
    expect(g.connections.count).toBe(0);
  });

  it('answers plain HTTP requests with 426', async () => {
    const g = await gateway(recordingHandlers());
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`http://127.0.0.1:${g.port}/`, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(426);
  });
});

describe('local gateway: messages', () => {
  it('routes text frames to $default as MESSAGE events without headers', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers);
    const client = await openClient(`${g.url}/x?y=1`);
    client.ws.send('hello');
    const event = await waitFor(() => handlers.of('MESSAGE')[0], 5_000, 'MESSAGE');
    const connect = handlers.of('CONNECT')[0]!;
    expect(event.body).toBe('hello');
    expect(event.isBase64Encoded).toBe(false);
    expect(event.headers).toBeUndefined();
    expect(event.queryStringParameters).toBeUndefined();
    expect(event.requestContext).toMatchObject({
      routeKey: '$default',
      eventType: 'MESSAGE',
      connectionId: connect.requestContext.connectionId,
      connectedAt: connect.requestContext.connectedAt,
      identity: { sourceIp: '127.0.0.1' },
    });
    expect(event.requestContext.messageId).toMatch(/^[A-Za-z0-9+/]{15}=$/);
    client.ws.close();
  });

  it('invokes $default for each message independently, without waiting for the previous one', async () => {
    const second = deferred<void>();
    const handlers = recordingHandlers({
      onMessage: async (event) => {
        // The first invocation can only finish once the second one has started.
        if (event.body === 'first') await second.promise;
        else second.resolve();
      },
    });
    const g = await gateway(handlers);
    const client = await openClient(g.url);
    client.ws.send('first');
    client.ws.send('second');
    await waitFor(() => handlers.of('MESSAGE').length === 2, 5_000, 'both messages');
    await second.promise;
    client.ws.close();
  });

  it('closes with 1003 on a binary frame', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers);
    const client = await openClient(g.url);
    client.ws.send(Buffer.from([1, 2, 3]));
    expect((await client.closed).code).toBe(1003);
    const id = handlers.of('CONNECT')[0]!.requestContext.connectionId;
    expect((await disconnectOf(handlers, id)).requestContext.disconnectStatusCode).toBe(1003);
    expect(handlers.of('MESSAGE')).toHaveLength(0);
  });

  it('accepts a message of exactly 128 KB and closes with 1009 above it', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers);
    const client = await openClient(g.url);
    client.ws.send('a'.repeat(131_072));
    await waitFor(() => handlers.of('MESSAGE')[0], 5_000, 'the 128 KB message');
    client.ws.send('a'.repeat(131_073));
    expect((await client.closed).code).toBe(1009);
    expect(handlers.of('MESSAGE')).toHaveLength(1);
    // $disconnect reports what the client was told, not the 1006 `ws` sees locally.
    const id = handlers.of('CONNECT')[0]!.requestContext.connectionId;
    expect((await disconnectOf(handlers, id)).requestContext.disconnectStatusCode).toBe(1009);
  });

  it('honours a smaller maxMessageBytes', async () => {
    const g = await gateway(recordingHandlers(), { maxMessageBytes: 10 });
    const client = await openClient(g.url);
    client.ws.send('x'.repeat(11));
    expect((await client.closed).code).toBe(1009);
  });

  it('answers pings with pongs', async () => {
    const g = await gateway(recordingHandlers());
    const client = await openClient(g.url);
    const pong = new Promise<string>((resolve) => client.ws.once('pong', (data) => resolve(data.toString())));
    client.ws.ping('are you there');
    expect(await pong).toBe('are you there');
    client.ws.close();
  });

  it('logs a failing $default handler and keeps the connection', async () => {
    const handlers = recordingHandlers({
      onMessage: () => {
        throw new Error('handler bug');
      },
    });
    const g = await gateway(handlers);
    const client = await openClient(g.url);
    client.ws.send('boom');
    await waitFor(() => g.log.entries.find((l) => l.message.includes('$default handler failed')), 5_000, 'the error log');
    expect(g.connections.post(handlers.of('CONNECT')[0]!.requestContext.connectionId, 'still here').kind).toBe('ok');
    await waitFor(() => client.received.length === 1, 5_000, 'the post');
    client.ws.close();
  });
});

describe('local gateway: limits and disconnects', () => {
  it('closes an idle connection with 1001 and reports it to $disconnect', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers, { idleTimeoutMs: 150 });
    const client = await openClient(g.url);
    const closed = await client.closed;
    expect(closed).toEqual({ code: 1001, reason: 'Going away' });
    const id = handlers.of('CONNECT')[0]!.requestContext.connectionId;
    const event = await disconnectOf(handlers, id);
    expect(event.requestContext.disconnectStatusCode).toBe(1001);
    expect(event.requestContext.disconnectReason).toBe('Going away');
  });

  it('counts server posts and client messages as activity for the idle timer', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers, { idleTimeoutMs: 600 });
    const client = await openClient(g.url);
    const id = handlers.of('CONNECT')[0]!.requestContext.connectionId;
    // 2.5 idle periods of alternating traffic, each gap well below the timeout.
    for (let i = 0; i < 15; i++) {
      expect(i % 2 === 0 ? g.connections.post(id, 'tick').kind : (client.ws.send('tock'), 'ok')).toBe('ok');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(g.connections.count).toBe(1);
    expect((await client.closed).code).toBe(1001);
  });

  it('closes at the maximum lifetime even when the connection is busy', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers, { maxLifetimeMs: 300, idleTimeoutMs: 60_000 });
    const client = await openClient(g.url);
    const ticker = setInterval(() => client.ws.readyState === client.ws.OPEN && client.ws.send('busy'), 20);
    try {
      expect((await client.closed).code).toBe(1001);
    } finally {
      clearInterval(ticker);
    }
  });

  it('reports the client close code and reason, 1005 without a code, 1006 for a drop — once each', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers);
    const a = await openClient(g.url);
    const b = await openClient(g.url);
    const c = await openClient(g.url);
    const [ida, idb, idc] = handlers.of('CONNECT').map((e) => e.requestContext.connectionId);
    a.ws.close(1000, 'bye');
    b.ws.close();
    c.ws.terminate();
    const [ea, eb, ec] = await Promise.all([disconnectOf(handlers, ida!), disconnectOf(handlers, idb!), disconnectOf(handlers, idc!)]);
    expect(ea.requestContext).toMatchObject({
      routeKey: '$disconnect',
      eventType: 'DISCONNECT',
      disconnectStatusCode: 1000,
      disconnectReason: 'bye',
    });
    expect(eb.requestContext).toMatchObject({ disconnectStatusCode: 1005, disconnectReason: 'Client-side close frame status not set' });
    expect(ec.requestContext.disconnectStatusCode).toBe(1006);
    expect(ea.headers).toHaveProperty('Host');
    await waitFor(() => g.connections.count === 0, 5_000, 'registry cleanup');
    await new Promise((r) => setTimeout(r, 50));
    expect(handlers.of('DISCONNECT')).toHaveLength(3);
  });

  it('closes through the registry with any sendable code, and refuses reserved ones', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers);
    const client = await openClient(g.url);
    const id = handlers.of('CONNECT')[0]!.requestContext.connectionId;
    const refused = g.connections.close(id, { code: 1006 });
    expect(refused).toMatchObject({ kind: 'failed', retryable: false });
    expect(g.connections.close(id, { code: 4000, reason: 'server-bye' })).toEqual({ kind: 'ok' });
    expect(await client.closed).toEqual({ code: 4000, reason: 'server-bye' });
    expect(g.connections.close(id).kind).toBe('gone');
    const event = await disconnectOf(handlers, id);
    expect(event.requestContext.disconnectStatusCode).toBe(4000);
  });

  it('logs a failing $disconnect handler and keeps serving', async () => {
    const handlers = recordingHandlers({
      onDisconnect: () => {
        throw new Error('cleanup bug');
      },
    });
    const g = await gateway(handlers);
    (await openClient(g.url)).ws.close();
    await waitFor(() => g.log.entries.find((l) => l.message.includes('$disconnect handler failed')), 5_000, 'the error log');
    const again = await openClient(g.url);
    again.ws.close();
  });

  it('stop() closes open connections with 1001 and waits for their $disconnect', async () => {
    const handlers = recordingHandlers();
    const g = await startLocalGateway({ port: 0, handlers, log: new RecordingLog() });
    const client = await openClient(g.url);
    await g.stop();
    expect(handlers.of('DISCONNECT')).toHaveLength(1);
    expect((await client.closed).code).toBe(1001);
  });
});

describe('local gateway: bound before it serves', () => {
  it('holds an upgrade that arrives before serve(), then serves it from the registry it was given', async () => {
    const bound = await bindLocalGateway({ port: 0, log: new RecordingLog() });
    const early = openClient(`${bound.url}/early`);
    early.catch(() => undefined);
    const connections = new ConnectionRegistry();
    const handlers = recordingHandlers();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(handlers.events).toEqual([]);
    const g = bound.serve({ handlers, connections });
    running.push(g);
    const client = await early;
    const id = handlers.of('CONNECT')[0]!.requestContext.connectionId;
    expect(handlers.of('CONNECT')[0]!.localHandshake?.path).toBe('/early');
    expect(g.connections).toBe(connections);
    expect(connections.post(id, 'hi')).toEqual({ kind: 'ok' });
    await waitFor(() => client.received.length === 1, 5_000, 'the post');
    client.ws.close();
  });

  it('close() without serving drops a waiting upgrade and frees the port', async () => {
    const bound = await bindLocalGateway({ port: 0, log: new RecordingLog() });
    const early = openClient(bound.url).then(
      () => 'opened',
      () => 'failed',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    await bound.close();
    expect(await early).toBe('failed');
  });
});

describe('local connections registry', () => {
  it('posts text and binary frames, refuses unknown ids and oversize data, and reports info', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers);
    const client = await openClient(g.url, undefined, { headers: { 'User-Agent': 'ua/1' } });
    const id = handlers.of('CONNECT')[0]!.requestContext.connectionId;
    expect(g.connections.post(id, 'text')).toEqual({ kind: 'ok' });
    expect(g.connections.post(id, new Uint8Array([0xff, 0x00]))).toEqual({ kind: 'ok' });
    expect(g.connections.post(id, 'x'.repeat(131_073)).kind).toBe('too-large');
    expect(g.connections.post('nope', 'x').kind).toBe('gone');
    await waitFor(() => client.received.length === 2, 5_000, 'two frames');
    expect(client.received[0]).toEqual({ data: 'text', isBinary: false });
    expect(client.received[1]).toEqual({ data: Buffer.from([0xff, 0x00]), isBinary: true });
    const info = g.connections.info(id);
    expect(info?.identity).toEqual({ sourceIp: '127.0.0.1', userAgent: 'ua/1' });
    expect(info!.lastActiveAt).toBeGreaterThanOrEqual(info!.connectedAt);
    expect(g.connections.info('nope')).toBeNull();
    client.ws.close();
  });

  it('answers throttled when the client does not read and its buffer fills', async () => {
    const handlers = recordingHandlers();
    const g = await gateway(handlers, { maxBufferedBytes: 256 * 1024 });
    const socket = await rawHandshake(g.port);
    socket.pause();
    const id = handlers.of('CONNECT')[0]!.requestContext.connectionId;
    const chunk = 'z'.repeat(131_072);
    let outcome = g.connections.post(id, chunk).kind;
    for (let i = 0; i < 2_000 && outcome === 'ok'; i++) {
      outcome = g.connections.post(id, chunk).kind;
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(outcome).toBe('throttled');
    socket.destroy();
  });
});

/** Sends a WebSocket upgrade request over a raw TCP socket, so the test controls reading and dropping. */
async function rawUpgrade(port: number): Promise<Socket> {
  const socket = tcpConnect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  return socket;
}

/** A completed handshake over a raw TCP socket. */
async function rawHandshake(port: number): Promise<Socket> {
  const socket = await rawUpgrade(port);
  await new Promise<void>((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        socket.off('data', onData);
        if (text.startsWith('HTTP/1.1 101')) resolve();
        else reject(new Error(text));
      }
    };
    socket.on('data', onData);
  });
  return socket;
}
