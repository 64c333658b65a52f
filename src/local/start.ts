import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoChannelHistory } from '../adapters/dynamo-channel-history.js';
import { SqsClientMessageLane } from '../adapters/sqs-client-message-lane.js';
import { DynamoConnectionStore } from '../adapters/dynamo-connection-store.js';
import { HeaderSealer } from '../adapters/header-sealing.js';
import { ConsoleLog, InMemoryMetrics } from '../adapters/observability.js';
import { SignedHttpConnectionSender } from '../adapters/signed-http-connection-sender.js';
import { SqsFanoutQueue } from '../adapters/sqs-fanout-queue.js';
import { connectionsTable, historyTable } from '../config/resources.js';
import {
  backendSettings,
  loadRuntimeSettings,
  localSettings,
  runtimeSettings,
  type LocalSettings,
  type RuntimeSettings,
} from '../config/settings.js';
import type { HandlerName } from '../config/functions.js';
import type { ConnectionSender, Log } from '../domain/ports.js';
import { composeControl } from '../functions/control.js';
import { composeFanoutWorker } from '../functions/fanout-worker.js';
import { grantedResources, type AvailableResources, type FunctionBasics, type FunctionResources } from '../functions/resources.js';
import { composeShutdown, composeWsConnect, composeWsDisconnect, composeWsMessage } from '../functions/websocket.js';
import { startControlServer, type LocalControlServer } from './control-server.js';
import { InProcessConnectionSender } from './in-process-sender.js';
import { startChatBackend, type ChatBackend } from './example/chat.js';
import { ConnectionRegistry } from './connections.js';
import { bindLocalGateway, type LocalGateway } from './gateway.js';
import { describeError, QuietableLog } from './log.js';
import { startManagementApi, type ManagementApi, type ManagementApiTuning } from './management-api.js';
import { startQueuePoller, type QueuePoller } from './poller.js';
import {
  createClientMessageQueue,
  createConnectionsTable,
  createFanoutQueues,
  createHistoryTable,
  type FanoutQueueUrls,
} from './provision.js';
import { LOCAL_REGION, localClientConfig, startLocalAwsServices, type LocalAwsServices } from './services.js';
import { randomCredentials } from './sigv4-verify.js';
import type { AwsCredentialIdentity } from '@smithy/types';
import { startSweeper, type Sweeper } from './sweeper.js';

/**
 * How fan-out reaches the clients in local mode: `direct` calls the local gateway in-process (fast, and it can
 * send close codes); `management-api` goes through the local API Gateway Management API over HTTP with SigV4
 * signing, exactly as the Lambda functions do on AWS (slower: ~0.1–0.2 ms of CPU per call).
 */
export type LocalDelivery = LocalSettings['delivery'];

export interface LocalOptions {
  readonly host?: string;
  /** WebSocket port. Default 8080; 0 picks a free one. */
  readonly wsPort?: number;
  /** Control API port. Default 5561 (Pushpin's), so existing `GRIP_URL`s carry over; 0 picks a free one. */
  readonly controlPort?: number;
  /** The backend. Absent: the bundled example chat backend is started and used. */
  readonly targetUrl?: string;
  /** Port of the example chat backend. Default 8081; 0 picks a free one. */
  readonly examplePort?: number;
  /** The shared GRIP key. Absent: a random development key is generated. */
  readonly gripKey?: string;
  /** `iss` of the `Grip-Sig` tokens. Default `pushpin`, what Pushpin sends, so existing backends verify them. */
  readonly gripIss?: string;
  readonly settings?: Partial<RuntimeSettings>;
  readonly delivery?: LocalDelivery;
  /** Latency, rate limit and faults of the local Management API (benchmarks, fault tests). */
  readonly managementApi?: ManagementApiTuning;
  readonly gateway?: { readonly idleTimeoutMs?: number; readonly maxLifetimeMs?: number };
  /** Per-connection fair share and the control server's timeouts and cap (local settings; defaults there). */
  readonly limits?: Partial<
    Pick<
      LocalSettings,
      'clientMessageConcurrency' | 'clientMessageRate' | 'controlHeadersTimeoutMs' | 'controlRequestTimeoutMs' | 'controlMaxConnections'
    >
  >;
  readonly worker?: {
    /** Records per invocation (the FIFO queue's event source allows 10). Default 10. */
    readonly batchSize?: number;
    /** Concurrent invocations per queue. Default 4. */
    readonly maxConcurrency?: number;
    /** Long-poll wait, seconds. Default 20 (what Lambda uses); tests use 1 so they stop fast. */
    readonly waitTimeSeconds?: number;
    /** Invocation time limit, as the function timeout. Default 60,000. */
    readonly functionTimeoutMs?: number;
    /** Default: 6 × the function timeout, as on AWS. */
    readonly visibilityTimeoutSeconds?: number;
    /** Receives before a message moves to its dead-letter queue. Default 5. */
    readonly maxReceiveCount?: number;
    /** Invocation time kept in reserve for handing over a continuation. Default 10,000. */
    readonly reserveMs?: number;
    /** Concurrent invocations of the client-message lane's consumer (connections forwarded at once). Default 8. */
    readonly laneConcurrency?: number;
  };
  /** How often expired items are deleted (dynalite has no TTL). Default 60,000. */
  readonly sweepIntervalMs?: number;
  /** Keep DynamoDB data in this directory instead of memory. */
  readonly dataDir?: string;
  readonly log?: Log;
  /** How long `stop()` spends on clients' `$disconnect`s before dropping the rest. Default 4.6 s. */
  readonly stopBudgetMs?: number;
}

