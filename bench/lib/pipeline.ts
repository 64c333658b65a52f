/**
 * The production fan-out path, wired exactly as `src/local/start.ts` wires it: the control API (HTTP,
 * `makeControlHandler`) enqueues a channel job on the FIFO queue (fauxqs); `K` fan-out workers
 * (`createWorkerOn`, each with its own limiter, clients and pollers, like K Lambda containers) consume the
 * same queues through the Lambda event-source emulation, page the channel index (dynalite) and post through a
 * connection gateway. Workers run in the bench process or each in a process of its own (`bench/host.ts`).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient, type QueueAttributeName } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiGatewayConnectionSender, createManagementApiClient } from '#bench/lib/sdk-connection-sender.js';
import { DynamoChannelHistory } from '#src/adapters/dynamo-channel-history.js';
import { DynamoConnectionStore } from '#src/adapters/dynamo-connection-store.js';
import { InMemoryMetrics } from '#src/adapters/observability.js';
import { SignedHttpConnectionSender } from '#src/adapters/signed-http-connection-sender.js';
import { SqsFanoutQueue } from '#src/adapters/sqs-fanout-queue.js';
import { ControlClient } from '#src/client/index.js';
import { connectionsTable, historyTable } from '#src/config/resources.js';
import { loadRuntimeSettings } from '#src/config/settings.js';
import { fanoutConfigFromSettings, type FanoutConfig } from '#src/domain/fanout/worker.js';
import type { ConnectionSender, SendOutcome, Log, MetricName } from '#src/domain/ports.js';
import { makeControlHandler } from '#src/handlers/control.js';
import { createWorkerOn, makeWorkerHandler } from '#src/handlers/fanout-worker.js';
import type { LocalConnections } from '#src/local/connections.js';
import { startControlServer, type LocalControlServer } from '#src/local/control-server.js';
import { InProcessConnectionSender } from '#src/local/in-process-sender.js';
import { startQueuePoller, type QueuePoller } from '#src/local/poller.js';
import { createFanoutQueues, type FanoutQueueUrls } from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#src/local/services.js';
import { Host } from './host-client.js';
import type { CountingLog } from './log.js';

export interface Endpoints {
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  readonly managementApiEndpoint: string;
}

/** How the worker reaches the connections. */
export type GatewayChoice =
  /** What the Lambda functions use: `SignedHttpConnectionSender` (ExecuteApiSigner, our SigV4 signer, on a keep-alive agent). */
  | { readonly kind: 'signed'; readonly maxSockets: number }
  /** The full SDK client: `createManagementApiClient` (keep-alive, `maxSockets`, one attempt) + `ApiGatewayConnectionSender`. */
  | { readonly kind: 'sdk-client'; readonly maxSockets: number }
  /** Local mode's default: in-process, no HTTP. */
  | { readonly kind: 'direct'; readonly connections: LocalConnections };

/** Counters the worker's metrics carry that the benchmarks report. */
export const REPORTED_COUNTERS = [
  'Deliveries',
  'DeliveriesThrottled',
  'DeliveriesRetried',
  'DeliveriesFailed',
  'DeliveriesDeadLettered',
  'JobsSplit',
  'JobsContinued',
] as const satisfies readonly MetricName[];

export interface WorkerOptions {
  readonly endpoints: Endpoints;
  readonly queues: FanoutQueueUrls;
  readonly concurrency: number;
  readonly gateway: GatewayChoice;
  /** Concurrent invocations per queue (local mode's default is 4). */
  readonly pollerConcurrency: number;
  readonly log: Log;
}

/** Calls through a worker's gateway and their summed duration (Little's law gives the mean in flight). */
export interface GatewayTiming {
  calls: number;
  totalMs: number;
}

/** Wraps a gateway to time every call; costs two `performance.now()` per call. */
function timed(gateway: ConnectionSender, timing: GatewayTiming): ConnectionSender {
  const time = async (call: Promise<SendOutcome>, t0: number): Promise<SendOutcome> => {
    try {
      return await call;
    } finally {
      timing.calls++;
      timing.totalMs += performance.now() - t0;
    }
  };
  return {
    post(connectionId, data) {
      const t0 = performance.now();
      return time(gateway.post(connectionId, data), t0);
    },
    close(connectionId, request) {
      const t0 = performance.now();
      return time(gateway.close(connectionId, request), t0);
    },
  };
}

/** One fan-out worker with its own clients, limiter and pollers: a Lambda container's worth. */
export interface RunningWorker {
  readonly metrics: InMemoryMetrics;
  readonly timing: GatewayTiming;
  inFlight(): number;
  stop(): Promise<void>;
}

