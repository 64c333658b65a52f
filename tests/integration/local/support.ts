/** Helpers for the local-mode integration tests: real `ws` clients and small recording route handlers. */
import type { IncomingMessage } from 'node:http';
import WebSocket, { type ClientOptions } from 'ws';
import { waitFor as waitForValue } from '#test-helpers/wait.js';
import type { ApiGatewayWebSocketEvent, WebSocketResult, WebSocketRouteHandlers } from '#src/handlers/aws-events.js';

/** Route handlers that record every event; `$connect` answers with `onConnect` (default: accept). */
export interface RecordingHandlers extends WebSocketRouteHandlers {
  readonly events: ApiGatewayWebSocketEvent[];
  of(eventType: ApiGatewayWebSocketEvent['requestContext']['eventType']): ApiGatewayWebSocketEvent[];
}

export function recordingHandlers(
  options: {
    onConnect?: (event: ApiGatewayWebSocketEvent) => Promise<WebSocketResult> | WebSocketResult;
    onMessage?: (event: ApiGatewayWebSocketEvent) => Promise<void> | void;
    onDisconnect?: (event: ApiGatewayWebSocketEvent) => Promise<void> | void;
  } = {},
): RecordingHandlers {
  const events: ApiGatewayWebSocketEvent[] = [];
  return {
    events,
    of: (eventType) => events.filter((e) => e.requestContext.eventType === eventType),
    async connect(event) {
      events.push(event);
      return options.onConnect ? options.onConnect(event) : { statusCode: 200 };
    },
    async message(event) {
      events.push(event);
      await options.onMessage?.(event);
      return { statusCode: 200 };
    },
    async disconnect(event) {
      events.push(event);
      await options.onDisconnect?.(event);
      return { statusCode: 200 };
    },
  };
}

export interface Received {
  readonly data: string | Buffer;
  readonly isBinary: boolean;
}

export interface TestClient {
  readonly ws: WebSocket;
  readonly received: Received[];
  /** Resolves with the close code and reason the client saw. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The 101 response's headers. */
  readonly upgradeHeaders: IncomingMessage['headers'];
}

/** Opens a client and resolves once the handshake completed; rejects with `HandshakeRejected` otherwise. */
export function openClient(url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    const received: Received[] = [];
    let upgradeHeaders: IncomingMessage['headers'] = {};
    const closed = new Promise<{ code: number; reason: string }>((res) =>
      ws.on('close', (code, reason) => res({ code, reason: reason.toString('utf8') })),
    );
    ws.on('error', (e) => reject(e));
    ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      received.push({ data: isBinary ? buf : buf.toString('utf8'), isBinary });
    });
    ws.on('upgrade', (res) => {
      upgradeHeaders = res.headers;
    });
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        reject(new HandshakeRejected(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8')));
        ws.terminate();
      });
    });
    ws.on('open', () => resolve({ ws, received, closed, upgradeHeaders }));
  });
}

export class HandshakeRejected extends Error {
  override readonly name = 'HandshakeRejected';
  constructor(
    readonly status: number,
    readonly headers: IncomingMessage['headers'],
    readonly body: string,
  ) {
    super(`handshake rejected with ${status}`);
  }
}

/** `waitFor` from tests/helpers/e2e.ts with this file's argument order (the timeout before the description). */
export function waitFor<T>(check: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  return waitForValue(check, what, timeoutMs);
}

/** A deferred promise, for handlers that must wait for the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
