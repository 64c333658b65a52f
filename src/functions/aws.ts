/**
 * The Lambda platform: a function's resources from its environment, read once at cold start. Only what the
 * function's row of `handlerAccess` grants is read and built (its environment holds nothing else): one SDK client
 * per service per container, the GRIP key from Secrets Manager, and the Management API through
 * `SignedHttpConnectionSender`. Each Lambda entry passes the result to its composition function.
 *
 * @example
 * // src/handlers/aws/control.ts
 * export const handler = composeControl(await awsResources('control', process.env));
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoChannelHistory } from '../adapters/dynamo-channel-history.js';
import { SqsClientMessageLane } from '../adapters/sqs-client-message-lane.js';
import { DynamoConnectionStore } from '../adapters/dynamo-connection-store.js';
import { HeaderSealer } from '../adapters/header-sealing.js';
import { PowertoolsLog, PowertoolsMetrics } from '../adapters/observability.js';
import { readSecretString } from '../adapters/secrets.js';
import { SignedHttpConnectionSender } from '../adapters/signed-http-connection-sender.js';
import { SqsFanoutQueue } from '../adapters/sqs-fanout-queue.js';
import { handlerAccess, resourceSettings, resourcesOf, type HandlerAccess, type HandlerName } from '../config/functions.js';
import {
  backendSettings,
  fromEnvironment,
  loadRuntimeSettings,
  missingSetting,
  readSettings,
  type SettingTable,
} from '../config/settings.js';
import { grantedResources, type AvailableResources, type FunctionResources } from './resources.js';

type Environment = Readonly<Record<string, string | undefined>>;

/** Set by Lambda itself; the signed Management API requests need it. */
const lambdaSettings = {
  region: {
    type: 'string',
    env: 'AWS_REGION',
    pattern: /^[a-z]{2}(-[a-z]+)+-\d+$/,
    allowed: 'an AWS Region',
    description: 'The Region the function runs in (set by Lambda).',
  },
} as const satisfies SettingTable;

/**
 * Reads function `name`'s settings and resource names from `environment` and builds the resources it is granted.
 *
 * @throws SettingError naming the first missing or invalid variable: the function cannot start.
 */
export async function awsResources<N extends HandlerName>(name: N, environment: Environment): Promise<FunctionResources<N>> {
  const access: HandlerAccess = handlerAccess[name];
  const settings = loadRuntimeSettings(environment);
  // The resource variables this function's access grants, and no others; each of them must be set.
  const granted = resourcesOf(access).map((r) => [r, resourceSettings[r]] as const);
  const source = fromEnvironment(
    environment,
    granted.map(([, setting]) => setting),
  );
  const names = readSettings(resourceSettings, source);
  for (const [r, setting] of granted) if (names[r] === undefined) throw missingSetting(r, setting, source(setting));
  const backend = access.backend ? readSettings(backendSettings, fromEnvironment(environment), ['targetUrl']) : undefined;
  const region = access.manageConnections ? readSettings(lambdaSettings, fromEnvironment(environment), ['region']).region : undefined;

  // Every setting is read; now the adapters, only the granted ones.
  const log = new PowertoolsLog({ level: settings.logLevel });
  const metrics = new PowertoolsMetrics();
  const available: AvailableResources = {};
  if (backend !== undefined) available.backend = backend;
  if (access.gripSigIssuer) available.gripSigIssuer = readSettings(backendSettings, fromEnvironment(environment)).gripIss;
  if (names.gripKeySecretArn !== undefined) available.gripKey = await readGripKey(names.gripKeySecretArn);
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  if (names.historyTableName !== undefined)
    available.history = new DynamoChannelHistory({ client: documents, tableName: names.historyTableName });
  if (names.tableName !== undefined) {
    // Functions that hold the GRIP key store and replay handshakes: their credential headers are sealed at rest.
    const sealer = available.gripKey !== undefined ? { sealer: new HeaderSealer(available.gripKey) } : {};
    available.store = new DynamoConnectionStore({ client: documents, tableName: names.tableName, log, ...sealer });
  }
  if (access.sendTo !== undefined) {
    available.queue = new SqsFanoutQueue({
      // The queue URLs come from the stack, whose region the client resolves too: no reason to let a URL pick the host.
      client: new SQSClient({ useQueueUrlAsEndpoint: false }),
      ...(names.orderedQueueUrl !== undefined ? { orderedQueueUrl: names.orderedQueueUrl } : {}),
      ...(names.delayedQueueUrl !== undefined ? { delayedQueueUrl: names.delayedQueueUrl } : {}),
      ...(names.delayedDeadLetterQueueUrl !== undefined ? { deadLetterQueueUrl: names.delayedDeadLetterQueueUrl } : {}),
      log,
    });
  }
  if (names.clientMessagesQueueUrl !== undefined) {
    available.lane = new SqsClientMessageLane({
      client: new SQSClient({ useQueueUrlAsEndpoint: false }),
      queueUrl: names.clientMessagesQueueUrl,
    });
  }
  if (names.managementApiEndpoint !== undefined && region !== undefined) {
    // SigV4 signing (ExecuteApiSigner) on a keep-alive agent, without the SDK client's middleware stack: a fraction
    // of the full SDK client's CPU per call (npm run bench, benchmark 2), and CPU is what bounds a fan-out worker.
    // The credential provider reads the function's role credentials and refreshes them before they expire.
    available.sender = new SignedHttpConnectionSender({
      endpoint: names.managementApiEndpoint,
      region,
      credentials: defaultProvider(),
      maxSockets: Math.max(settings.fanoutConcurrency, 8),
    });
  }
  return grantedResources(name, { settings, log, metrics, clock: Date.now, afterEach: () => metrics.flush() }, available);
}

async function readGripKey(secretArn: string): Promise<string> {
  const client = new SecretsManagerClient({});
  try {
    return await readSecretString(client, secretArn);
  } finally {
    client.destroy();
  }
}
