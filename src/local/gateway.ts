/**
 * The local WebSocket gateway: API Gateway's WebSocket API semantics on one machine, in front of the same
 * route handlers the Lambda entry points run (`$connect`, `$default`, `$disconnect`).
 *
 * It is deliberately no friendlier than API Gateway (docs/aws-facts.md §1): the handshake waits for `$connect`,
 * posts during `$connect` are `gone`, binary frames close with 1003, messages over 128 KB close with 1009, idle
 * (10 min) and lifetime (2 h) limits close with 1001, and `$disconnect` is delivered once per connection with the
 * close code it ended with.
 *
 * The parts: the events it sends are built by `apigw-events.ts` (pure), the answers to refused handshakes by
 * `handshake-response.ts`, and the live connections are a `ConnectionRegistry` (`connections.ts`) that the caller
 * may create first, so the senders and handlers that need it exist before the gateway does.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Log } from '../domain/ports.js';
import type { ApiGatewayWebSocketEvent, WebSocketRouteHandlers } from '../handlers/aws-events.js';
import {
  amznTraceId,
  connectEvent,
  disconnectEvent,
  disconnectReason,
  messageEvent,
  type ApiContext,
  type ConnectionFacts,
} from './apigw-events.js';
import { MessagePump } from './message-pump.js';
import { numberOption } from './options.js';
import { MAX_MESSAGE_BYTES } from '../domain/protocol/limits.js';
import { ConnectionRegistry, type LocalConnections, type RegistryEntry } from './connections.js';
import {
  chosenSubprotocol,
  INTEGRATION_FAILURE,
  INTEGRATION_TIMEOUT,
  parseConnectResult,
  responseHeaders,
  SHUTTING_DOWN,
  writeHttpResponse,
  type ConnectDecision,
} from './handshake-response.js';
import { listen } from './http.js';
import { describeError, stderrLog } from './log.js';

export interface LocalGatewayBindOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port; 0 picks a free one. Default 8080. */
  readonly port?: number;
  readonly log?: Log;
}

export interface LocalGatewayServeOptions {
  readonly handlers: WebSocketRouteHandlers;
  /**
   * The live connections to serve from. Create it first when something the handlers use needs it (the
   * in-process sender, the local Management API). Default: a new registry with `maxBufferedBytes`.
   */
  readonly connections?: ConnectionRegistry;
  /** Posts to a client with more unsent bytes than this answer `throttled` (only for the registry made here). Default 4 MiB. */
  readonly maxBufferedBytes?: number;
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
  /**
   * Each connection's fair share: `$default` invocations in flight and messages started per second; past either
   * the client's socket is not read until it caught up ({@link MessagePump}). Default 4 and 100.
   */
  readonly clientMessages?: { readonly concurrency: number; readonly ratePerSecond: number };
  /**
   * Told about the connections the stop closes in batches (up to 100, as they close; calls may overlap and must
   * bound their own work), instead of one `$disconnect` each (which costs several store calls per connection:
   * thousands of clients would not fit a stop's few seconds). Absent: the stop runs `$disconnect` for each, within
   * its budget.
   */
  readonly onShutdown?: (closes: readonly ShutdownClose[], deadline: number) => Promise<{ readonly dropped: number }>;
}

/** A connection the stop closed, as `$disconnect` would have described it. */
export interface ShutdownClose {
  readonly connectionId: string;
  readonly statusCode: number;
  readonly reason: string;
}

export type LocalGatewayOptions = LocalGatewayBindOptions & LocalGatewayServeOptions;

export interface LocalGateway {
  /** `ws://host:port`; any path and query after it are accepted. */
  readonly url: string;
  readonly port: number;
  /** The live connections, for the Management API and the in-process connection sender. */
  readonly connections: LocalConnections;
  /**
   * Stops accepting, closes every open connection with 1001 (each gets its `$disconnect`), refuses pending
   * handshakes with 503, and resolves when every handler invocation has settled. `$disconnect`s not yet started
   * when `budgetMs` runs out are dropped (and counted): a stop must end in bounded time however many clients there
   * are. Dropped ones leave their records behind; fan-out forgets them at their first 410, the sweeper at expiry.
   */
  stop(options?: { readonly budgetMs?: number }): Promise<GatewayStopResult>;
}

