/**
 * Shared pieces of the end-to-end tests (tests/integration/e2e): the whole local stack started with
 * `startLocal`, a scriptable backend written with our client library on a real `node:http` server, real `ws`
 * clients that record what they receive, polling waits (no fixed sleeps, no timing assertions), and queue
 * inspection (depth, drained) that the fan-out integration tests share.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import WebSocket, { type ClientOptions } from 'ws';
import { readWebSocketRequest, verifyGripSig, WebSocketReply, type WebSocketEvent, type WebSocketRequest } from '#src/client/index.js';
import { createNodeHandler } from '#src/client/node.js';
import { connectionsTable } from '#src/config/resources.js';
import type { QueuePoller } from '#src/local/poller.js';
import type { FanoutQueueUrls } from '#src/local/provision.js';
import { startLocal, type LocalOptions, type LocalStack } from '#src/local/start.js';
import { RecordingLog } from './fakes.js';

/** The GRIP key every e2e stack and backend share. */
export const E2E_KEY = 'e2e-shared-grip-key';

// ---------------------------------------------------------------------------------------------------------------
// Waiting

export { waitFor } from './wait.js';

// ---------------------------------------------------------------------------------------------------------------
// Queues

/** Messages in a queue in any state: visible, in flight, or delayed. */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const a = out.Attributes ?? {};
  return (
    Number(a['ApproximateNumberOfMessages'] ?? 0) +
    Number(a['ApproximateNumberOfMessagesNotVisible'] ?? 0) +
    Number(a['ApproximateNumberOfMessagesDelayed'] ?? 0)
  );
}

/** True when neither work queue holds a message in any state and no poller runs an invocation. */
export async function workDrained(sqs: SQSClient, urls: FanoutQueueUrls, pollers: readonly QueuePoller[]): Promise<boolean> {
  if (pollers.some((p) => p.stats().inFlight > 0)) return false;
  return (await queueDepth(sqs, urls.orderedQueueUrl)) === 0 && (await queueDepth(sqs, urls.delayedQueueUrl)) === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// The backend

/** One WebSocket-over-HTTP request as the test backend received it. */
export interface RecordedRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Headers;
  readonly connectionId: string;
  readonly meta: Readonly<Record<string, string>>;
  readonly events: readonly WebSocketEvent[];
  readonly isOpening: boolean;
  readonly requestedProtocols: readonly string[];
  /** Whether `Grip-Sig` verified with the shared key. */
  readonly signed: boolean;
  /** Epoch ms when the backend received it. */
  readonly receivedAt: number;
}

/** Answers one request for a path; `null` falls back to the default script. */
export type Route = (ws: WebSocketRequest, request: RecordedRequest) => Response | Promise<Response>;

export interface TestBackend {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Requests that carried this connection id, in arrival order. */
  of(connectionId: string): RecordedRequest[];
  /** The connection id of the (accepted or not) OPEN request made for this path. */
  connectionIdOf(path: string): string;
  /** Answers requests for `path` with `route` instead of the default script. */
  route(path: string, route: Route): void;
  /** Stops listening (clients of the port get connection refused) until {@link TestBackend.up}. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A backend written with our client library. Unless a path has its own route, it follows a small script:
 * - OPEN: accept (with the `protocol` query value as subprotocol, if given), subscribe to every `channel` query
 *   value, send `welcome` if given, store `meta-<name>` query values as meta.
 * - TEXT `sub:<ch>` / `unsub:<ch>` subscribe / unsubscribe; `echo:<text>` sends the text back; `burst:<n>`
 *   sends `burst 1` … `burst n` in one reply; `meta:<name>=<value>` sets meta (deletes it without a value)
 *   and confirms with `meta <name> set|deleted`;
 *   `close:<code>:<reason>` closes the connection; anything else gets no reply events.
 * - CLOSE is echoed with its code (as js-grip apps do); DISCONNECT gets an empty reply.
 * A request whose `Grip-Sig` does not verify gets a 401 (the script never runs for it).
 */
export async function startTestBackend(options: { readonly key?: string } = {}): Promise<TestBackend> {
  const key = options.key ?? E2E_KEY;
  const requests: RecordedRequest[] = [];
  const routes = new Map<string, Route>();

  async function handle(request: Request): Promise<Response> {
    const sig = await verifyGripSig(request, { key });
    const url = new URL(request.url);
    const read = await readWebSocketRequest(request);
    if (!read.ok) return new Response(`${read.error.message}\n`, { status: 400 });
    const ws = read.value;
    const record: RecordedRequest = {
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      connectionId: ws.connectionId,
      meta: ws.meta,
      events: ws.events,
      isOpening: ws.isOpening,
      requestedProtocols: ws.requestedProtocols,
      signed: sig.signed,
      receivedAt: Date.now(),
    };
    requests.push(record);
    if (!sig.signed) return new Response('Grip-Sig did not verify\n', { status: 401 });
    const route = routes.get(url.pathname);
    return route ? route(ws, record) : script(ws, url.searchParams);
  }

  const server: Server = createServer(createNodeHandler(handle, { onError: (e) => console.error('e2e backend failed', e) }));
  server.on('clientError', (_e, socket) => socket.destroy());
  await listenOn(server, 0);
  const port = (server.address() as AddressInfo).port;
  let listening = true;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    of: (connectionId) => requests.filter((r) => r.connectionId === connectionId),
    connectionIdOf(path) {
      const open = requests.find((r) => r.isOpening && r.path === path);
      if (!open) throw new Error(`no OPEN request for ${path}`);
      return open.connectionId;
    },
    route: (path, route) => void routes.set(path, route),
    async down() {
      if (!listening) return;
      listening = false;
      await closeServer(server);
    },
    async up() {
      if (listening) return;
      await listenOn(server, port);
      listening = true;
    },
    async stop() {
      if (!listening) return;
      listening = false;
      await closeServer(server);
    },
  };
}

