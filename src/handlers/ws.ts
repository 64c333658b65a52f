import { z } from 'zod';
import { randomUUID } from 'node:crypto';
import type { ClientMessageLane, Log } from '../domain/ports.js';
import { decodeBase64 } from '../domain/protocol/base64.js';
import { onConnect } from '../domain/session/connect.js';
import type { ConnectDeps, DisconnectDeps, SessionDeps } from '../domain/session/deps.js';
import { onDisconnect } from '../domain/session/disconnect.js';
import { onMessage } from '../domain/session/message.js';
import { consumeLane, queueClientMessage } from '../domain/session/lane.js';
import type { ApiGatewayWebSocketEvent, SqsBatchResponse, SqsEvent, WebSocketResult, WebSocketRouteHandlers } from './aws-events.js';

const eventSchema = z.object({
  requestContext: z.object({
    connectionId: z.string().min(1),
    messageId: z.string().min(1).optional(),
    requestTimeEpoch: z.number().optional(),
    disconnectStatusCode: z.number().int().optional(),
    disconnectReason: z.string().optional(),
  }),
  headers: z.record(z.string(), z.string()).optional(),
  multiValueHeaders: z.record(z.string(), z.array(z.string())).optional(),
  multiValueQueryStringParameters: z.record(z.string(), z.array(z.string())).optional(),
  queryStringParameters: z.record(z.string(), z.string()).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
  localHandshake: z.object({ path: z.string(), rawQuery: z.string() }).optional(),
});

const BAD_EVENT: WebSocketResult = { statusCode: 400, body: 'malformed event' };
const decoder = new TextDecoder();

type RouteHandler = (event: ApiGatewayWebSocketEvent) => Promise<WebSocketResult>;

/** Parses API Gateway's event (a malformed one is logged and answered 400), runs `route`, then `afterEach`. */
function routeHandler(
  log: Log,
  afterEach: () => void,
  route: (event: z.infer<typeof eventSchema>) => Promise<WebSocketResult>,
): RouteHandler {
  return async (event) => {
    const parsed = eventSchema.safeParse(event);
    if (!parsed.success) log.error('malformed WebSocket event', { issues: z.prettifyError(parsed.error) });
    const result = parsed.success ? await route(parsed.data) : BAD_EVENT;
    afterEach();
    return result;
  };
}

/** `$connect`: asks the backend (OPEN) and answers the handshake with its decision. */
export function makeConnectHandler(deps: ConnectDeps, afterEach: () => void = () => {}): RouteHandler {
  return routeHandler(deps.log, afterEach, async (e) => {
    const outcome = await onConnect(deps, {
      connectionId: e.requestContext.connectionId,
      headers: e.multiValueHeaders ?? e.headers ?? {},
      path: e.localHandshake?.path ?? '/',
      query: e.localHandshake?.rawQuery ?? rawQuery(e.multiValueQueryStringParameters ?? {}, e.queryStringParameters ?? {}),
    });
    if (outcome.kind === 'accepted') {
      const headers = { ...outcome.headers, ...(outcome.subprotocol !== null ? { 'Sec-WebSocket-Protocol': outcome.subprotocol } : {}) };
      return { statusCode: 200, headers };
    }
    return { statusCode: outcome.status, headers: outcome.headers, body: decoder.decode(outcome.body) };
  });
}

/**
 * `$default`: one text frame to the backend (TEXT), and its reply applied. With `lane` (`clientMessages: ordered`)
 * the frame is only queued on the ordered lane, in its connection's group; {@link makeLaneHandler} forwards it.
 */
export function makeMessageHandler(deps: SessionDeps, afterEach: () => void = () => {}, lane?: ClientMessageLane): RouteHandler {
  return routeHandler(deps.log, afterEach, async (e) => {
    const body = e.body ?? '';
    const text = e.isBase64Encoded ? decoder.decode(decodeBase64(body) ?? new Uint8Array()) : body;
    const connectionId = e.requestContext.connectionId;
    if (lane === undefined) await onMessage(deps, { connectionId, text });
    else {
      const { messageId, requestTimeEpoch } = e.requestContext;
      await queueClientMessage(
        { ...deps, lane },
        {
          connectionId,
          text,
          dedupId: messageId ?? randomUUID(),
          ...(requestTimeEpoch !== undefined ? { receivedAt: requestTimeEpoch } : {}),
        },
      );
    }
    return { statusCode: 200 };
  });
}

/**
 * The ordered lane's consumer (an SQS FIFO event source with `ReportBatchItemFailures`): each connection's
 * messages in one backend request, in order; records of a connection whose record could not be read come back.
 */
export function makeLaneHandler(deps: SessionDeps, afterEach: () => void = () => {}): (event: SqsEvent) => Promise<SqsBatchResponse> {
  return async (event) => {
    const records = event.Records.map((r) => ({ id: r.messageId, body: r.body, group: r.attributes['MessageGroupId'] ?? null }));
    const failed = await consumeLane(deps, records);
    afterEach();
    return { batchItemFailures: failed.map((id) => ({ itemIdentifier: id })) };
  };
}

/** `$disconnect`: tells the backend (CLOSE or DISCONNECT) and forgets the connection. */
export function makeDisconnectHandler(deps: DisconnectDeps, afterEach: () => void = () => {}): RouteHandler {
  return routeHandler(deps.log, afterEach, async (e) => {
    await onDisconnect(deps, {
      connectionId: e.requestContext.connectionId,
      statusCode: e.requestContext.disconnectStatusCode ?? null,
      reason: e.requestContext.disconnectReason ?? null,
    });
    return { statusCode: 200 };
  });
}

/**
 * The three WebSocket route handlers on one set of dependencies (tests; local mode and Lambda compose each route
 * from its own function's resources in `src/functions/`). `afterEach` runs after every invocation.
 */
export function makeWebSocketHandlers(deps: SessionDeps, afterEach: () => void = () => {}): WebSocketRouteHandlers {
  return {
    connect: makeConnectHandler(deps, afterEach),
    message: makeMessageHandler(deps, afterEach),
    disconnect: makeDisconnectHandler(deps, afterEach),
  };
}

/** API Gateway passes the query only as parsed parameters; rebuild a query string for the backend URL. */
export function rawQuery(multi: Readonly<Record<string, readonly string[]>>, single: Readonly<Record<string, string>>): string {
  const params = new URLSearchParams();
  const names = new Set([...Object.keys(multi), ...Object.keys(single)]);
  for (const name of names) {
    const values = multi[name] ?? (single[name] !== undefined ? [single[name]] : []);
    for (const value of values) params.append(name, value);
  }
  return params.toString();
}
