/**
 * The one backend both systems talk to: a plain `node:http` server speaking WebSocket-over-HTTP through
 * `@fanoutio/grip`'s codec (code we did not write, so our own encoder cannot hide a mismatch). Each scenario run
 * registers a handler for its own path prefix (`/<scenario>/<system>/<nonce>`), so Pushpin's and local mode's
 * requests never mix; every request is recorded, with its arrival time, for the scenario to inspect.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeWebSocketEvents, encodeWebSocketEvents, WebSocketEvent } from '@fanoutio/grip';

export interface BackendEvent {
  readonly type: string;
  /** Raw content bytes, or `null` for events without content (OPEN, DISCONNECT, a code-less CLOSE). */
  readonly content: Buffer | null;
}

export interface BackendRequest {
  /** Path without the query. */
  readonly path: string;
  readonly connectionId: string;
  readonly headers: IncomingHttpHeaders;
  /** `Meta-*` headers, names lower-cased without the prefix. */
  readonly meta: Readonly<Record<string, string>>;
  readonly events: readonly BackendEvent[];
  readonly receivedAt: number;
}

/** What the backend answers. `events` are `[type, content?]`; a string content is UTF-8. */
export interface BackendReply {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly events?: readonly (readonly [string, (string | Buffer)?])[];
}

export type BackendHandler = (request: BackendRequest) => BackendReply | Promise<BackendReply>;

/** The usual reply to OPEN: accept with the GRIP extension, plus any extra events (`c:`/`m:` messages). */
export function openReply(extra: BackendReply['events'] = [], headers: Readonly<Record<string, string>> = {}): BackendReply {
  return { headers: { 'Sec-WebSocket-Extensions': 'grip', ...headers }, events: [['OPEN'], ...extra] };
}

/** A TEXT event carrying a GRIP control message. */
export function control(message: Readonly<Record<string, unknown>>): readonly [string, string] {
  return ['TEXT', `c:${JSON.stringify(message)}`];
}

/** A TEXT event the client receives (with the default `m:` prefix). */
export function say(text: string): readonly [string, string] {
  return ['TEXT', `m:${text}`];
}

export function textOf(event: BackendEvent): string {
  return event.content?.toString('utf8') ?? '';
}

/** The usual reply to a client's CLOSE: echo it. */
export function echoClose(request: BackendRequest): BackendReply | null {
  const close = request.events.find((e) => e.type === 'CLOSE');
  return close ? { events: [['CLOSE', close.content ?? Buffer.alloc(0)]] } : null;
}

export class Backend {
  private readonly handlers = new Map<string, BackendHandler>();
  private readonly recorded = new Map<string, BackendRequest[]>();
  private server: Server | null = null;
  private port = 0;
  /** Requests that matched no prefix (a harness bug if any appear). */
  readonly unrouted: string[] = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get listenPort(): number {
    return this.port;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.handle(req.url ?? '/', req.headers, Buffer.concat(chunks)).then(
          (reply) => {
            const body = Buffer.from(
              encodeWebSocketEvents((reply.events ?? []).map(([type, content]) => new WebSocketEvent(type, content ?? null))),
            );
            res.writeHead(reply.status ?? 200, {
              'Content-Type': 'application/websocket-events',
              ...reply.headers,
              'Content-Length': String(body.length),
            });
            res.end(body);
          },
          (e: unknown) => {
            res.writeHead(500, { 'Content-Type': 'text/plain' });
            res.end(`backend handler failed: ${String(e)}\n`);
          },
        );
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Routes every request whose path starts with `prefix` to `handler`; returns the recorded requests' list. */
  route(prefix: string, handler: BackendHandler): BackendRequest[] {
    this.handlers.set(prefix, handler);
    const list: BackendRequest[] = [];
    this.recorded.set(prefix, list);
    return list;
  }

  /**
   * Ends a scenario's script: later requests on `prefix` (the CLOSE or DISCONNECT of clients being shut down)
   * still get recorded, and a client's CLOSE is echoed.
   */
  retire(prefix: string): void {
    this.handlers.set(prefix, (request) => echoClose(request) ?? {});
  }

  private async handle(url: string, headers: IncomingHttpHeaders, body: Buffer): Promise<BackendReply> {
    const path = url.split('?')[0] ?? '/';
    let best: string | null = null;
    for (const prefix of this.handlers.keys()) if (path.startsWith(prefix) && (best === null || prefix.length > best.length)) best = prefix;
    const meta: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith('meta-') && typeof value === 'string') meta[name.slice(5)] = value;
    }
    const events = decodeWebSocketEvents(body).map((e) => {
      const content = e.getContent();
      return { type: e.getType(), content: content === null ? null : Buffer.from(content) };
    });
    const request: BackendRequest = {
      path,
      connectionId: String(headers['connection-id'] ?? ''),
      headers,
      meta,
      events,
      receivedAt: Date.now(),
    };
    if (best === null) {
      this.unrouted.push(path);
      return { status: 404 };
    }
    this.recorded.get(best)?.push(request);
    const handler = this.handlers.get(best);
    return handler ? handler(request) : { status: 404 };
  }
}
