import { describe, expect, it } from 'vitest';
import type { ApiGatewayWebSocketEvent } from '#src/handlers/aws-events.js';
import { makeWebSocketHandlers, rawQuery } from '#src/handlers/ws.js';
import { backendError, eventsReply, gripAccept, httpReply, textFrame } from '#test-helpers/fakes.js';
import { connectionRecord, sessionHarness, TARGET_URL } from '#test-helpers/harness.js';

const ID = 'L0SM9cOFvHcCIhw=';

type EventExtra = Omit<Partial<ApiGatewayWebSocketEvent>, 'requestContext'> & {
  requestContext?: Partial<ApiGatewayWebSocketEvent['requestContext']>;
};

function event(eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT', extra: EventExtra = {}): ApiGatewayWebSocketEvent {
  const { requestContext, ...rest } = extra;
  return {
    requestContext: {
      routeKey: eventType === 'CONNECT' ? '$connect' : eventType === 'MESSAGE' ? '$default' : '$disconnect',
      eventType,
      connectionId: ID,
      domainName: 'abc.execute-api.eu-west-1.amazonaws.com',
      stage: 'prod',
      apiId: 'abc',
      requestId: 'req',
      requestTimeEpoch: 1_800_000_000_000,
      connectedAt: 1_800_000_000_000,
      ...requestContext,
    },
    isBase64Encoded: false,
    ...rest,
  };
}

function handlers() {
  const h = sessionHarness();
  let flushed = 0;
  const ws = makeWebSocketHandlers(h.deps, () => flushed++);
  return { h, ws, flushes: () => flushed };
}

describe('WebSocket handlers: malformed events', () => {
  const malformed: [string, unknown][] = [
    ['null', null],
    ['no requestContext', {}],
    ['an empty connection id', { requestContext: { connectionId: '' } }],
    ['a non-string header', { requestContext: { connectionId: ID }, headers: { Cookie: 5 } }],
    ['a non-array multi-value header', { requestContext: { connectionId: ID }, multiValueHeaders: { Cookie: 'x' } }],
    ['a non-numeric close code', { requestContext: { connectionId: ID, disconnectStatusCode: '1000' } }],
  ];

  it.each(malformed)('answers 400 to %s on every route, without throwing or calling anything', async (_name, raw) => {
    const { h, ws, flushes } = handlers();
    const bad = raw as ApiGatewayWebSocketEvent;
    for (const route of [ws.connect, ws.message, ws.disconnect]) {
      expect(await route(bad)).toEqual({ statusCode: 400, body: 'malformed event' });
    }
    expect(h.backend.requests).toHaveLength(0);
    expect(h.store.calls).toHaveLength(0);
    expect(h.log.find('error', 'malformed WebSocket event')).toHaveLength(3);
    expect(flushes()).toBe(3);
  });
});