export interface LocalStack {
  readonly wsUrl: string;
  readonly controlUrl: string;
  readonly targetUrl: string;
  /** The example chat backend's URL (open it in a browser), when it runs. */
  readonly exampleUrl: string | null;
  readonly gripKey: string;
  readonly gripKeyGenerated: boolean;
  readonly gripIss: string;
  readonly managementApiEndpoint: string;
  /** The only key pair the Management API accepts, generated for this run (for workers in other processes). */
  readonly managementApiCredentials: AwsCredentialIdentity;
  /** `unix:` socket paths in a directory only this user can enter: build clients with `localClientConfig`. */
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  readonly queues: FanoutQueueUrls;
  readonly delivery: LocalDelivery;
  readonly settings: RuntimeSettings;
  readonly metrics: InMemoryMetrics;
  readonly gateway: LocalGateway;
  readonly managementApi: ManagementApi;
  readonly pollers: { readonly ordered: QueuePoller; readonly delayed: QueuePoller; readonly lane: QueuePoller };
  readonly sweeper: Sweeper;
  readonly clients: { readonly dynamo: DynamoDBClient; readonly sqs: SQSClient };
  /**
   * Stops in the order that loses nothing: stop accepting (gateway and control API), close every client and tell
   * the backend while it still runs, then the bundled backend, the workers, and last the queues and the store.
   * Resolves with what it did, for the one line `npm start` prints.
   */
  stop(): Promise<StopSummary>;
}

export interface StopSummary {
  /** Clients that were connected when the stop began. */
  readonly clients: number;
  /** `$disconnect`s whose backend call failed during the stop. */
  readonly backendNotTold: number;
  /** `$disconnect`s not run at all: the stop's budget ran out first. */
  readonly disconnectsDropped: number;
  readonly milliseconds: number;
}

/**
 * How long the stop spends closing clients and telling the backend about them (in batches as they close: one store
 * read per 100, one backend request each); what is left after it is dropped and counted. The rest of the stop (the
 * bundled backend, the workers, the queues and the store) takes tens of milliseconds, so Ctrl-C ends within 5 s.
 */
const STOP_BUDGET_MS = 4_600;

function defaultSettings(overrides: Partial<RuntimeSettings> = {}): RuntimeSettings {
  // No variables set: every setting takes its default from the shared table.
  return { ...loadRuntimeSettings({}), ...overrides };
}

/**
 * Runs the whole channel server on this machine: dynalite and fauxqs (real AWS APIs, in-process), the local
 * WebSocket gateway and Management API, the control API, and the fan-out worker polling both queues — each
 * function built by the same composition function its Lambda entry calls (`src/functions/`), from the adapters
 * this process shares. Resolves when everything listens.
 *
 * @example
 * const stack = await startLocal({ wsPort: 0, controlPort: 0, examplePort: 0 });
 * // ws clients → stack.wsUrl; publishers → stack.controlUrl with stack.gripKey
 * await stack.stop();
 */
