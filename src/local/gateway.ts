/**
 * The local WebSocket gateway: API Gateway's WebSocket API semantics on one machine, in front of the same
 * route handlers the Lambda entry points run (`$connect`, `$default`, `$disconnect`).
 *
 * It is deliberately no friendlier than API Gateway (docs/aws-facts.md §1): the handshake waits for
 * `$connect`, posts during `$connect` are `gone`, binary frames close with 1003, messages over 128 KB close with
 * 1009, idle (10 min) and lifetime (2 h) limits close with 1001, and `$disconnect` is delivered once per
 * connection with the close code it ended with.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { z } from 'zod';
import type { Log } from '../domain/ports.js';
import type { ApiGatewayWebSocketEvent, WebSocketRequestContext, WebSocketRouteHandlers } from '../handlers/aws-events.js';
import { headerValue, isFieldValue, isHeaderName } from '../domain/protocol/headers.js';
import { MAX_MESSAGE_BYTES } from '../domain/protocol/limits.js';
import { ConnectionRegistry, type LocalConnections, type RegistryEntry } from './connections.js';
import { listen } from './http.js';
import { describeError, stderrLog } from './log.js';

export interface LocalGatewayOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port; 0 picks a free one. Default 8080. */
  readonly port?: number;
  readonly handlers: WebSocketRouteHandlers;
  /** `requestContext.stage`. Default `local`. */
  readonly stage?: string;
  /** `requestContext.apiId`. Default `local`. */
  readonly apiId?: string;
  /** `requestContext.domainName`. Default: the handshake's `Host` header. */
  readonly domainName?: string;
  /** Close with 1001 after this long without a message in either direction. Default 600,000 (API Gateway). */
  readonly idleTimeoutMs?: number;
  /** Close with 1001 this long after the handshake. Default 7,200,000 (API Gateway's 2 h). */
  readonly maxLifetimeMs?: number;
  /** Larger incoming messages close the connection with 1009. Default 131,072 (API Gateway's 128 KB). */
  readonly maxMessageBytes?: number;
  /** `$connect` handlers slower than this get a 504 (API Gateway's 29 s integration timeout). Default 29,000. */
  readonly connectTimeoutMs?: number;
  /** Posts to a client with more unsent bytes than this answer `throttled`. Default 4 MiB. */
  readonly maxBufferedBytes?: number;
  readonly log?: Log;
}

export interface LocalGateway {
  /** `ws://host:port`; any path and query after it are accepted. */
  readonly url: string;
  readonly port: number;
  /** The live connections, for the Management API and the in-process connection gateway. */
  readonly connections: LocalConnections;
  /**
   * Stops accepting, closes every open connection with 1001 (each gets its `$disconnect`), refuses pending
   * handshakes with 503, and resolves when every handler invocation has settled.
   */
  stop(): Promise<void>;
}

/** Status and body API Gateway answers when the `$connect` integration fails. */
const INTEGRATION_FAILURE = { statusCode: 502, body: '{"message": "Internal server error"}' } as const;
const INTEGRATION_TIMEOUT = { statusCode: 504, body: '{"message": "Endpoint request timed out"}' } as const;
const SHUTTING_DOWN = { statusCode: 503, body: '{"message": "Service Unavailable"}' } as const;

/** How long `stop()` waits for clients to answer the close handshake before dropping them. */
const STOP_CLOSE_GRACE_MS = 2_000;

