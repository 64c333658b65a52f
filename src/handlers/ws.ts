import { z } from 'zod';
import type { Log } from '../domain/ports.js';
import { decodeBase64 } from '../domain/protocol/base64.js';
import { onConnect } from '../domain/session/connect.js';
import type { SessionDeps } from '../domain/session/deps.js';
import { onDisconnect } from '../domain/session/disconnect.js';
import { onMessage } from '../domain/session/message.js';
import type { ApiGatewayWebSocketEvent, WebSocketResult, WebSocketRouteHandlers } from './aws-events.js';

const eventSchema = z.object({
  requestContext: z.object({
    connectionId: z.string().min(1),
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

/**
 * The three WebSocket route handlers: parse API Gateway's event, call the session logic, map the outcome.
 * `afterEach` runs after every invocation (the Lambda entry flushes metrics there).
 */
export function makeWebSocketHandlers(deps: SessionDeps, afterEach: () => void = () => {}): WebSocketRouteHandlers {
  const parse = (event: ApiGatewayWebSocketEvent, log: Log) => {
    const parsed = eventSchema.safeParse(event);
    if (!parsed.success) log.error('malformed WebSocket event', { issues: z.prettifyError(parsed.error) });
    return parsed.success ? parsed.data : null;
  };
  const finish = <T>(result: T): T => {
    afterEach();
    return result;
  };
  return {
    async connect(event) {
      const e = parse(event, deps.log);
      if (!e) return finish(BAD_EVENT);
      const outcome = await onConnect(deps, {
        connectionId: e.requestContext.connectionId,
        headers: e.multiValueHeaders ?? e.headers ?? {},
        path: e.localHandshake?.path ?? '/',
        query: e.localHandshake?.rawQuery ?? rawQuery(e.multiValueQueryStringParameters ?? {}, e.queryStringParameters ?? {}),
      });
      if (outcome.kind === 'accepted') {
        const headers = { ...outcome.headers, ...(outcome.subprotocol !== null ? { 'Sec-WebSocket-Protocol': outcome.subprotocol } : {}) };
        return finish({ statusCode: 200, headers });
      }
      return finish({ statusCode: outcome.status, headers: outcome.headers, body: decoder.decode(outcome.body) });
    },
    async message(event) {
      const e = parse(event, deps.log);
      if (!e) return finish(BAD_EVENT);
      const body = e.body ?? '';
      const text = e.isBase64Encoded ? decoder.decode(decodeBase64(body) ?? new Uint8Array()) : body;
      await onMessage(deps, { connectionId: e.requestContext.connectionId, text });
      return finish({ statusCode: 200 });
    },
    async disconnect(event) {
      const e = parse(event, deps.log);
      if (!e) return finish(BAD_EVENT);
      await onDisconnect(deps, {
        connectionId: e.requestContext.connectionId,
        statusCode: e.requestContext.disconnectStatusCode ?? null,
        reason: e.requestContext.disconnectReason ?? null,
      });
      return finish({ statusCode: 200 });
    },
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