describe('WebSocket handlers: $connect', () => {
  it('maps an accept to 200 with the backend’s headers and Sec-WebSocket-Protocol', async () => {
    const { h, ws, flushes } = handlers();
    h.backend.respond(gripAccept('', { 'Sec-WebSocket-Protocol': 'chat', 'Set-Cookie': 'a=1' }));

    const result = await ws.connect(
      event('CONNECT', {
        headers: { 'Sec-WebSocket-Protocol': 'chat, superchat', Cookie: 'only-single' },
        multiValueHeaders: { 'Sec-WebSocket-Protocol': ['chat, superchat'], Cookie: ['a=1', 'b=2'] },
        multiValueQueryStringParameters: { room: ['1', '2'], q: ['a b'] },
        queryStringParameters: { room: '2', q: 'a b' },
      }),
    );

    expect(result).toEqual({ statusCode: 200, headers: { 'set-cookie': 'a=1', 'Sec-WebSocket-Protocol': 'chat' } });
    expect(h.backend.requests[0]?.url).toBe(`${TARGET_URL}?room=1&room=2&q=a+b`);
    expect(h.backend.requests[0]?.headers['cookie']).toBe('a=1; b=2');
    expect(flushes()).toBe(1);
  });

  it('leaves Sec-WebSocket-Protocol out when the backend chose none', async () => {
    const { h, ws } = handlers();
    h.backend.respond(gripAccept());
    const result = await ws.connect(event('CONNECT', { headers: { 'Sec-WebSocket-Protocol': 'chat' } }));
    expect(result).toEqual({ statusCode: 200, headers: {} });
  });

  it('maps a rejection to its status, headers and body', async () => {
    const { h, ws } = handlers();
    h.backend.respond(httpReply(401, 'who are you?', { 'WWW-Authenticate': 'Bearer' }));
    const result = await ws.connect(event('CONNECT', { headers: {} }));
    expect(result).toEqual({ statusCode: 401, headers: { 'www-authenticate': 'Bearer' }, body: 'who are you?' });
  });

  it('maps a backend failure to 502', async () => {
    const { h, ws } = handlers();
    h.backend.respond(backendError('timeout'));
    const result = await ws.connect(event('CONNECT'));
    expect(result.statusCode).toBe(502);
  });

  it('uses the local gateway’s path and raw query when present', async () => {
    const { h, ws } = handlers();
    h.backend.respond(gripAccept());
    await ws.connect(
      event('CONNECT', { localHandshake: { path: '/chat/lobby', rawQuery: 'x=%20y' }, queryStringParameters: { ignored: '1' } }),
    );
    expect(h.backend.requests[0]?.url).toBe(`${TARGET_URL}/chat/lobby?x=%20y`);
  });
});

describe('WebSocket handlers: $default and $disconnect', () => {
  it('forwards a message (plain or base64) and answers 200', async () => {
    const { h, ws } = handlers();
    h.store.seedConnection(connectionRecord(ID));
    h.backend.respond(eventsReply(textFrame('m:echo')), eventsReply(''));

    expect(await ws.message(event('MESSAGE', { body: 'hello' }))).toEqual({ statusCode: 200 });
    expect(await ws.message(event('MESSAGE', { body: Buffer.from('wörld').toString('base64'), isBase64Encoded: true }))).toEqual({
      statusCode: 200,
    });

    expect(h.backend.bodyText(0)).toBe('TEXT 5\r\nhello\r\n');
    expect(new TextDecoder().decode(h.backend.requests[1]?.body)).toBe('TEXT 6\r\nwörld\r\n');
    expect(h.sender.posted(ID)).toEqual(['echo']);
  });

  it('passes the disconnect status code and reason on', async () => {
    const { h, ws } = handlers();
    h.store.seedConnection(connectionRecord(ID));
    const result = await ws.disconnect(event('DISCONNECT', { requestContext: { disconnectStatusCode: 4000, disconnectReason: 'bye' } }));
    expect(result).toEqual({ statusCode: 200 });
    expect(h.backend.bodyText()).toBe('CLOSE 5\r\n\x0f\xa0bye\r\n');
    expect(h.store.hasItems(ID)).toBe(false);
  });

  it('treats a disconnect without a status code as DISCONNECT', async () => {
    const { h, ws } = handlers();
    h.store.seedConnection(connectionRecord(ID));
    await ws.disconnect(event('DISCONNECT'));
    expect(h.backend.bodyText()).toBe('DISCONNECT\r\n');
  });
});

describe('rawQuery', () => {
  it('rebuilds a query from multi-value parameters, falling back to single values', () => {
    expect(rawQuery({ a: ['1', '2'], b: ['x y'] }, { a: '2', b: 'x y', c: '&' })).toBe('a=1&a=2&b=x+y&c=%26');
    expect(rawQuery({}, {})).toBe('');
    expect(rawQuery({}, { only: 'one' })).toBe('only=one');
  });
});