export interface GatewayStopResult {
  /** `$disconnect` invocations dropped because the stop's budget ran out. */
  readonly disconnectsDropped: number;
}

/** A gateway that listens but does not serve yet: its URL is known, upgrade requests wait for `serve`. */
export interface BoundLocalGateway {
  readonly url: string;
  readonly port: number;
  /** Starts serving; upgrade requests that arrived since the bind are served now, in arrival order. */
  serve(options: LocalGatewayServeOptions): LocalGateway;
  /** Closes the port without serving (start-up failed): waiting requests are dropped. */
  close(): Promise<void>;
}

/** How many `$disconnect` handlers run at once. */
const DISCONNECT_CONCURRENCY = 64;

/** How long `stop()` waits for clients to answer the close handshake before dropping them. */
const STOP_CLOSE_GRACE_MS = 2_000;
/** At shutdown, closes are handed over for telling the backend in batches of this many (one store read each)… */
const SHUTDOWN_BATCH = 100;
/** …or after this long, whichever comes first. */
const SHUTDOWN_FLUSH_MS = 20;

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
  const bound = await bindLocalGateway(options);
  try {
    return bound.serve(options);
  } catch (e) {
    await bound.close();
    throw e;
  }
}

/**
 * Listens without serving: for a caller that must hand the gateway's URL to something the handlers depend on
 * (local mode's example backend, whose URL is the handlers' target). Requests arriving before `serve` wait.
 *
 * @example
 * const bound = await bindLocalGateway({ port: 0 });
 * const backend = await startBackend({ websocketUrl: bound.url });
 * const gateway = bound.serve({ handlers: handlersFor(backend.url), connections });
 */
