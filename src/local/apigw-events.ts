/**
 * API Gateway's WebSocket events, built the way API Gateway builds them, for the local gateway to hand to the
 * route handlers. Pure: every id and time an event carries is an argument (the gateway draws them), so the shapes
 * are unit-tested on their own (tests/unit/local/apigw-events.test.ts).
 */
import type { ApiGatewayWebSocketEvent, WebSocketRequestContext } from '../handlers/aws-events.js';

/** The API the events come from: `requestContext.stage`, `.apiId` and `.domainName`. */
export interface ApiContext {
  readonly stage: string;
  readonly apiId: string;
  readonly domainName: string;
}

/** What each invocation gets fresh: its request id and the time of the request (epoch ms). */
export interface Invocation {
  readonly requestId: string;
  readonly now: number;
}

/** The connection an event is about. */
export interface ConnectionFacts {
  readonly connectionId: string;
  /** Epoch ms of the upgrade request. */
  readonly connectedAt: number;
  readonly sourceIp: string;
}

/** The upgrade request as the gateway received it. */
export interface Handshake {
  /** The request target: path and query. */
  readonly url: string;
  /** Names and values alternating, as the client sent them (`IncomingMessage.rawHeaders`). */
  readonly rawHeaders: readonly string[];
  readonly userAgent: string | undefined;
  /** The port the gateway listens on (`X-Forwarded-Port`). */
  readonly port: number;
  /** The `X-Amzn-Trace-Id` API Gateway adds (`amznTraceId`). */
  readonly traceId: string;
}

/** `Root=1-<epoch seconds, hex>-<24 hex digits>`, the trace id API Gateway adds to the handshake headers. */
export function amznTraceId(now: number, random24Hex: string): string {
  return `Root=1-${Math.floor(now / 1000).toString(16)}-${random24Hex}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `11/Nov/2024:13:45:46 +0000`, the format of `requestContext.requestTime`. */
export function requestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function requestContext(
  routeKey: string,
  eventType: WebSocketRequestContext['eventType'],
  connection: Pick<ConnectionFacts, 'connectionId' | 'connectedAt'>,
  invocation: Invocation,
  api: ApiContext,
): WebSocketRequestContext {
  return {
    routeKey,
    eventType,
    extendedRequestId: invocation.requestId,
    requestTime: requestTime(invocation.now),
    messageDirection: 'IN',
    stage: api.stage,
    connectedAt: connection.connectedAt,
    requestTimeEpoch: invocation.now,
    requestId: invocation.requestId,
    domainName: api.domainName,
    connectionId: connection.connectionId,
    apiId: api.apiId,
  };
}

/**
 * `$connect`: the handshake headers (see `handshakeHeaders`), both query maps (or neither), the identity, and
 * our `localHandshake` extension with the path and raw query. The request time is the connection time.
 */
export function connectEvent(
  handshake: Handshake,
  connection: ConnectionFacts,
  requestId: string,
  api: ApiContext,
): ApiGatewayWebSocketEvent {
  const { headers, multiValueHeaders } = handshakeHeaders(handshake, connection.sourceIp);
  const q = handshake.url.indexOf('?');
  const path = q === -1 ? handshake.url : handshake.url.slice(0, q);
  const rawQuery = q === -1 ? '' : handshake.url.slice(q + 1);
  const { sourceIp } = connection;
  return {
    headers,
    multiValueHeaders,
    ...queryParameters(rawQuery),
    requestContext: {
      ...requestContext('$connect', 'CONNECT', connection, { requestId, now: connection.connectedAt }, api),
      identity: handshake.userAgent === undefined ? { sourceIp } : { sourceIp, userAgent: handshake.userAgent },
    },
    isBase64Encoded: false,
    localHandshake: { path: path || '/', rawQuery },
  };
}

/** `$default`: one text frame, with its own `messageId`. */
export function messageEvent(
  connection: ConnectionFacts,
  body: string,
  invocation: Invocation & { readonly messageId: string },
  api: ApiContext,
): ApiGatewayWebSocketEvent {
  return {
    requestContext: {
      ...requestContext('$default', 'MESSAGE', connection, invocation, api),
      messageId: invocation.messageId,
      identity: { sourceIp: connection.sourceIp },
    },
    body,
    isBase64Encoded: false,
  };
}

/** `$disconnect`: the close code and reason, and the few, mostly empty, headers real `$disconnect` events carry. */
export function disconnectEvent(
  connection: ConnectionFacts,
  close: { readonly code: number; readonly reason: string },
  invocation: Invocation,
  api: ApiContext,
): ApiGatewayWebSocketEvent {
  const headers = { Host: api.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' };
  return {
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    requestContext: {
      ...requestContext('$disconnect', 'DISCONNECT', connection, invocation, api),
      identity: { sourceIp: connection.sourceIp },
      disconnectStatusCode: close.code,
      disconnectReason: close.reason,
    },
    isBase64Encoded: false,
  };
}

/**
 * The reason a `$disconnect` reports when the close frame carried none: the server's own reason if it started
 * the close with this code, else what API Gateway reports for 1005 and 1006, else nothing.
 */
export function disconnectReason(
  code: number,
  reason: string,
  serverClose: { readonly code: number; readonly reason: string } | null,
): string {
  if (reason) return reason;
  if (serverClose && serverClose.code === code && serverClose.reason) return serverClose.reason;
  if (code === 1005) return 'Client-side close frame status not set';
  if (code === 1006) return 'Connection closed abnormally';
  return '';
}

/**
 * The handshake headers as API Gateway passes them: names as the client spelled them, `headers` holding the last
 * value and `multiValueHeaders` all of them, plus the `X-Forwarded-*` and `X-Amzn-Trace-Id` it adds.
 */
export function handshakeHeaders(
  handshake: Pick<Handshake, 'rawHeaders' | 'port' | 'traceId'>,
  sourceIp: string,
): { headers: Record<string, string>; multiValueHeaders: Record<string, string[]> } {
  const multi = new Map<string, { name: string; values: string[] }>();
  const add = (name: string, value: string, replace = false): void => {
    const key = name.toLowerCase();
    const existing = multi.get(key);
    if (existing && !replace) existing.values.push(value);
    else multi.set(key, { name: existing?.name ?? name, values: [value] });
  };
  const raw = handshake.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) add(raw[i] as string, raw[i + 1] as string);
  const forwardedFor = multi.get('x-forwarded-for')?.values.join(', ');
  add('X-Forwarded-For', forwardedFor ? `${forwardedFor}, ${sourceIp}` : sourceIp, true);
  add('X-Forwarded-Port', String(handshake.port), true);
  add('X-Forwarded-Proto', 'http', true);
  add('X-Amzn-Trace-Id', handshake.traceId, true);
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const { name, values } of multi.values()) {
    headers[name] = values[values.length - 1] ?? '';
    multiValueHeaders[name] = values;
  }
  return { headers, multiValueHeaders };
}

/** Both query maps, or neither when there is no query (API Gateway omits them). */
export function queryParameters(rawQuery: string): {
  queryStringParameters?: Record<string, string>;
  multiValueQueryStringParameters?: Record<string, string[]>;
} {
  if (rawQuery === '') return {};
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [key, value] of new URLSearchParams(rawQuery)) {
    single[key] = value;
    (multi[key] ??= []).push(value);
  }
  if (Object.keys(single).length === 0) return {};
  return { queryStringParameters: single, multiValueQueryStringParameters: multi };
}