/** Headers of `$connect`'s result that never reach the 101 or the rejection: the gateway owns them. */
const RESERVED_RESPONSE_HEADERS = new Set([
  'connection',
  'upgrade',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'sec-websocket-accept',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

interface AcceptedHandshake {
  readonly entry: RegistryEntry;
  readonly domainName: string;
  readonly subprotocol: string | undefined;
  readonly headers: readonly [string, string][];
}

/**
 * Starts the gateway and resolves once it listens.
 *
 * Contract:
 * - Any path and query are accepted. Each upgrade gets a fresh connection id and a CONNECT event shaped like
 *   API Gateway's (handshake headers, query, identity) plus `localHandshake` with the path and raw query. The
 *   101 is sent only when `handlers.connect` returns 200; it echoes the result's `Sec-WebSocket-Protocol` and
 *   carries its other headers. Any other status is sent as the handshake response with the result's headers
 *   and body. A thrown or malformed result gets 502 `{"message": "Internal server error"}` (what API Gateway
 *   answers for a failed Lambda integration); a `$connect` slower than `connectTimeoutMs` gets 504.
 * - Text frames become MESSAGE events on `$default`, each an independent invocation: like API Gateway, the
 *   gateway does not wait for one message's handler before invoking the next, so handlers for one connection
 *   may run concurrently and finish out of order.
 * - Binary frames close with 1003, messages over `maxMessageBytes` with 1009, idle and lifetime limits with
 *   1001 ("Going away"). Pings are answered with pongs (and are not activity).
 * - Every connection that was accepted gets exactly one DISCONNECT, with `disconnectStatusCode` (the client's
 *   close code, 1005 when its close frame had none, 1006 when the connection dropped) and `disconnectReason`.
 *   A client that drops while `$connect` runs gets a DISCONNECT too if `$connect` accepted it.
 * - Handler failures and socket errors are logged; none of them stops the gateway.
 *
 * @example
 * const gateway = await startLocalGateway({ port: 0, handlers });
 * const client = new WebSocket(`${gateway.url}/chat?room=a`);
 */
export async function startLocalGateway(options: LocalGatewayOptions): Promise<LocalGateway> {
  const host = options.host ?? '127.0.0.1';
  const stage = options.stage ?? 'local';
  const apiId = options.apiId ?? 'local';
  const idleTimeoutMs = positive(options.idleTimeoutMs, 600_000, 'idleTimeoutMs');
  const maxLifetimeMs = positive(options.maxLifetimeMs, 7_200_000, 'maxLifetimeMs');
  const maxMessageBytes = positive(options.maxMessageBytes, MAX_MESSAGE_BYTES, 'maxMessageBytes');
  const connectTimeoutMs = positive(options.connectTimeoutMs, 29_000, 'connectTimeoutMs');
  const handlers = options.handlers;
  const log = options.log ?? stderrLog('local-gateway');
  const registry = new ConnectionRegistry(options.maxBufferedBytes ? { maxBufferedBytes: options.maxBufferedBytes } : {});
  const accepted = new WeakMap<IncomingMessage, AcceptedHandshake>();
  const inFlight = new Set<Promise<unknown>>();
  const sockets = new Set<Duplex>();
  let stopping = false;
  let listenPort = 0;

  const track = (work: Promise<unknown>): void => {
    const settled = work
      .catch((e: unknown) => log.error('gateway bookkeeping failed', { error: describeError(e) }))
      .finally(() => inFlight.delete(settled));
    inFlight.add(settled);
  };

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: maxMessageBytes,
    // The 2-argument form lets the handshake wait for `$connect`; ws has validated the upgrade by then.
    verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean) => void) => {
      const socket = info.req.socket;
      track(runConnect(info.req, socket, done));
    },
    // ws would otherwise pick the client's first offer; only the handler chooses.
    handleProtocols: (_offered: Set<string>, req: IncomingMessage) => accepted.get(req)?.subprotocol ?? false,
  });
  wss.on('headers', (lines: string[], req: IncomingMessage) => {
    const handshake = accepted.get(req);
    if (!handshake) return;
    if (handshake.subprotocol !== undefined && !lines.some((l) => l.toLowerCase().startsWith('sec-websocket-protocol:'))) {
      // The client offered none: API Gateway still sends what the integration chose, and the client rejects it.
      lines.push(`Sec-WebSocket-Protocol: ${handshake.subprotocol}`);
    }
    for (const [name, value] of handshake.headers) lines.push(`${name}: ${value}`);
  });
  wss.on('error', (e) => log.error('websocket server error', { error: describeError(e) }));

  const server = createServer((req, res) => {
    req.on('error', () => {});
    res.writeHead(426, { 'Content-Type': 'application/json', Upgrade: 'websocket', Connection: 'close' });
    res.end('{"message": "Upgrade Required"}');
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (e) => log.debug('socket error', { error: describeError(e) }));
    if (stopping) {
      writeHttpResponse(socket, SHUTTING_DOWN.statusCode, [], SHUTTING_DOWN.body);
      return;
    }
    try {
      wss.handleUpgrade(req, socket, head, (ws, request) => onOpen(ws, request));
    } catch (e) {
      log.error('upgrade failed', { error: describeError(e) });
      socket.destroy();
    }
  });

  async function runConnect(req: IncomingMessage, socket: Socket, done: (ok: boolean) => void): Promise<void> {
    const now = Date.now();
    const connectionId = newId(registry);
    const sourceIp = normalizeIp(socket.remoteAddress);
    const userAgent = firstHeader(req, 'user-agent');
    const entry = registry.addPending(connectionId, { sourceIp, userAgent: userAgent ?? '' }, now);
    try {
      await completeConnect(req, socket, done, entry, sourceIp, userAgent);
    } catch (e) {
      registry.remove(entry);
      socket.destroy();
      throw e;
    }
  }

  async function completeConnect(
    req: IncomingMessage,
    socket: Socket,
    done: (ok: boolean) => void,
    entry: RegistryEntry,
    sourceIp: string,
    userAgent: string | undefined,
  ): Promise<void> {
    const { connectionId, connectedAt: now } = entry;
    let dropped = false;
    socket.once('close', () => {
      dropped = true;
    });
    const domainName = options.domainName ?? firstHeader(req, 'host') ?? `${host}:${listenPort}`;
    const event = connectEvent(req, {
      connectionId,
      now,
      stage,
      apiId,
      domainName,
      sourceIp,
      userAgent,
      port: listenPort,
    });
    const result = await invokeConnect(event);
    if (stopping) {
      registry.remove(entry);
      writeHttpResponse(socket, SHUTTING_DOWN.statusCode, [], SHUTTING_DOWN.body);
      if (result.statusCode === 200) disconnect(entry, domainName, 1001, 'Going away');
      return;
    }
    const headers = responseHeaders(result.headers);
    const subprotocol = headerValue(result.headers, 'sec-websocket-protocol');
    if (subprotocol !== undefined && !isFieldValue(subprotocol)) {
      registry.remove(entry);
      log.error('$connect chose a subprotocol that cannot be sent in a header', { connectionId });
      writeHttpResponse(socket, INTEGRATION_FAILURE.statusCode, [], INTEGRATION_FAILURE.body);
      return;
    }
    if (result.statusCode !== 200) {
      registry.remove(entry);
      log.info('$connect rejected', { connectionId, statusCode: result.statusCode });
      writeHttpResponse(socket, result.statusCode, headers, result.body ?? '');
      return;
    }
    if (dropped || socket.destroyed || !socket.readable || !socket.writable) {
      registry.remove(entry);
      socket.destroy();
      disconnect(entry, domainName, 1006, 'Client went away during $connect');
      return;
    }
    accepted.set(req, { entry, domainName, subprotocol, headers });
    done(true);
  }

  async function invokeConnect(event: ApiGatewayWebSocketEvent): Promise<ConnectDecision> {
    const connectionId = event.requestContext.connectionId;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), connectTimeoutMs);
    });
    try {
      const raw = await Promise.race([handlers.connect(event), timedOut]);
      if (raw === 'timeout') {
        log.error('$connect timed out', { connectionId, timeoutMs: connectTimeoutMs });
        return INTEGRATION_TIMEOUT;
      }
      const parsed = parseConnectResult(raw);
      if (!parsed) log.error('$connect returned a malformed result', { connectionId });
      return parsed ?? INTEGRATION_FAILURE;
    } catch (e) {
      log.error('$connect handler failed', { connectionId, error: describeError(e) });
      return INTEGRATION_FAILURE;
    } finally {
      clearTimeout(timer);
    }
  }

  function onOpen(ws: WebSocket, req: IncomingMessage): void {
    ws.on('error', (e) => log.warn('websocket error', { error: describeError(e) }));
    const handshake = accepted.get(req);
    accepted.delete(req);
    if (!handshake) {
      ws.terminate();
      return;
    }
    const { entry, domainName } = handshake;
    registry.open(entry, ws);
    const goAway = (why: string): void => {
      if (entry.state !== 'open') return;
      log.info('closing connection', { connectionId: entry.connectionId, why });
      registry.close(entry.connectionId, { code: 1001, reason: 'Going away' });
    };
    let idleTimer: NodeJS.Timeout;
    const armIdle = (delay: number): void => {
      // Re-armed lazily from `lastActiveAt` so a post (which only stamps the entry) costs no timer churn.
      idleTimer = setTimeout(() => {
        const idleFor = Date.now() - entry.lastActiveAt;
        if (idleFor >= idleTimeoutMs) goAway('idle timeout');
        else armIdle(idleTimeoutMs - idleFor);
      }, delay);
    };
    armIdle(idleTimeoutMs);
    const lifetimeTimer = setTimeout(() => goAway('maximum lifetime'), Math.max(0, maxLifetimeMs - (Date.now() - entry.connectedAt)));

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (entry.state !== 'open') return;
      if (isBinary) {
        log.info('binary frame refused', { connectionId: entry.connectionId });
        registry.close(entry.connectionId, { code: 1003, reason: 'Binary frames are not supported' });
        return;
      }
      entry.lastActiveAt = Date.now();
      track(invokeRoute('message', messageEvent(entry, rawDataToString(data), { stage, apiId, domainName })));
    });
    ws.on('close', (code: number, reason: Buffer) => {
      clearTimeout(idleTimer);
      clearTimeout(lifetimeTimer);
      registry.remove(entry);
      disconnect(entry, domainName, code, reason.toString('utf8'));
    });
  }

  const disconnected = new WeakSet<RegistryEntry>();
  function disconnect(entry: RegistryEntry, domainName: string, code: number, reason: string): void {
    if (disconnected.has(entry)) return;
    disconnected.add(entry);
    const event = disconnectEvent(entry, code, reason || defaultReason(entry, code), { stage, apiId, domainName });
    track(invokeRoute('disconnect', event));
  }

  async function invokeRoute(route: 'message' | 'disconnect', event: ApiGatewayWebSocketEvent): Promise<void> {
    try {
      await handlers[route](event);
    } catch (e) {
      log.error(`${route === 'message' ? '$default' : '$disconnect'} handler failed`, {
        connectionId: event.requestContext.connectionId,
        error: describeError(e),
      });
    }
  }

  const bound = await listen(server, options.port ?? 8080, host, log);
  listenPort = bound.port;

  return {
    url: `ws://${bound.authority}`,
    port: listenPort,
    connections: registry,
    async stop() {
      if (stopping) return;
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const open = registry.openEntries();
      for (const entry of open) registry.close(entry.connectionId, { code: 1001, reason: 'Going away' });
      const deadline = Date.now() + STOP_CLOSE_GRACE_MS;
      while (registry.count > 0 && Date.now() < deadline) await sleep(10);
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await closed;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Events

interface EventContext {
  readonly stage: string;
  readonly apiId: string;
  readonly domainName: string;
}

function baseContext(
  routeKey: string,
  eventType: WebSocketRequestContext['eventType'],
  connectionId: string,
  connectedAt: number,
  now: number,
  context: EventContext,
): WebSocketRequestContext {
  const requestId = randomId();
  return {
    routeKey,
    eventType,
    extendedRequestId: requestId,
    requestTime: clfTime(now),
    messageDirection: 'IN',
    stage: context.stage,
    connectedAt,
    requestTimeEpoch: now,
    requestId,
    domainName: context.domainName,
    connectionId,
    apiId: context.apiId,
  };
}

function connectEvent(
  req: IncomingMessage,
  c: EventContext & {
    connectionId: string;
    now: number;
    sourceIp: string;
    userAgent: string | undefined;
    port: number;
  },
): ApiGatewayWebSocketEvent {
  const { headers, multiValueHeaders } = handshakeHeaders(req, c.sourceIp, c.port);
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  const query = queryParameters(rawQuery);
  return {
    headers,
    multiValueHeaders,
    ...query,
    requestContext: {
      ...baseContext('$connect', 'CONNECT', c.connectionId, c.now, c.now, c),
      identity: c.userAgent === undefined ? { sourceIp: c.sourceIp } : { sourceIp: c.sourceIp, userAgent: c.userAgent },
    },
    isBase64Encoded: false,
    localHandshake: { path: path || '/', rawQuery },
  };
}

function messageEvent(entry: RegistryEntry, body: string, context: EventContext): ApiGatewayWebSocketEvent {
  return {
    requestContext: {
      ...baseContext('$default', 'MESSAGE', entry.connectionId, entry.connectedAt, Date.now(), context),
      messageId: randomId(),
      identity: { sourceIp: entry.identity.sourceIp },
    },
    body,
    isBase64Encoded: false,
  };
}

function disconnectEvent(entry: RegistryEntry, code: number, reason: string, context: EventContext): ApiGatewayWebSocketEvent {
  // The few, mostly empty, headers real $disconnect events carry.
  const headers = { Host: context.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' };
  return {
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    requestContext: {
      ...baseContext('$disconnect', 'DISCONNECT', entry.connectionId, entry.connectedAt, Date.now(), context),
      identity: { sourceIp: entry.identity.sourceIp },
      disconnectStatusCode: code,
      disconnectReason: reason,
    },
    isBase64Encoded: false,
  };
}

function defaultReason(entry: RegistryEntry, code: number): string {
  if (entry.serverClose && entry.serverClose.code === code && entry.serverClose.reason) return entry.serverClose.reason;
  if (code === 1005) return 'Client-side close frame status not set';
  if (code === 1006) return 'Connection closed abnormally';
  return '';
}

/**
 * The handshake headers as API Gateway passes them: names as the client spelled them, `headers` holding the last
 * value and `multiValueHeaders` all of them, plus the `X-Forwarded-*` and `X-Amzn-Trace-Id` it adds.
 */
function handshakeHeaders(
  req: IncomingMessage,
  sourceIp: string,
  port: number,
): { headers: Record<string, string>; multiValueHeaders: Record<string, string[]> } {
  const multi = new Map<string, { name: string; values: string[] }>();
  const add = (name: string, value: string, replace = false): void => {
    const key = name.toLowerCase();
    const existing = multi.get(key);
    if (existing && !replace) existing.values.push(value);
    else multi.set(key, { name: existing?.name ?? name, values: [value] });
  };
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) add(raw[i] as string, raw[i + 1] as string);
  const forwardedFor = multi.get('x-forwarded-for')?.values.join(', ');
  add('X-Forwarded-For', forwardedFor ? `${forwardedFor}, ${sourceIp}` : sourceIp, true);
  add('X-Forwarded-Port', String(port), true);
  add('X-Forwarded-Proto', 'http', true);
  add('X-Amzn-Trace-Id', `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`, true);
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const { name, values } of multi.values()) {
    headers[name] = values[values.length - 1] ?? '';
    multiValueHeaders[name] = values;
  }
  return { headers, multiValueHeaders };
}

/** Both query maps, or neither when there is no query (API Gateway omits them). */
function queryParameters(rawQuery: string): {
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

// ---------------------------------------------------------------------------------------------------------------
// $connect results and raw HTTP responses

interface ConnectDecision {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

const connectResultSchema = z.object({
  statusCode: z.number().int().min(200).max(599),
  headers: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
    .nullish()
    .transform((h) => h ?? undefined),
  body: z
    .string()
    .nullish()
    .transform((b) => b ?? undefined),
});

/** Accepts a `WebSocketResult` whose status an HTTP response can carry; `null` for anything else. */
export function parseConnectResult(raw: unknown): ConnectDecision | null {
  const parsed = connectResultSchema.safeParse(raw);
  if (!parsed.success) return null;
  const { statusCode, headers, body } = parsed.data;
  return { statusCode, ...(headers ? { headers } : {}), ...(body !== undefined ? { body } : {}) };
}

/** The result's headers that may go on the wire: gateway-owned and malformed ones are dropped. */
function responseHeaders(headers: Readonly<Record<string, string>> | undefined): [string, string][] {
  if (!headers) return [];
  return Object.entries(headers).filter(
    ([name, value]) => isHeaderName(name) && isFieldValue(value) && !RESERVED_RESPONSE_HEADERS.has(name.toLowerCase()),
  );
}

/** Answers an upgrade request with a complete HTTP response and closes the socket. */
function writeHttpResponse(socket: Duplex, status: number, headers: readonly [string, string][], body: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const payload = Buffer.from(body, 'utf8');
  const hasType = headers.some(([n]) => n.toLowerCase() === 'content-type');
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`];
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  if (!hasType && payload.length > 0) lines.push('Content-Type: application/json');
  lines.push(`Content-Length: ${payload.length}`, 'Connection: close', 'Date: ' + new Date().toUTCString());
  socket.once('finish', () => socket.destroy());
  socket.end(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), payload]));
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

/** An API Gateway-style id: 16 characters of base64 ending in `=`. */
function randomId(): string {
  return randomBytes(11).toString('base64');
}

function newId(registry: ConnectionRegistry): string {
  let id = randomId();
  while (registry.has(id)) id = randomId();
  return id;
}

/** `11/Nov/2024:13:45:46 +0000`, the format of `requestContext.requestTime`. */
function clfTime(epochMs: number): string {
  const d = new Date(epochMs);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function normalizeIp(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function firstHeader(req: IncomingMessage, lowerName: string): string | undefined {
  const value = req.headers[lowerName];
  return Array.isArray(value) ? value[0] : value;
}

function rawDataToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}