export async function startLocal(options: LocalOptions = {}): Promise<LocalStack> {
  const host = options.host ?? '127.0.0.1';
  const log = new QuietableLog(options.log ?? new ConsoleLog({ level: options.settings?.logLevel ?? runtimeSettings.logLevel.default }));
  const settings = defaultSettings(options.settings);
  const gripKeyGenerated = options.gripKey === undefined;
  const gripKey = options.gripKey ?? randomBytes(24).toString('base64url');
  const gripIss = options.gripIss ?? backendSettings.gripIss.default;
  const delivery = options.delivery ?? localSettings.delivery.default;
  const functionTimeoutMs = options.worker?.functionTimeoutMs ?? 60_000;
  const metrics = new InMemoryMetrics();
  const clock = Date.now;

  const stoppers: (() => Promise<void>)[] = [];
  // The gateway stops first, whatever the start order: its clients' $disconnects must reach a backend that is
  // still up (the bundled one starts after it).
  let stopGateway: (() => Promise<void>) | null = null;
  let disconnectsDropped = 0;
  let stopWorkers: (() => Promise<void>) | null = null;
  const stopAll = async () => {
    const first = [stopWorkers, stopGateway].filter((stop) => stop !== null);
    for (const stop of [...first, ...stoppers.reverse()]) {
      try {
        await stop();
      } catch (e) {
        log.warn('error while stopping local mode', { error: describeError(e) });
      }
    }
  };
  try {
    const services: LocalAwsServices = await startLocalAwsServices({
      host,
      privateSockets: true,
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    });
    stoppers.push(() => services.stop());
    // One process runs every function locally: a mass disconnect is hundreds of concurrent store calls, more than
    // the SDK's default 50 sockets. Past 256 they queue on purpose (dynalite runs in this same process, so more
    // sockets would not make it faster).
    const dynamo = new DynamoDBClient(localClientConfig(services.dynamoEndpoint, { maxSockets: 256 }));
    const documents = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
    const sqs = new SQSClient(localClientConfig(services.sqsEndpoint));
    stoppers.push(async () => {
      dynamo.destroy();
      sqs.destroy();
    });
    await createConnectionsTable(dynamo);
    await createHistoryTable(dynamo);
    const queueOptions = {
      visibilityTimeoutSeconds: options.worker?.visibilityTimeoutSeconds ?? Math.ceil((6 * functionTimeoutMs) / 1000),
      maxReceiveCount: options.worker?.maxReceiveCount ?? 5,
    };
    const queues = await createFanoutQueues(sqs, queueOptions);
    const clientMessagesQueueUrl = await createClientMessageQueue(sqs, queueOptions);

    // The live connections first: the senders and the Management API deliver through them, so the handlers can be
    // complete before the gateway serves.
    const connections = new ConnectionRegistry();
    // A key pair for this run only: the Management API accepts no other signature.
    const managementApiCredentials = randomCredentials();
    const managementApi = await startManagementApi({
      connections,
      credentials: managementApiCredentials,
      host,
      port: 0,
      stage: 'local',
      log,
      ...options.managementApi,
    });
    stoppers.push(() => managementApi.stop());

    let connectionSender: ConnectionSender;
    if (delivery === 'direct') {
      connectionSender = new InProcessConnectionSender(connections);
    } else {
      // Exactly what the Lambda functions use on AWS: SigV4-signed calls to the Management API over HTTP.
      const signed = new SignedHttpConnectionSender({
        endpoint: managementApi.endpoint,
        region: LOCAL_REGION,
        credentials: managementApiCredentials,
        maxSockets: Math.max(50, settings.fanoutConcurrency),
      });
      stoppers.push(async () => signed.destroy());
      connectionSender = signed;
    }
    const store = new DynamoConnectionStore({
      client: documents,
      tableName: connectionsTable.localName,
      clock,
      log,
      sealer: new HeaderSealer(gripKey),
    });
    const queue = new SqsFanoutQueue({
      client: sqs,
      orderedQueueUrl: queues.orderedQueueUrl,
      delayedQueueUrl: queues.delayedQueueUrl,
      deadLetterQueueUrl: queues.delayedDeadLetterQueueUrl,
      log,
    });

    // Every function gets what its row of handlerAccess grants, from the adapters this process shares, through the
    // same composition functions the Lambda entries call. The backend is added once the example (if any) runs.
    const basics: FunctionBasics = { settings, log, metrics, clock, afterEach: () => {} };
    const shared: AvailableResources = {
      store,
      history: new DynamoChannelHistory({ client: documents, tableName: historyTable.localName }),
      queue,
      lane: new SqsClientMessageLane({ client: sqs, queueUrl: clientMessagesQueueUrl }),
      sender: connectionSender,
      gripKey,
      gripSigIssuer: gripIss,
    };
    const resources = <N extends HandlerName>(name: N): FunctionResources<N> => grantedResources(name, basics, shared);

    const control: LocalControlServer = await startControlServer({
      handler: composeControl(resources('control')),
      host,
      port: options.controlPort ?? localSettings.controlPort.default,
      log,
      limits: {
        headersTimeoutMs: options.limits?.controlHeadersTimeoutMs ?? localSettings.controlHeadersTimeoutMs.default,
        requestTimeoutMs: options.limits?.controlRequestTimeoutMs ?? localSettings.controlRequestTimeoutMs.default,
        maxConnections: options.limits?.controlMaxConnections ?? localSettings.controlMaxConnections.default,
      },
    });
    stoppers.push(() => control.stop());

    // Bound before it serves: the example backend's page needs the gateway's URL, and the handlers need the
    // backend's. Upgrade requests in between wait.
    const boundGateway = await bindLocalGateway({ host, port: options.wsPort ?? localSettings.wsPort.default, log });
    let gateway: LocalGateway | null = null;
    stopGateway = async () => {
      if (gateway === null) return boundGateway.close();
      ({ disconnectsDropped } = await gateway.stop({ budgetMs: options.stopBudgetMs ?? STOP_BUDGET_MS }));
    };

    let example: ChatBackend | null = null;
    if (options.targetUrl === undefined) {
      example = await startChatBackend({
        key: gripKey,
        controlUrl: control.url,
        websocketUrl: boundGateway.url,
        host,
        port: options.examplePort ?? localSettings.examplePort.default,
        log: (line) => log.info(line),
      });
      stoppers.push(() => example?.stop() ?? Promise.resolve());
    }
    const targetUrl = options.targetUrl ?? `${example?.url ?? ''}/`;

    shared.backend = { targetUrl, gripIss };
    // The stop tells the backend about every client in one pass (a $disconnect each would not fit its budget).
    const wsMessage = composeWsMessage(resources('ws-message'));
    const shutdown = composeShutdown({ ...resources('ws-disconnect'), lookup: store }, options.stopBudgetMs ?? STOP_BUDGET_MS);
    gateway = boundGateway.serve({
      handlers: {
        connect: composeWsConnect(resources('ws-connect')),
        message: wsMessage.route,
        disconnect: composeWsDisconnect(resources('ws-disconnect')),
      },
      connections,
      ...(options.gateway?.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.gateway.idleTimeoutMs } : {}),
      ...(options.gateway?.maxLifetimeMs !== undefined ? { maxLifetimeMs: options.gateway.maxLifetimeMs } : {}),
      onShutdown: (closes, deadline) => shutdown(closes, deadline),
      clientMessages: {
        // Ordered: a connection's $default invocations (which only queue the message) start and finish one after
        // another, so the lane gets them in arrival order.
        concurrency:
          settings.clientMessages === 'ordered'
            ? 1
            : (options.limits?.clientMessageConcurrency ?? localSettings.clientMessageConcurrency.default),
        ratePerSecond: options.limits?.clientMessageRate ?? localSettings.clientMessageRate.default,
      },
    });

    const workerHandler = composeFanoutWorker(
      resources('fanout-worker'),
      options.worker?.reserveMs !== undefined ? { reserveMs: options.worker.reserveMs } : {},
    );
    const pollerOptions = {
      sqs,
      handler: workerHandler,
      batchSize: options.worker?.batchSize ?? 10,
      maxConcurrency: options.worker?.maxConcurrency ?? 4,
      waitTimeSeconds: options.worker?.waitTimeSeconds ?? 20,
      functionTimeoutMs,
      log,
    };
    const ordered = await startQueuePoller({ ...pollerOptions, queueUrl: queues.orderedQueueUrl });
    const delayed = await startQueuePoller({ ...pollerOptions, queueUrl: queues.delayedQueueUrl });
    // The ordered lane of client messages, consumed by ws-message as on AWS (ws-message's timeout; FIFO batches of 10).
    const lane = await startQueuePoller({
      ...pollerOptions,
      handler: wsMessage.lane,
      queueUrl: clientMessagesQueueUrl,
      maxConcurrency: options.worker?.laneConcurrency ?? 8,
    });
    const sweeper = startSweeper({ ddb: documents, intervalMs: options.sweepIntervalMs ?? 60_000, log });
    const historySweeper = startSweeper({
      ddb: documents,
      tableName: historyTable.localName,
      keys: historyTable,
      intervalMs: options.sweepIntervalMs ?? 60_000,
      log,
    });
    // The workers stop before the gateway: every client is about to be closed, so delivering to them would only
    // compete with their $disconnects; what is still queued stays in the queues.
    stopWorkers = () => Promise.all([ordered.stop(), delayed.stop(), lane.stop(), sweeper.stop(), historySweeper.stop()]).then(() => {});

    return {
      wsUrl: gateway.url,
      controlUrl: control.url,
      targetUrl,
      exampleUrl: example?.url ?? null,
      gripKey,
      gripKeyGenerated,
      gripIss,
      managementApiEndpoint: managementApi.endpoint,
      managementApiCredentials,
      dynamoEndpoint: services.dynamoEndpoint,
      sqsEndpoint: services.sqsEndpoint,
      queues,
      delivery,
      settings,
      metrics,
      gateway,
      managementApi,
      pollers: { ordered, delayed, lane },
      sweeper,
      clients: { dynamo, sqs },
      async stop() {
        const started = Date.now();
        const clients = connections.count;
        const backendErrorsBefore = metrics.counter('BackendErrors');
        log.quiet();
        await stopAll();
        return {
          clients,
          backendNotTold: metrics.counter('BackendErrors') - backendErrorsBefore,
          disconnectsDropped,
          milliseconds: Date.now() - started,
        };
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
