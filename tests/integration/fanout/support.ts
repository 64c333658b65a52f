/**
 * Helpers for the fan-out integration tests: a fan-out worker wired to real local services (dynalite, fauxqs,
 * the local Management API), a counting connection sink, a tiny GRIP backend, and dead-letter inspection
 * (queue depths, draining and polling waits come from tests/helpers/e2e.ts).
 *
 * No vitest import here: `worker-process.ts` (a worker run in a child process so it can be SIGKILLed) uses it too.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityBatchCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { subscriptionItem } from '#src/adapters/connection-items.js';
import { batchWriteAll } from '#src/adapters/dynamo-batch-write.js';
import { DynamoChannelHistory } from '#src/adapters/dynamo-channel-history.js';
import { DynamoConnectionStore } from '#src/adapters/dynamo-connection-store.js';
import { InMemoryMetrics } from '#src/adapters/observability.js';
import { SignedHttpConnectionSender } from '#src/adapters/signed-http-connection-sender.js';
import { SqsFanoutQueue } from '#src/adapters/sqs-fanout-queue.js';
import { readWebSocketRequest, WebSocketReply } from '#src/client/index.js';
import { createNodeHandler } from '#src/client/node.js';
import { connectionsTable, historyTable } from '#src/config/resources.js';
import { bucketOf } from '#src/domain/channel.js';
import { channelPublishEntry, parseJob, type FanoutJob } from '#src/domain/fanout/jobs.js';
import type { Payload } from '#src/domain/message.js';
import type { FanoutConfig } from '#src/domain/fanout/worker.js';
import type { CloseRequest, ConnectionSender, SendOutcome, Log, Metrics } from '#src/domain/ports.js';
import type { WorkerHandler } from '#src/handlers/aws-events.js';
import { createWorkerOn, makeWorkerHandler } from '#src/handlers/fanout-worker.js';
import { MAX_MESSAGE_BYTES } from '#src/domain/protocol/limits.js';
import type { ConnectionInfo, LocalConnections } from '#src/local/connections.js';
import { InProcessConnectionSender } from '#src/local/in-process-sender.js';
import { startManagementApi, type ManagementApi, type ManagementApiTuning } from '#src/local/management-api.js';
import { startQueuePoller, type QueuePoller } from '#src/local/poller.js';
import { createConnectionsTable, createFanoutQueues, createHistoryTable, type FanoutQueueUrls } from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localClientConfig, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';
import type { AwsCredentialIdentity } from '@smithy/types';
import { workDrained } from '#test-helpers/e2e.js';

// ---------------------------------------------------------------------------------------------------------------
// Worker configuration

/** Default worker configuration for tests: short backoffs so retries do not dominate the run time. */
export function testFanoutConfig(overrides: Partial<FanoutConfig> = {}): FanoutConfig {
  return {
    concurrency: 50,
    pageSize: 1000,
    buckets: 4,
    maxAttempts: 5,
    inJobAttempts: 3,
    retryBaseMs: 5,
    retryMaxMs: 50,
    reserveMs: 1_000,
    joinGraceMs: 5_000,
    idCacheTtlMs: 60_000,
    history: { ttlMs: 3_600_000, maxItems: 1_000 },
    messageWaitMs: 5_000,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Queues

export interface DeadLetter {
  readonly body: string;
  /** The `reason` message attribute, when the worker dead-lettered it (SQS's own redrive sets none). */
  readonly reason: string | null;
  /** The body parsed as a job, when it is one. */
  readonly job: FanoutJob | null;
}

/**
 * Reads every message of a (dead-letter) queue without consuming it: receives them all, then makes them visible
 * again, so a later redrive still finds them.
 */
export async function peekAll(sqs: SQSClient, queueUrl: string): Promise<DeadLetter[]> {
  const messages: Message[] = [];
  for (;;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    );
    const got = r.Messages ?? [];
    if (got.length === 0) break;
    messages.push(...got);
  }
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle ?? '', VisibilityTimeout: 0 })),
      }),
    );
  }
  return messages.map((m) => {
    const body = m.Body ?? '';
    const parsed = parseJob(body);
    return { body, reason: m.MessageAttributes?.['reason']?.StringValue ?? null, job: parsed.ok ? parsed.value : null };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// A counting connection sink

/**
 * `LocalConnections` that records every message instead of writing to sockets: what the local Management API
 * or the in-process sender delivers to it is counted per connection. Connections in `throttled` answer 429
 * ("client buffer full") on every post; posts larger than `maxBytes` answer 413.
 */
export class SinkConnections implements LocalConnections {
  readonly #live = new Set<string>();
  readonly #received = new Map<string, string[]>();
  readonly throttled = new Set<string>();
  maxBytes = MAX_MESSAGE_BYTES;
  posts = 0;

  add(connectionIds: Iterable<string>): void {
    for (const id of connectionIds) this.#live.add(id);
  }

  /** The messages a connection received, in order (binary ones as `binary:<length>`). */
  received(connectionId: string): readonly string[] {
    return this.#received.get(connectionId) ?? [];
  }

  /** How many connections received `message` at least once. */
  reached(message: string): number {
    let n = 0;
    for (const list of this.#received.values()) if (list.includes(message)) n++;
    return n;
  }

  get count(): number {
    return this.#live.size;
  }

  post(connectionId: string, data: string | Uint8Array): SendOutcome {
    this.posts++;
    if (!this.#live.has(connectionId)) return { kind: 'gone' };
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (size > this.maxBytes) return { kind: 'too-large', message: `Message of ${size} bytes exceeds the ${this.maxBytes}-byte limit` };
    if (this.throttled.has(connectionId)) return { kind: 'throttled', message: 'Client side buffer is full' };
    const list = this.#received.get(connectionId) ?? [];
    list.push(typeof data === 'string' ? data : `binary:${data.byteLength}`);
    this.#received.set(connectionId, list);
    return { kind: 'ok' };
  }

  close(connectionId: string, _request?: CloseRequest): SendOutcome {
    return this.#live.delete(connectionId) ? { kind: 'ok' } : { kind: 'gone' };
  }

  info(connectionId: string): ConnectionInfo | null {
    if (!this.#live.has(connectionId)) return null;
    return { connectedAt: 0, lastActiveAt: 0, identity: { sourceIp: '127.0.0.1', userAgent: 'sink' } };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Wiring a worker, as a Lambda container would be wired

export interface WorkerWiring {
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  readonly queues: FanoutQueueUrls;
  /** The Management API over HTTP (real SDK client), or the in-process sender over `connections`. */
  readonly sender:
    { readonly managementApiEndpoint: string; readonly credentials?: AwsCredentialIdentity } | { readonly connections: LocalConnections };
  readonly config: FanoutConfig;
  readonly log: Log;
  readonly metrics: Metrics;
}

export interface WiredWorker {
  readonly handler: WorkerHandler;
  destroy(): void;
}

/** One worker with its own SDK clients (one "container"): the same adapters `startLocal` and the Lambda use. */
export function wireWorker(w: WorkerWiring): WiredWorker {
  const dynamo = new DynamoDBClient(localClientConfig(w.dynamoEndpoint));
  const documents = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  const sqs = new SQSClient(localClientConfig(w.sqsEndpoint));
  let sender: ConnectionSender;
  let destroySender = (): void => {};
  if ('managementApiEndpoint' in w.sender) {
    const signed = new SignedHttpConnectionSender({
      endpoint: w.sender.managementApiEndpoint,
      region: LOCAL_REGION,
      maxSockets: Math.max(50, w.config.concurrency),
      credentials: w.sender.credentials ?? LOCAL_CREDENTIALS,
    });
    sender = signed;
    destroySender = () => signed.destroy();
  } else {
    sender = new InProcessConnectionSender(w.sender.connections);
  }
  const store = new DynamoConnectionStore({ client: documents, tableName: connectionsTable.localName, log: w.log });
  const queue = new SqsFanoutQueue({
    client: sqs,
    orderedQueueUrl: w.queues.orderedQueueUrl,
    delayedQueueUrl: w.queues.delayedQueueUrl,
    deadLetterQueueUrl: w.queues.delayedDeadLetterQueueUrl,
    log: w.log,
  });
  const worker = createWorkerOn({
    store,
    history: new DynamoChannelHistory({ client: documents, tableName: historyTable.localName }),
    queue,
    sender,
    log: w.log,
    metrics: w.metrics,
    config: w.config,
  });
  return {
    handler: makeWorkerHandler(worker),
    destroy() {
      destroySender();
      dynamo.destroy();
      sqs.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// A fan-out rig built from the pieces: services, table, queues, a sink, workers and pollers

export interface RigOptions {
  /** `management-api`: the worker calls the local Management API over HTTP, which delivers into the sink. */
  readonly delivery: 'direct' | 'management-api';
  readonly config?: Partial<FanoutConfig>;
  /** Independent workers ("containers"), each polling both queues. Default 1. */
  readonly workers?: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly maxReceiveCount?: number;
  readonly functionTimeoutMs?: number;
  readonly maxConcurrency?: number;
  /** Records per invocation. Default 10. */
  readonly batchSize?: number;
  /** Latency, rate limit and faults of the Management API (with `delivery: 'management-api'`). */
  readonly managementApi?: ManagementApiTuning;
  readonly log: Log;
}

export interface Rig {
  readonly sqs: SQSClient;
  readonly urls: FanoutQueueUrls;
  readonly store: DynamoConnectionStore;
  readonly queue: SqsFanoutQueue;
  readonly sink: SinkConnections;
  readonly managementApi: ManagementApi | null;
  readonly metrics: InMemoryMetrics;
  readonly pollers: readonly QueuePoller[];
  /**
   * Writes subscription items of `connectionIds` to `channel` and makes them live in the sink. Items are
   * batch-written in the store's shape (from the shared table definition): one `subscribe` call per
   * connection would take seconds for thousands.
   */
  seed(channel: string, connectionIds: readonly string[]): Promise<void>;
  /** Enqueues the channel job the control API would enqueue for a publish. */
  publish(channel: string, payload: Payload, publishId: string): Promise<void>;
  drained(): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startRig(options: RigOptions): Promise<Rig> {
  const stoppers: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stoppers.splice(0).reverse()) await s();
  };
  try {
    const services: LocalAwsServices = await startLocalAwsServices();
    stoppers.push(() => services.stop());
    const dynamo = new DynamoDBClient({ endpoint: services.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const sqs = new SQSClient({ endpoint: services.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    stoppers.push(() => {
      dynamo.destroy();
      sqs.destroy();
    });
    await createConnectionsTable(dynamo);
    await createHistoryTable(dynamo);
    const urls = await createFanoutQueues(sqs, {
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
      maxReceiveCount: options.maxReceiveCount ?? 5,
    });
    const documents = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
    const store = new DynamoConnectionStore({ client: documents, tableName: connectionsTable.localName, log: options.log });
    const queue = new SqsFanoutQueue({
      client: sqs,
      orderedQueueUrl: urls.orderedQueueUrl,
      delayedQueueUrl: urls.delayedQueueUrl,
      deadLetterQueueUrl: urls.delayedDeadLetterQueueUrl,
      log: options.log,
    });
    const sink = new SinkConnections();
    let managementApi: ManagementApi | null = null;
    if (options.delivery === 'management-api') {
      const api = await startManagementApi({
        connections: sink,
        credentials: LOCAL_CREDENTIALS,
        stage: 'local',
        log: options.log,
        ...options.managementApi,
      });
      managementApi = api;
      stoppers.push(() => api.stop());
    }
    const metrics = new InMemoryMetrics();
    const config = testFanoutConfig(options.config);
    const pollers: QueuePoller[] = [];
    for (let i = 0; i < (options.workers ?? 1); i++) {
      const worker = wireWorker({
        dynamoEndpoint: services.dynamoEndpoint,
        sqsEndpoint: services.sqsEndpoint,
        queues: urls,
        sender: managementApi ? { managementApiEndpoint: managementApi.endpoint } : { connections: sink },
        config,
        log: options.log,
        metrics,
      });
      stoppers.push(() => worker.destroy());
      for (const queueUrl of [urls.orderedQueueUrl, urls.delayedQueueUrl]) {
        const poller = await startQueuePoller({
          sqs,
          queueUrl,
          handler: worker.handler,
          waitTimeSeconds: 1,
          batchSize: options.batchSize ?? 10,
          maxConcurrency: options.maxConcurrency ?? 4,
          functionTimeoutMs: options.functionTimeoutMs ?? 20_000,
          log: options.log,
        });
        pollers.push(poller);
        stoppers.push(() => poller.stop());
      }
    }
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    return {
      sqs,
      urls,
      store,
      queue,
      sink,
      managementApi,
      metrics,
      pollers,
      async seed(channel, connectionIds) {
        const items = connectionIds.map((connectionId) => subscriptionItem({ connectionId, channel, expiresAt, connectedAt: Date.now() }));
        const written = await batchWriteAll(
          documents,
          connectionsTable.localName,
          items.map((Item) => ({ PutRequest: { Item } })),
          { concurrency: 4, maxAttempts: 10 },
        );
        if (!written.ok) throw new Error(`seeding failed: ${written.error.message}`);
        sink.add(connectionIds);
      },
      async publish(channel, payload, publishId) {
        const queued = await queue.enqueue([channelPublishEntry(channel, payload, { publishId, publishedAt: Date.now() })]);
        if (!queued.ok) throw new Error(`publishing failed: ${queued.error.message}`);
      },
      drained: () => workDrained(sqs, urls, pollers),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** `count` connection ids, fixed so bucket placement (and so splitting) is the same on every run. */
export function fixedIds(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${shaped(prefix)}${i.toString(36).padStart(4, '0')}=`);
}

/** The prefix in the base64 alphabet (as hex), so ids look like API Gateway's: the Management API refuses others with 400. */
function shaped(prefix: string): string {
  return Buffer.from(prefix).toString('hex');
}

/**
 * `count` fixed connection ids whose index buckets are all `minBucket` or above. A job estimates what remains
 * from how many buckets its first page covered; crowded into the last buckets, a channel looks small, so it is
 * paged by one job (and its continuations) instead of being split.
 */
export function idsInTopBuckets(prefix: string, count: number, minBucket: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const id = `${shaped(prefix)}${i.toString(36)}=`;
    if (bucketOf(id) >= minBucket) out.push(id);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// A GRIP backend for the local-mode tests

export interface TestBackend {
  readonly url: string;
  /** The connection id of every accepted connection, by its `tag` query parameter. */
  readonly opened: ReadonlyMap<string, string>;
  stop(): Promise<void>;
}

/**
 * A backend written with the client library. On OPEN it accepts, notes the connection id under the `tag`
 * query parameter, subscribes to every `ch` query parameter, and with `ka=<text>` sets a keep-alive (`kt` seconds, default 1; `km=interval|idle`, default idle). It echoes
 * CLOSE and otherwise replies with nothing.
 */
export async function startTestBackend(): Promise<TestBackend> {
  const opened = new Map<string, string>();
  const server: Server = createServer(
    createNodeHandler(
      async (request) => {
        const read = await readWebSocketRequest(request);
        if (!read.ok) return new Response(`${read.error.message}\n`, { status: 400 });
        const reply = new WebSocketReply();
        if (read.value.isOpening) {
          const params = new URL(request.url).searchParams;
          reply.accept();
          const tag = params.get('tag');
          if (tag !== null) opened.set(tag, read.value.connectionId);
          for (const channel of params.getAll('ch')) reply.subscribe(channel);
          const content = params.get('ka');
          if (content !== null) {
            reply.keepAlive({
              content,
              timeout: Number(params.get('kt') ?? '1'),
              mode: params.get('km') === 'interval' ? 'interval' : 'idle',
            });
          }
        }
        for (const event of read.value.events) if (event.type === 'CLOSE') reply.close(event.code ?? 1000);
        return reply.toResponse();
      },
      { onError: (error) => console.error('test backend failed', error) },
    ),
  );
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    opened,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