function script(ws: WebSocketRequest, query: URLSearchParams): Response {
  const reply = new WebSocketReply();
  if (ws.isOpening) {
    const protocol = query.get('protocol');
    reply.accept(protocol !== null ? { subprotocol: protocol } : {});
    for (const channel of query.getAll('channel')) reply.subscribe(channel);
    for (const [name, value] of query) if (name.startsWith('meta-')) reply.setMeta(name.slice(5), value);
    const welcome = query.get('welcome');
    if (welcome !== null) reply.send(welcome);
    return reply.toResponse();
  }
  for (const event of ws.events) {
    if (event.type === 'TEXT') {
      const [command, ...rest] = event.text.split(':');
      const arg = rest.join(':');
      if (command === 'sub') reply.subscribe(arg);
      else if (command === 'unsub') reply.unsubscribe(arg);
      else if (command === 'echo') reply.send(arg);
      else if (command === 'burst') for (let i = 1; i <= Number(arg); i++) reply.send(`burst ${i}`);
      else if (command === 'meta') {
        const [name = '', value = ''] = arg.split('=');
        if (value === '') reply.deleteMeta(name);
        else reply.setMeta(name, value);
        // Meta is stored before the reply's messages are sent: this one confirms it.
        reply.send(`meta ${name} ${value === '' ? 'deleted' : 'set'}`);
      } else if (command === 'close') reply.close(Number(rest[0]), rest.slice(1).join(':'));
    } else if (event.type === 'CLOSE') {
      reply.close(event.code ?? 1000);
    }
  }
  return reply.toResponse();
}

function listenOn(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return closed;
}

// ---------------------------------------------------------------------------------------------------------------
// The stack

