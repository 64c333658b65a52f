/**
 * The AWS composition root: reads the function's environment once (at cold start), reads the GRIP key from
 * Secrets Manager, creates one SDK client per service per container, and wires the same handlers and adapters
 * local mode uses. Each Lambda entry file calls one builder here at module load (top-level await).
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { DynamoConnectionStore } from '../../adapters/dynamo-connection-store.js';
import { FetchBackendClient } from '../../adapters/fetch-backend-client.js';
import { CachingGripSigner } from '../../adapters/grip-signer.js';
import { PowertoolsLog, PowertoolsMetrics } from '../../adapters/observability.js';
import { SignedHttpConnectionSender } from '../../adapters/signed-http-connection-sender.js';
import { readSecretString } from '../../adapters/secrets.js';
import { SqsFanoutQueue } from '../../adapters/sqs-fanout-queue.js';
import {
  backendSettings,
  fromEnvironment,
  readSettings,
  runtimeSettings,
  SettingError,
  type RuntimeSettings,
} from '../../config/settings.js';
import { fanoutConfigFromSettings } from '../../domain/fanout/worker.js';
import type { ConnectionSender, FanoutQueue, Log, QueueEntry, QueueError } from '../../domain/ports.js';
import { err, type Result } from '../../domain/result.js';
import type { ControlHandler, WebSocketRouteHandlers, WorkerHandler } from '../aws-events.js';
import { makeControlHandler } from '../control.js';
import { createWorkerOn, makeWorkerHandler } from '../fanout-worker.js';
import { makeWebSocketHandlers } from '../ws.js';

const httpUrl = z.string().refine((u) => URL.canParse(u) && ['http:', 'https:'].includes(new URL(u).protocol), 'must be an http(s) URL');
const resourceSchema = z.object({
  AWS_REGION: z.string().min(1).optional(),
  TABLE_NAME: z.string().min(1).optional(),
  // Queue URLs are opaque to us (fauxqs's are not even valid WHATWG URLs); SQS checks them.
  ORDERED_QUEUE_URL: z.string().min(1).optional(),
  DELAYED_QUEUE_URL: z.string().min(1).optional(),
  DELAYED_DLQ_URL: z.string().min(1).optional(),
  MANAGEMENT_API_ENDPOINT: httpUrl.optional(),
  GRIP_KEY_SECRET_ARN: z.string().min(1).optional(),
});

export type AwsEnvironment = z.infer<typeof resourceSchema> & { readonly settings: RuntimeSettings };

/** Reads and checks the environment once. @throws SettingError naming the variable. */
export function loadAwsEnvironment(env: Readonly<Record<string, string | undefined>>): AwsEnvironment {
  const parsed = resourceSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SettingError(`${String(issue?.path[0] ?? 'environment')}: ${issue?.message ?? 'invalid'}`);
  }
  return { ...parsed.data, settings: readSettings(runtimeSettings, fromEnvironment(env)) };
}

function need<K extends keyof AwsEnvironment>(env: AwsEnvironment, name: K): NonNullable<AwsEnvironment[K]> {
  const value = env[name];
  if (value === undefined || value === null) throw new SettingError(`${String(name)} is not set; this function needs it`);
  return value as NonNullable<AwsEnvironment[K]>;
}

interface Basics {
  readonly env: AwsEnvironment;
  readonly log: PowertoolsLog;
  readonly metrics: PowertoolsMetrics;
  readonly flush: () => void;
}

function basics(environment: Readonly<Record<string, string | undefined>>): Basics {
  const env = loadAwsEnvironment(environment);
  const log = new PowertoolsLog({ level: env.settings.logLevel });
  const metrics = new PowertoolsMetrics();
  return { env, log, metrics, flush: () => metrics.flush() };
}

async function gripKey(env: AwsEnvironment): Promise<string> {
  const client = new SecretsManagerClient({});
  try {
    return await readSecretString(client, need(env, 'GRIP_KEY_SECRET_ARN'));
  } finally {
    client.destroy();
  }
}

function documentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * The queue as a function with only the ordered lane sees it (the stack grants each function only the queues it
 * uses): entries for a lane it has no URL for fail with a value naming the variable, never a throw.
 */