/** The worker's configuration from the settings' defaults (as local mode and the Lambda get it), with `concurrency`. */
function fanoutConfig(concurrency: number): FanoutConfig {
  return fanoutConfigFromSettings({ ...loadRuntimeSettings({}), fanoutConcurrency: concurrency }, 10_000);
}

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { endpoints, queues, log } = options;
  const stoppers: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s();
  };
  try {
    const metrics = new InMemoryMetrics({ maxSamples: 100 });
    const timing: GatewayTiming = { calls: 0, totalMs: 0 };
    const dynamo = new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const sqs = newSqs(endpoints);
    stoppers.push(() => {
      dynamo.destroy();
      sqs.destroy();
    });
    const store = new DynamoConnectionStore({
      client: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }),
      tableName: connectionsTable.localName,
      log,
    });
    const queue = new SqsFanoutQueue({
      client: sqs,
      orderedQueueUrl: queues.orderedQueueUrl,
      delayedQueueUrl: queues.delayedQueueUrl,
      deadLetterQueueUrl: queues.delayedDeadLetterQueueUrl,
      log,
    });
    const worker = createWorkerOn({
      store,
      history: new DynamoChannelHistory({
        client: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }),
        tableName: historyTable.localName,
      }),
      queue,
      sender: timed(buildGateway(options.gateway, endpoints, stoppers), timing),
      log,
      metrics,
      config: fanoutConfig(options.concurrency),
    });
    const handler = makeWorkerHandler(worker);
    const pollers: QueuePoller[] = [];
    for (const queueUrl of [queues.orderedQueueUrl, queues.delayedQueueUrl]) {
      const poller = await startQueuePoller({
        sqs,
        queueUrl,
        handler,
        batchSize: 10,
        maxConcurrency: options.pollerConcurrency,
        waitTimeSeconds: 20,
        functionTimeoutMs: 60_000,
        log,
      });
      pollers.push(poller);
      stoppers.push(() => poller.stop());
    }
    return { metrics, timing, inFlight: () => pollers.reduce((n, p) => n + p.stats().inFlight, 0), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface PipelineOptions {
  readonly endpoints: Endpoints;
  /** Queue name prefix: each benchmark gets fresh queues, so nothing left by another one can interfere. */
  readonly queuePrefix: string;
  /** Fan-out workers consuming the same queues (K). */
  readonly workers: number;
  /** Run each worker in a process of its own (as K Lambda containers are), instead of in this process. */
  readonly workerProcesses?: boolean;
  readonly concurrency: number;
  readonly gateway: GatewayChoice;
  readonly pollerConcurrency: number;
  readonly log: CountingLog;
}

export interface Pipeline {
  readonly queues: FanoutQueueUrls;
  /** POSTs one GRIP publish to the control API; resolves when it answered 200. */
  publish(channel: string, text: string): Promise<void>;
  /** Whether no job is queued, in flight or delayed anywhere, and no invocation is running. */
  idle(): Promise<boolean>;
  /** Messages in the two dead-letter queues. */
  deadLettered(): Promise<number>;
  /** The workers' counters, summed. */
  counters(): Promise<Record<string, number>>;
  /** CPU (user + system, µs) the worker processes used so far; 0 when the workers run in this process. */
  workerCpuUs(): Promise<number>;
  /** Event-loop idle and active ms of the worker processes so far, summed; zeros when they run in this process. */
  workerLoop(): Promise<{ idle: number; active: number }>;
  /** Gateway calls of the workers in this process so far (worker processes are not timed). */
  gatewayTiming(): GatewayTiming;
  stop(): Promise<void>;
}

const GRIP_KEY = 'bench-key';

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const { endpoints, log } = options;
  const stoppers: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s();
  };
  try {
    const sqs = newSqs(endpoints);
    stoppers.push(() => sqs.destroy());
    const queues = await createFanoutQueues(sqs, { visibilityTimeoutSeconds: 360, maxReceiveCount: 5, namePrefix: options.queuePrefix });
    const metrics = new InMemoryMetrics({ maxSamples: 100 });
    const dynamo = new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    stoppers.push(() => dynamo.destroy());
    const history = new DynamoChannelHistory({ client: DynamoDBDocumentClient.from(dynamo), tableName: historyTable.localName });
    const control = await startControl(sqs, history, queues, log, metrics);
    stoppers.push(() => control.stop());
    const publisher = new ControlClient({ url: control.url, key: GRIP_KEY, iss: 'bench', retry: false });

    const local: RunningWorker[] = [];
    const remote: Host[] = [];
    for (let k = 0; k < options.workers; k++) {
      if (options.workerProcesses) {
        if (options.gateway.kind === 'direct') throw new Error("the direct gateway needs the connections in the worker's own process");
        const host = Host.start();
        stoppers.push(() => host.stop());
        const { kind, maxSockets } = options.gateway;
        await host.call('worker.start', {
          endpoints,
          queues,
          concurrency: options.concurrency,
          gateway: kind,
          maxSockets,
          pollerConcurrency: options.pollerConcurrency,
        });
        remote.push(host);
      } else {
        const worker = await startWorker({
          endpoints,
          queues,
          concurrency: options.concurrency,
          gateway: options.gateway,
          pollerConcurrency: options.pollerConcurrency,
          log,
        });
        stoppers.push(() => worker.stop());
        local.push(worker);
      }
    }

    const count = async (url: string, names: QueueAttributeName[]): Promise<number> => {
      const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names }));
      return names.reduce((n, name) => n + Number(out.Attributes?.[name] ?? '0'), 0);
    };
    const pending: QueueAttributeName[] = [
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateNumberOfMessagesDelayed',
    ];
    const inFlight = async (): Promise<number> => {
      let n = local.reduce((sum, w) => sum + w.inFlight(), 0);
      for (const host of remote) n += (await host.call('worker.stats', null)).inFlight;
      return n;
    };

    return {
      queues,
      async publish(channel, text) {
        await publisher.publish(channel, text);
      },
      async idle() {
        if ((await inFlight()) > 0) return false;
        const waiting = (await count(queues.orderedQueueUrl, pending)) + (await count(queues.delayedQueueUrl, pending));
        return waiting === 0 && (await inFlight()) === 0;
      },
      async deadLettered() {
        const names: QueueAttributeName[] = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'];
        return (await count(queues.orderedDeadLetterQueueUrl, names)) + (await count(queues.delayedDeadLetterQueueUrl, names));
      },
      async counters() {
        const out: Record<string, number> = {};
        const add = (name: string, value: number) => (out[name] = (out[name] ?? 0) + value);
        for (const w of local) for (const name of REPORTED_COUNTERS) add(name, w.metrics.counter(name));
        for (const host of remote)
          for (const [name, value] of Object.entries((await host.call('worker.stats', null)).counters)) add(name, value);
        return out;
      },
      async workerCpuUs() {
        let total = 0;
        for (const host of remote) {
          const cpu = await host.call('cpu', null);
          total += cpu.user + cpu.system;
        }
        return total;
      },
      gatewayTiming() {
        return { calls: local.reduce((n, w) => n + w.timing.calls, 0), totalMs: local.reduce((n, w) => n + w.timing.totalMs, 0) };
      },
      async workerLoop() {
        const total = { idle: 0, active: 0 };
        for (const host of remote) {
          const { loop } = await host.call('worker.stats', null);
          total.idle += loop.idle;
          total.active += loop.active;
        }
        return total;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

function newSqs(endpoints: Endpoints): SQSClient {
  return new SQSClient({ endpoint: endpoints.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

function buildGateway(choice: GatewayChoice, endpoints: Endpoints, stoppers: (() => Promise<void> | void)[]): ConnectionSender {
  switch (choice.kind) {
    case 'direct':
      return new InProcessConnectionSender(choice.connections);
    case 'signed': {
      const gateway = new SignedHttpConnectionSender({
        endpoint: endpoints.managementApiEndpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        maxSockets: choice.maxSockets,
      });
      stoppers.push(() => gateway.destroy());
      return gateway;
    }
    case 'sdk-client': {
      const client: ApiGatewayManagementApiClient = createManagementApiClient({
        endpoint: endpoints.managementApiEndpoint,
        region: LOCAL_REGION,
        maxSockets: choice.maxSockets,
        credentials: LOCAL_CREDENTIALS,
      });
      stoppers.push(() => client.destroy());
      return new ApiGatewayConnectionSender({ client });
    }
  }
}

async function startControl(
  sqs: SQSClient,
  history: DynamoChannelHistory,
  queues: FanoutQueueUrls,
  log: CountingLog,
  metrics: InMemoryMetrics,
): Promise<LocalControlServer> {
  const queue = new SqsFanoutQueue({ client: sqs, orderedQueueUrl: queues.orderedQueueUrl, delayedQueueUrl: queues.delayedQueueUrl, log });
  const handler = makeControlHandler({ queue, history, clock: Date.now, log, metrics, newId: randomUUID, config: { key: GRIP_KEY } });
  return startControlServer({ handler, host: '127.0.0.1', port: 0, log });
}
