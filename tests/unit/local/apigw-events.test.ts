import { describe, expect, it } from 'vitest';
import {
  amznTraceId,
  connectEvent,
  disconnectEvent,
  disconnectReason,
  handshakeHeaders,
  messageEvent,
  queryParameters,
  requestTime,
  type ApiContext,
  type ConnectionFacts,
  type Handshake,
} from '#src/local/apigw-events.js';

const api: ApiContext = { stage: 'dev', apiId: 'local', domainName: '127.0.0.1:8080' };
const connection: ConnectionFacts = {
  connectionId: 'Conn0000000000A=',
  connectedAt: Date.UTC(2024, 10, 11, 13, 45, 46),
  sourceIp: '10.0.0.7',
};
const handshake: Handshake = {
  url: '/chat/room?room=a&tag=x&tag=y',
  rawHeaders: ['Host', '127.0.0.1:8080', 'X-Test', 'one', 'x-test', 'two', 'User-Agent', 'agent/1'],
  userAgent: 'agent/1',
  port: 8080,
  traceId: 'Root=1-67320a0a-000000000000000000000000',
};

describe('requestTime and amznTraceId', () => {
  it("format as API Gateway's requestContext.requestTime and X-Amzn-Trace-Id", () => {
    expect(requestTime(Date.UTC(2024, 10, 1, 3, 4, 5))).toBe('01/Nov/2024:03:04:05 +0000');
    expect(amznTraceId(Date.UTC(2024, 10, 11, 13, 45, 46), 'ab'.repeat(12))).toBe(`Root=1-67320a8a-${'ab'.repeat(12)}`);
  });
});

describe('connectEvent', () => {
  const event = connectEvent(handshake, connection, 'Req0000000000001', api);

  it('carries the request context of $connect, timed at the connection, with the identity', () => {
    expect(event.requestContext).toEqual({
      routeKey: '$connect',
      eventType: 'CONNECT',
      extendedRequestId: 'Req0000000000001',
      requestId: 'Req0000000000001',
      requestTime: '11/Nov/2024:13:45:46 +0000',
      requestTimeEpoch: connection.connectedAt,
      connectedAt: connection.connectedAt,
      messageDirection: 'IN',
      stage: 'dev',
      apiId: 'local',
      domainName: '127.0.0.1:8080',
      connectionId: connection.connectionId,
      identity: { sourceIp: '10.0.0.7', userAgent: 'agent/1' },
    });
    expect(connectEvent({ ...handshake, userAgent: undefined }, connection, 'r', api).requestContext.identity).toEqual({
      sourceIp: '10.0.0.7',
    });
  });

  it('passes both query maps and our localHandshake extension with the path and raw query', () => {
    expect(event.queryStringParameters).toEqual({ room: 'a', tag: 'y' });
    expect(event.multiValueQueryStringParameters).toEqual({ room: ['a'], tag: ['x', 'y'] });
    expect(event.localHandshake).toEqual({ path: '/chat/room', rawQuery: 'room=a&tag=x&tag=y' });
    expect(event.isBase64Encoded).toBe(false);
    expect(connectEvent({ ...handshake, url: '?a=1' }, connection, 'r', api).localHandshake).toEqual({ path: '/', rawQuery: 'a=1' });
  });
});

describe('handshakeHeaders', () => {
  it("keeps the client's spelling, the last value in headers and all in multiValueHeaders, and adds API Gateway's", () => {
    const { headers, multiValueHeaders } = handshakeHeaders(handshake, '10.0.0.7');
    expect(headers).toEqual({
      Host: '127.0.0.1:8080',
      'X-Test': 'two',
      'User-Agent': 'agent/1',
      'X-Forwarded-For': '10.0.0.7',
      'X-Forwarded-Port': '8080',
      'X-Forwarded-Proto': 'http',
      'X-Amzn-Trace-Id': handshake.traceId,
    });
    expect(multiValueHeaders['X-Test']).toEqual(['one', 'two']);
  });

  it('appends the source address to a forwarded chain the client sent', () => {
    const { headers } = handshakeHeaders(
      { ...handshake, rawHeaders: ['x-forwarded-for', '1.2.3.4', 'X-Forwarded-For', '5.6.7.8'] },
      '10.0.0.7',
    );
    expect(headers['x-forwarded-for']).toBe('1.2.3.4, 5.6.7.8, 10.0.0.7');
  });
});

describe('queryParameters', () => {
  it('gives neither map without a query, as API Gateway omits them', () => {
    expect(queryParameters('')).toEqual({});
    expect(queryParameters('&')).toEqual({});
    expect(queryParameters('a=1&a=2&b=')).toEqual({
      queryStringParameters: { a: '2', b: '' },
      multiValueQueryStringParameters: { a: ['1', '2'], b: [''] },
    });
  });
});

describe('messageEvent and disconnectEvent', () => {
  const invocation = { requestId: 'Req0000000000002', now: connection.connectedAt + 5_000 };

  it('$default: the body, a messageId, and the connection time beside the request time', () => {
    const event = messageEvent(connection, 'hello', { ...invocation, messageId: 'Msg0000000000001' }, api);
    expect(event).toMatchObject({ body: 'hello', isBase64Encoded: false });
    expect(event.headers).toBeUndefined();
    expect(event.requestContext).toMatchObject({
      routeKey: '$default',
      eventType: 'MESSAGE',
      messageId: 'Msg0000000000001',
      connectedAt: connection.connectedAt,
      requestTimeEpoch: invocation.now,
      identity: { sourceIp: '10.0.0.7' },
    });
  });

  it('$disconnect: the close code and reason, and the few empty headers real events carry', () => {
    const event = disconnectEvent(connection, { code: 1001, reason: 'Going away' }, invocation, api);
    expect(event.requestContext).toMatchObject({
      routeKey: '$disconnect',
      eventType: 'DISCONNECT',
      disconnectStatusCode: 1001,
      disconnectReason: 'Going away',
    });
    expect(event.requestContext.messageId).toBeUndefined();
    expect(event.headers).toEqual({ Host: '127.0.0.1:8080', 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' });
    expect(event.multiValueHeaders?.['Host']).toEqual(['127.0.0.1:8080']);
  });

  it('disconnectReason: the frame reason first, then the server close with this code, then the 1005/1006 texts', () => {
    expect(disconnectReason(1000, 'bye', { code: 1000, reason: 'server' })).toBe('bye');
    expect(disconnectReason(4000, '', { code: 4000, reason: 'server' })).toBe('server');
    expect(disconnectReason(1006, '', { code: 4000, reason: 'server' })).toBe('Connection closed abnormally');
    expect(disconnectReason(1005, '', null)).toBe('Client-side close frame status not set');
    expect(disconnectReason(1000, '', null)).toBe('');
  });
});