function fanoutQueue(env: AwsEnvironment, sqs: SQSClient, log: Log): FanoutQueue {
  const ordered = env.ORDERED_QUEUE_URL;
  const delayed = env.DELAYED_QUEUE_URL;
  if (ordered !== undefined && delayed !== undefined) {
    return new SqsFanoutQueue({
      client: sqs,
      orderedQueueUrl: ordered,
      delayedQueueUrl: delayed,
      ...(env.DELAYED_DLQ_URL ? { deadLetterQueueUrl: env.DELAYED_DLQ_URL } : {}),
      log,
    });
  }
  const inner = ordered !== undefined ? new SqsFanoutQueue({ client: sqs, orderedQueueUrl: ordered, delayedQueueUrl: ordered, log }) : null;
  return {
    async enqueue(entries: readonly QueueEntry[]): Promise<Result<void, QueueError>> {
      const notConfigured = (name: string) => err<QueueError>({ kind: 'invalid', message: `${name} is not configured for this function` });
      if (entries.some((e) => e.delaySeconds !== undefined)) return notConfigured('DELAYED_QUEUE_URL');
      return inner === null ? notConfigured('ORDERED_QUEUE_URL') : inner.enqueue(entries);
    },
  };
}

/** Functions without `MANAGEMENT_API_ENDPOINT` may not touch connections; say so instead of failing obscurely. */
const noConnectionAccess: ConnectionSender = {
  post: () => Promise.resolve({ kind: 'failed', retryable: false, message: 'MANAGEMENT_API_ENDPOINT is not configured for this function' }),
  close: () =>
    Promise.resolve({ kind: 'failed', retryable: false, message: 'MANAGEMENT_API_ENDPOINT is not configured for this function' }),
};

function connectionSender(env: AwsEnvironment, maxSockets: number): ConnectionSender {
  if (env.MANAGEMENT_API_ENDPOINT === undefined) return noConnectionAccess;
  // SigV4 signing (ExecuteApiSigner) on a keep-alive agent, without the SDK client's middleware stack: a fraction
  // of the full SDK client's CPU per call (npm run bench, benchmark 2), and CPU is what bounds a fan-out worker.
  // The credential provider reads the function's role credentials and refreshes them before they expire.
  return new SignedHttpConnectionSender({
    endpoint: env.MANAGEMENT_API_ENDPOINT,
    region: need(env, 'AWS_REGION'),
    credentials: defaultProvider(),
    maxSockets: Math.max(maxSockets, 8),
  });
}

/** `ws-connect`, `ws-message`, `ws-disconnect`. */
export async function webSocketRuntime(environment: Readonly<Record<string, string | undefined>>): Promise<WebSocketRouteHandlers> {
  const { env, log, metrics, flush } = basics(environment);
  const backend = readSettings(backendSettings, fromEnvironment(environment), ['targetUrl']);
  const key = await gripKey(env);
  const store = new DynamoConnectionStore({ client: documentClient(), tableName: need(env, 'TABLE_NAME'), log });
  return makeWebSocketHandlers(
    {
      connections: store,
      subscriptions: store,
      queue: fanoutQueue(env, new SQSClient({}), log),
      sender: connectionSender(env, 8),
      backend: new FetchBackendClient({ timeoutMs: env.settings.backendTimeoutMs }),
      signer: new CachingGripSigner({ key, iss: backend.gripIss, clock: Date.now }),
      clock: Date.now,
      log,
      metrics,
      config: {
        targetUrl: backend.targetUrl,
        maxSubscriptionsPerConnection: env.settings.maxSubscriptionsPerConnection,
        openGraceMs: env.settings.openGraceMs,
      },
    },
    flush,
  );
}

/** `control`: the GRIP control API. */
export async function controlRuntime(environment: Readonly<Record<string, string | undefined>>): Promise<ControlHandler> {
  const { env, log, metrics, flush } = basics(environment);
  const key = await gripKey(env);
  return makeControlHandler(
    { queue: fanoutQueue(env, new SQSClient({}), log), clock: Date.now, log, metrics, newId: randomUUID, config: { key } },
    flush,
  );
}

/** `fanout-worker`: consumes both queues. */
export function workerRuntime(environment: Readonly<Record<string, string | undefined>>): WorkerHandler {
  const { env, log, metrics, flush } = basics(environment);
  const store = new DynamoConnectionStore({ client: documentClient(), tableName: need(env, 'TABLE_NAME'), log });
  const queue = new SqsFanoutQueue({
    client: new SQSClient({}),
    orderedQueueUrl: need(env, 'ORDERED_QUEUE_URL'),
    delayedQueueUrl: need(env, 'DELAYED_QUEUE_URL'),
    deadLetterQueueUrl: need(env, 'DELAYED_DLQ_URL'),
    log,
  });
  const settings = env.settings;
  const worker = createWorkerOn({
    store,
    queue,
    sender: connectionSender(env, settings.fanoutConcurrency),
    log,
    metrics,
    // Hand over the continuation with a margin for the page in flight and the queue call.
    config: fanoutConfigFromSettings(settings, 10_000),
  });
  return makeWorkerHandler(worker, flush);
}