export async function bindLocalGateway(options: LocalGatewayBindOptions): Promise<BoundLocalGateway> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? stderrLog('local-gateway');
  const sockets = new Set<Duplex>();
  const waiting: [IncomingMessage, Duplex, Buffer][] = [];
  let gateway: Gateway | null = null;
  const server = createServer((req, res) => {
    req.on('error', () => {});
    res.writeHead(426, { 'Content-Type': 'application/json', Upgrade: 'websocket', Connection: 'close' });
    res.end('{"message": "Upgrade Required"}');
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (e) => log.debug('socket error', { error: describeError(e) }));
    if (gateway) gateway.upgrade(req, socket, head);
    else waiting.push([req, socket, head]);
  });
  const bound = await listen(server, options.port ?? 8080, host, log);
  const url = `ws://${bound.authority}`;
  return {
    url,
    port: bound.port,
    serve(serveOptions) {
      if (gateway) throw new Error('the local gateway is already serving');
      const serving = new Gateway(serveOptions, { server, sockets, host, port: bound.port, log });
      gateway = serving;
      for (const [req, socket, head] of waiting.splice(0)) serving.upgrade(req, socket, head);
      return { url, port: bound.port, connections: serving.registry, stop: (stopOptions) => serving.stop(stopOptions) };
    },
    async close() {
      for (const [, socket] of waiting.splice(0)) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Listener {
  readonly server: Server;
  readonly sockets: Set<Duplex>;
  readonly host: string;
  readonly port: number;
  readonly log: Log;
}

interface AcceptedHandshake {
  readonly entry: RegistryEntry;
  readonly api: ApiContext;
  readonly subprotocol: string | undefined;
  readonly headers: readonly [string, string][];
}

/** The serving gateway: the handshake, each open connection's life, and shutdown. */
class Gateway {
  readonly registry: ConnectionRegistry;
  readonly #handlers: WebSocketRouteHandlers;
  readonly #listener: Listener;
  readonly #log: Log;
  readonly #stage: string;
  readonly #apiId: string;
  readonly #domainName: string | undefined;
  readonly #idleTimeoutMs: number;
  readonly #maxLifetimeMs: number;
  readonly #connectTimeoutMs: number;
  readonly #clientMessages: { readonly concurrency: number; readonly ratePerSecond: number };
  readonly #onShutdown: LocalGatewayServeOptions['onShutdown'];
  /**
   * While the stop closes every client: closes not yet handed to `onShutdown`, and the hand-overs in progress. The
   * backend is told in batches as clients close, so reading their records and telling the backend overlap the
   * close handshakes instead of following them.
   */
  #shutdownCloses: ShutdownClose[] | null = null;
  readonly #shutdownTells: Promise<{ readonly dropped: number }>[] = [];
  #shutdownDeadline = Number.POSITIVE_INFINITY;
  readonly #wss: WebSocketServer;
  /** Handshakes `$connect` accepted, until `ws` completes the upgrade. */
  readonly #accepted = new WeakMap<IncomingMessage, AcceptedHandshake>();
  /** Connections whose `$disconnect` was sent (exactly once each). */
  readonly #disconnected = new WeakSet<RegistryEntry>();
  /** Handler invocations and handshakes still running; `stop` waits for them. */
  readonly #inFlight = new Set<Promise<unknown>>();
  // A mass disconnect (the stop, a network drop) would otherwise start thousands of $disconnect handlers at once,
  // and thousands of backend requests in one burst time out together. On AWS, Lambda concurrency bounds them.
  readonly #disconnectLimit = pLimit(DISCONNECT_CONCURRENCY);
  /** `$disconnect` invocations that have started (a stop past its budget still waits for these). */
  readonly #running = new Set<Promise<void>>();
  /** Set once a stop's budget is spent: later closes get no `$disconnect` (they are counted as dropped). */
  #dropDisconnects = false;
  #lateDisconnects = 0;
  #stopping = false;

  constructor(options: LocalGatewayServeOptions, listener: Listener) {
    this.#handlers = options.handlers;
    this.#listener = listener;
    this.#log = listener.log;
    this.#stage = options.stage ?? 'local';
    this.#apiId = options.apiId ?? 'local';
    this.#domainName = options.domainName;
    this.#idleTimeoutMs = numberOption('idleTimeoutMs', options.idleTimeoutMs, 600_000, { min: 0, aboveMin: true });
    this.#maxLifetimeMs = numberOption('maxLifetimeMs', options.maxLifetimeMs, 7_200_000, { min: 0, aboveMin: true });
    this.#connectTimeoutMs = numberOption('connectTimeoutMs', options.connectTimeoutMs, 29_000, { min: 0, aboveMin: true });
    this.#clientMessages = options.clientMessages ?? { concurrency: 4, ratePerSecond: 100 };
    this.#onShutdown = options.onShutdown;
    this.registry =
      options.connections ?? new ConnectionRegistry(options.maxBufferedBytes ? { maxBufferedBytes: options.maxBufferedBytes } : {});
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: numberOption('maxMessageBytes', options.maxMessageBytes, MAX_MESSAGE_BYTES, { min: 0, aboveMin: true }),
      // The 2-argument form lets the handshake wait for `$connect`; ws has validated the upgrade by then.
      verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean) => void) => {
        this.#track(this.#runConnect(info.req, info.req.socket, done));
      },
      // ws would otherwise pick the client's first offer; only the handler chooses.
      handleProtocols: (_offered: Set<string>, req: IncomingMessage) => this.#accepted.get(req)?.subprotocol ?? false,
    });
    this.#wss.on('headers', (lines: string[], req: IncomingMessage) => {
      const handshake = this.#accepted.get(req);
      if (!handshake) return;
      if (handshake.subprotocol !== undefined && !lines.some((l) => l.toLowerCase().startsWith('sec-websocket-protocol:'))) {
        // The client offered none: API Gateway still sends what the integration chose, and the client rejects it.
        lines.push(`Sec-WebSocket-Protocol: ${handshake.subprotocol}`);
      }
      for (const [name, value] of handshake.headers) lines.push(`${name}: ${value}`);
    });
    this.#wss.on('error', (e) => this.#log.error('websocket server error', { error: describeError(e) }));
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#stopping) {
      writeHttpResponse(socket, SHUTTING_DOWN.statusCode, [], SHUTTING_DOWN.body);
      return;
    }
    try {
      this.#wss.handleUpgrade(req, socket, head, (ws, request) => this.#open(ws, request));
    } catch (e) {
      this.#log.error('upgrade failed', { error: describeError(e) });
      socket.destroy();
    }
  }

  async stop(options: { readonly budgetMs?: number } = {}): Promise<GatewayStopResult> {
    if (this.#stopping) return { disconnectsDropped: 0 };
    this.#stopping = true;
    const started = Date.now();
    const budgetMs = options.budgetMs ?? Number.POSITIVE_INFINITY;
    const { server, sockets } = this.#listener;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.#onShutdown) this.#shutdownCloses = [];
    this.#shutdownDeadline = started + budgetMs;
    const flusher = setInterval(() => this.#flushShutdownCloses(), SHUTDOWN_FLUSH_MS);
    for (const entry of this.registry.openEntries()) this.registry.close(entry.connectionId, { code: 1001, reason: 'Going away' });
    const graceEnd = started + Math.min(STOP_CLOSE_GRACE_MS, budgetMs);
    while (this.registry.count > 0 && Date.now() < graceEnd) await sleep(10);
    for (const socket of sockets) socket.destroy();
    server.closeAllConnections();
    // Destroyed sockets report their close on the next turns; let them, so their $disconnects are queued.
    const settleEnd = Date.now() + 500;
    while (this.registry.count > 0 && Date.now() < settleEnd) await sleep(5);
    clearInterval(flusher);
    let disconnectsDropped = 0;
    if (this.#shutdownCloses) {
      this.#flushShutdownCloses();
      this.#shutdownCloses = null;
      // Those still closing after this are dropped below.
      this.#dropDisconnects = true;
      for (const told of await Promise.all(this.#shutdownTells)) disconnectsDropped += told.dropped;
    }
    while (this.#disconnectLimit.pendingCount > 0 && Date.now() - started < budgetMs) await sleep(10);
    this.#dropDisconnects = true;
    if (this.#disconnectLimit.pendingCount > 0) {
      disconnectsDropped = this.#disconnectLimit.pendingCount;
      // Queued invocations never start, so their promises never settle: forget them along with the queue.
      this.#disconnectLimit.clearQueue();
      this.#inFlight.clear();
      await Promise.allSettled([...this.#running]);
    }
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    await closed;
    return { disconnectsDropped: disconnectsDropped + this.#lateDisconnects };
  }

  #track(work: Promise<unknown>): void {
    const settled = work
      .catch((e: unknown) => this.#log.error('gateway bookkeeping failed', { error: describeError(e) }))
      .finally(() => this.#inFlight.delete(settled));
    this.#inFlight.add(settled);
  }

  async #runConnect(req: IncomingMessage, socket: Socket, done: (ok: boolean) => void): Promise<void> {
    const userAgent = firstHeader(req, 'user-agent');
    const entry = this.registry.addPending(
      newId(this.registry),
      { sourceIp: normalizeIp(socket.remoteAddress), userAgent: userAgent ?? '' },
      Date.now(),
    );
    try {
      await this.#completeConnect(req, socket, done, entry, userAgent);
    } catch (e) {
      this.registry.remove(entry);
      socket.destroy();
      throw e;
    }
  }

  async #completeConnect(
    req: IncomingMessage,
    socket: Socket,
    done: (ok: boolean) => void,
    entry: RegistryEntry,
    userAgent: string | undefined,
  ): Promise<void> {
    const { host, port } = this.#listener;
    let dropped = false;
    socket.once('close', () => {
      dropped = true;
    });
    const api: ApiContext = {
      stage: this.#stage,
      apiId: this.#apiId,
      domainName: this.#domainName ?? firstHeader(req, 'host') ?? `${host}:${port}`,
    };
    const handshake = {
      url: req.url ?? '/',
      rawHeaders: req.rawHeaders,
      userAgent,
      port,
      traceId: amznTraceId(Date.now(), randomBytes(12).toString('hex')),
    };
    const result = await this.#invokeConnect(connectEvent(handshake, facts(entry), randomId(), api));
    const refuse = (status: number, headers: readonly [string, string][], body: string): void => {
      this.registry.remove(entry);
      writeHttpResponse(socket, status, headers, body);
    };
    if (this.#stopping) {
      refuse(SHUTTING_DOWN.statusCode, [], SHUTTING_DOWN.body);
      if (result.statusCode === 200) this.#disconnect(entry, api, 1001, 'Going away');
      return;
    }
    const headers = responseHeaders(result.headers);
    const subprotocol = chosenSubprotocol(result.headers);
    if (subprotocol === null) {
      this.#log.error('$connect chose a subprotocol that cannot be sent in a header', { connectionId: entry.connectionId });
      refuse(INTEGRATION_FAILURE.statusCode, [], INTEGRATION_FAILURE.body);
      return;
    }
    if (result.statusCode !== 200) {
      this.#log.info('$connect rejected', { connectionId: entry.connectionId, statusCode: result.statusCode });
      refuse(result.statusCode, headers, result.body ?? '');
      return;
    }
    if (dropped || socket.destroyed || !socket.readable || !socket.writable) {
      this.registry.remove(entry);
      socket.destroy();
      this.#disconnect(entry, api, 1006, 'Client went away during $connect');
      return;
    }
    this.#accepted.set(req, { entry, api, subprotocol, headers });
    done(true);
  }

  async #invokeConnect(event: ApiGatewayWebSocketEvent): Promise<ConnectDecision> {
    const connectionId = event.requestContext.connectionId;
    const timeout = new AbortController();
    const timedOut = sleep(this.#connectTimeoutMs, 'timeout' as const, { signal: timeout.signal }).catch(() => 'aborted' as const);
    try {
      const raw = await Promise.race([this.#handlers.connect(event), timedOut]);
      if (raw === 'timeout') {
        this.#log.error('$connect timed out', { connectionId, timeoutMs: this.#connectTimeoutMs });
        return INTEGRATION_TIMEOUT;
      }
      const parsed = parseConnectResult(raw);
      if (!parsed) this.#log.error('$connect returned a malformed result', { connectionId });
      return parsed ?? INTEGRATION_FAILURE;
    } catch (e) {
      this.#log.error('$connect handler failed', { connectionId, error: describeError(e) });
      return INTEGRATION_FAILURE;
    } finally {
      timeout.abort();
    }
  }

  #open(ws: WebSocket, req: IncomingMessage): void {
    // When `ws` itself fails the connection (a message over the limit), it sends the close code to the client but
    // reports 1006 locally, since no close frame came back: remember what the client was told.
    let closedWith: { code: number; reason: string } | undefined;
    ws.on('error', (e) => {
      const code = 'code' in e ? e.code : undefined;
      if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        closedWith = { code: 1009, reason: 'Message too big' };
        this.#log.info('message over the size limit; closed with 1009', { connectionId: handshake?.entry.connectionId });
      } else this.#log.warn('websocket error', { error: describeError(e) });
    });
    const handshake = this.#accepted.get(req);
    this.#accepted.delete(req);
    if (!handshake) {
      ws.terminate();
      return;
    }
    const { entry, api } = handshake;
    this.registry.open(entry, ws);
    const stopTimers = this.#watchLimits(entry);
    const pump = new MessagePump<{ readonly event: ApiGatewayWebSocketEvent; readonly done: () => void }>({
      ...this.#clientMessages,
      run: ({ event, done }) => this.#invokeRoute('message', event).finally(done),
      pause: () => ws.pause(),
      resume: () => ws.resume(),
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (entry.state !== 'open') return;
      if (isBinary) {
        this.#log.info('binary frame refused', { connectionId: entry.connectionId });
        this.registry.close(entry.connectionId, { code: 1003, reason: 'Binary frames are not supported' });
        return;
      }
      entry.lastActiveAt = Date.now();
      const event = messageEvent(
        facts(entry),
        rawDataToString(data),
        { requestId: randomId(), messageId: randomId(), now: Date.now() },
        api,
      );
      // Tracked from arrival, so a stop waits for messages still queued behind the connection's share too.
      this.#track(new Promise<void>((done) => pump.push({ event, done })));
    });
    ws.on('close', (code: number, reason: Buffer) => {
      stopTimers();
      this.registry.remove(entry);
      this.#disconnect(entry, api, closedWith?.code ?? code, closedWith?.reason ?? reason.toString('utf8'));
    });
  }

  /** Closes the connection with 1001 when it idles too long or reaches its maximum lifetime; returns the stop. */
  #watchLimits(entry: RegistryEntry): () => void {
    const goAway = (why: string): void => {
      if (entry.state !== 'open') return;
      this.#log.info('closing connection', { connectionId: entry.connectionId, why });
      this.registry.close(entry.connectionId, { code: 1001, reason: 'Going away' });
    };
    let idleTimer: NodeJS.Timeout;
    const armIdle = (delay: number): void => {
      // Re-armed lazily from `lastActiveAt` so a post (which only stamps the entry) costs no timer churn.
      idleTimer = setTimeout(() => {
        const idleFor = Date.now() - entry.lastActiveAt;
        if (idleFor >= this.#idleTimeoutMs) goAway('idle timeout');
        else armIdle(this.#idleTimeoutMs - idleFor);
      }, delay);
    };
    armIdle(this.#idleTimeoutMs);
    const lifetimeTimer = setTimeout(() => goAway('maximum lifetime'), Math.max(0, this.#maxLifetimeMs - (Date.now() - entry.connectedAt)));
    return () => {
      clearTimeout(idleTimer);
      clearTimeout(lifetimeTimer);
    };
  }

  /** Hands the closes gathered so far to `onShutdown` (which bounds its own backend requests). */
  #flushShutdownCloses(): void {
    const closes = this.#shutdownCloses;
    if (!closes || closes.length === 0 || !this.#onShutdown) return;
    this.#shutdownCloses = [];
    this.#shutdownTells.push(this.#onShutdown(closes, this.#shutdownDeadline));
  }

  #disconnect(entry: RegistryEntry, api: ApiContext, code: number, reason: string): void {
    if (this.#disconnected.has(entry)) return;
    this.#disconnected.add(entry);
    if (this.#dropDisconnects) {
      this.#lateDisconnects++;
      return;
    }
    const close = { code, reason: disconnectReason(code, reason, entry.serverClose) };
    if (this.#shutdownCloses) {
      this.#shutdownCloses.push({ connectionId: entry.connectionId, statusCode: close.code, reason: close.reason });
      if (this.#shutdownCloses.length >= SHUTDOWN_BATCH) this.#flushShutdownCloses();
      return;
    }
    const event = disconnectEvent(facts(entry), close, { requestId: randomId(), now: Date.now() }, api);
    this.#track(
      this.#disconnectLimit(() => {
        const running = this.#invokeRoute('disconnect', event).finally(() => this.#running.delete(running));
        this.#running.add(running);
        return running;
      }),
    );
  }

  async #invokeRoute(route: 'message' | 'disconnect', event: ApiGatewayWebSocketEvent): Promise<void> {
    try {
      await this.#handlers[route](event);
    } catch (e) {
      this.#log.error(`${route === 'message' ? '$default' : '$disconnect'} handler failed`, {
        connectionId: event.requestContext.connectionId,
        error: describeError(e),
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

const facts = (entry: RegistryEntry): ConnectionFacts => ({
  connectionId: entry.connectionId,
  connectedAt: entry.connectedAt,
  sourceIp: entry.identity.sourceIp,
});

/** An API Gateway-style id: 16 characters of base64 ending in `=`. */
function randomId(): string {
  return randomBytes(11).toString('base64');
}

function newId(registry: ConnectionRegistry): string {
  let id = randomId();
  while (registry.has(id)) id = randomId();
  return id;
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