export interface E2EStack {
  readonly stack: LocalStack;
  readonly backend: TestBackend;
  /** Every line the stack logged; `E2E_LOG=1` also prints them. */
  readonly log: RecordingLog;
  /** Every item of a connection in the Connections table (its record and its subscriptions). */
  itemsOf(connectionId: string): Promise<Record<string, unknown>[]>;
  /** Messages on the delayed queue: visible, in flight and delayed. */
  delayedQueueDepth(): Promise<number>;
  /** Whether both work queues are empty and no invocation runs: no retry or redelivery can still arrive. */
  drained(): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Starts a test backend and the whole local stack in front of it (ports 0, fixed key, 1 s long polls so `stop()`
 * is quick). `options` override the defaults.
 */
export async function startE2E(options: Partial<LocalOptions> = {}): Promise<E2EStack> {
  const backend = await startTestBackend();
  const log = new RecordingLog({ print: process.env['E2E_LOG'] === '1' });
  let stack: LocalStack;
  try {
    stack = await startLocal({
      wsPort: 0,
      controlPort: 0,
      gripKey: E2E_KEY,
      targetUrl: backend.url,
      sweepIntervalMs: 600_000,
      log,
      ...options,
      worker: { waitTimeSeconds: 1, ...options.worker },
    });
  } catch (e) {
    await backend.stop();
    throw e;
  }
  const documents = DynamoDBDocumentClient.from(stack.clients.dynamo);
  return {
    stack,
    backend,
    log,
    async itemsOf(connectionId) {
      const out = await documents.send(
        new QueryCommand({
          TableName: connectionsTable.localName,
          KeyConditionExpression: '#id = :id',
          ExpressionAttributeNames: { '#id': connectionsTable.partitionKey },
          ExpressionAttributeValues: { ':id': connectionId },
          ConsistentRead: true,
        }),
      );
      return out.Items ?? [];
    },
    delayedQueueDepth: () => queueDepth(stack.clients.sqs, stack.queues.delayedQueueUrl),
    drained: () => workDrained(stack.clients.sqs, stack.queues, [stack.pollers.ordered, stack.pollers.delayed]),
    async stop() {
      try {
        await stack.stop();
      } finally {
        await backend.stop();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Clients

export interface E2EClient {
  readonly ws: WebSocket;
  /** Text messages received, in order (binary ones as `<binary:hex>`). */
  readonly messages: string[];
  /** Resolves with the close code and reason the client saw. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the `n`-th message (1-based) once it has arrived; rejects after `timeoutMs`. */
  nth(n: number, timeoutMs?: number): Promise<string>;
  /** The headers of the `101 Switching Protocols` response. */
  readonly upgradeHeaders: IncomingHttpHeaders;
}

export interface Rejection {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** The handshake did not complete: the client got this HTTP response instead of a 101. */
export class HandshakeRejected extends Error {
  override readonly name = 'HandshakeRejected';
  constructor(readonly rejection: Rejection) {
    super(`handshake rejected with ${rejection.status}: ${rejection.body}`);
  }
}

/**
 * Open clients, closed together in `closeAll()` (call it in `afterEach`). Every socket has an `'error'`
 * listener from the start.
 */
export class ClientPool {
  readonly #open = new Set<WebSocket>();

  /** Opens a client; resolves once the handshake completed, rejects with {@link HandshakeRejected} otherwise. */
  connect(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<E2EClient> {
    const clientOptions: ClientOptions = { perMessageDeflate: false, ...(options.headers ? { headers: options.headers } : {}) };
    const ws = new WebSocket(url, options.protocols ?? [], clientOptions);
    this.#open.add(ws);
    const messages: string[] = [];
    const waiters: { n: number; resolve: (m: string) => void }[] = [];
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      ws.on('close', (code, reason) => {
        this.#open.delete(ws);
        resolve({ code, reason: reason.toString('utf8') });
      });
    });
    ws.on('message', (data, isBinary) => {
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
      messages.push(isBinary ? `<binary:${buffer.toString('hex')}>` : buffer.toString('utf8'));
      for (const w of waiters.splice(0)) {
        if (messages.length >= w.n) w.resolve(messages[w.n - 1] ?? '');
        else waiters.push(w);
      }
    });
    const nth = (n: number, timeoutMs = 15_000): Promise<string> => {
      if (messages.length >= n) return Promise.resolve(messages[n - 1] ?? '');
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out after ${timeoutMs} ms waiting for message ${n}; got ${JSON.stringify(messages)}`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    };
    let upgradeHeaders: IncomingHttpHeaders = {};
    ws.on('upgrade', (res) => {
      upgradeHeaders = res.headers;
    });
    return new Promise((resolve, reject) => {
      ws.on('error', (e) => reject(e));
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          reject(
            new HandshakeRejected({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
          );
          ws.terminate();
        });
      });
      ws.on('open', () => resolve({ ws, messages, closed, nth, upgradeHeaders }));
    });
  }

  /** The HTTP response a refused handshake got; fails if the handshake succeeds. */
  async rejection(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<Rejection> {
    try {
      await this.connect(url, options);
    } catch (e) {
      if (e instanceof HandshakeRejected) return e.rejection;
      throw e;
    }
    throw new Error(`handshake to ${url} unexpectedly succeeded`);
  }

  /** Opens `count` clients, at most `batch` handshakes at a time. */
  async connectMany(count: number, url: (i: number) => string, batch = 50): Promise<E2EClient[]> {
    const limit = pLimit(batch);
    return Promise.all(Array.from({ length: count }, (_, i) => limit(() => this.connect(url(i)))));
  }

  /** Terminates every client still open and waits until each has closed. */
  async closeAll(): Promise<void> {
    const open = [...this.#open];
    this.#open.clear();
    await Promise.all(
      open.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            ws.once('close', () => resolve());
            ws.terminate();
          }),
      ),
    );
  }
}
