import { readFileSync } from 'node:fs';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceByPrefix, projectRoot, synthesize, type CfnResourceJson, type Synthesized } from './support.js';

/** Non-default values throughout, so every assertion below proves the value follows the context. */
const context = {
  targetUrl: 'https://backend.example.com/ws',
  workerBatchSize: 7,
  workerMaxConcurrency: 42,
  // 2 lanes × 42 × 250 in flight + the stage bursts (600, 80) fit a raised quota's burst of 25,000.
  accountRequestQuota: 50_000,
  workerBatchingWindowSeconds: 3,
  workerTimeoutSeconds: 90,
  workerMemoryMb: 3008,
  maxReceiveCount: 8,
  stageRateLimit: 300,
  stageBurstLimit: 600,
  controlRateLimit: 40,
  controlBurstLimit: 80,
  queueAgeAlarmSeconds: 600,
  backendErrorRatePercent: 7,
  alarmEmail: 'ops@example.com',
  logRetentionDays: 14,
  fanoutConcurrency: 250,
  handlerMemoryMb: 1024,
  backendTimeoutMs: 20_000,
  gripIss: 'my-iss',
  logLevel: 'debug',
  stackName: 'GripStaging',
  apiGatewayCloudWatchRole: true,
};

const functions = ['WsConnect', 'WsMessage', 'WsDisconnect', 'Control', 'FanoutWorker'] as const;
type FunctionName = (typeof functions)[number];

let synth: Synthesized;
let template: Template;
let resources: Record<string, CfnResourceJson>;

beforeAll(() => {
  synth = synthesize(context);
  template = synth.template;
  resources = template.toJSON().Resources as Record<string, CfnResourceJson>;
});
afterAll(() => synth.dispose());

const fn = (name: FunctionName) => resourceByPrefix(template, 'AWS::Lambda::Function', `Handlers${name}Function`);
const idOf = (type: string, prefix: string) => resourceByPrefix(template, type, prefix).id;
const queueId = (name: 'Ordered' | 'Delayed' | 'OrderedDeadLetter' | 'DelayedDeadLetter' | 'ClientMessages' | 'ClientMessagesDeadLetter') =>
  Object.keys(template.findResources('AWS::SQS::Queue')).find(
    (id) => id.startsWith(`FanoutQueues${name}`) && (name.endsWith('DeadLetter') || !id.includes('DeadLetter')),
  ) ?? '';

/** Short names for the template's logical ids, so grants read like the spec. */
function shortName(logicalId: string, owner: FunctionName): string {
  const table: [string, string][] = [
    ['ConnectionsTable', 'table'],
    ['HistoryTable', 'history'],
    ['FanoutQueuesOrderedDeadLetter', 'orderedDLQ'],
    ['FanoutQueuesDelayedDeadLetter', 'delayedDLQ'],
    ['FanoutQueuesClientMessagesDeadLetter', 'clientMessagesDLQ'],
    ['FanoutQueuesClientMessages', 'clientMessages'],
    ['FanoutQueuesOrdered', 'ordered'],
    ['FanoutQueuesDelayed', 'delayed'],
    ['GripKeySecret', 'gripKey'],
    ['WebSocketApi', 'wsApi'],
    [`Handlers${owner}Logs`, 'ownLogs'],
  ];
  return table.find(([prefix]) => logicalId.startsWith(prefix))?.[1] ?? `?${logicalId}`;
}

/** Renders a policy resource (a string, Ref, GetAtt or Join of those) readably. */
function render(value: unknown, owner: FunctionName): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    if ('Ref' in value && typeof value.Ref === 'string')
      return value.Ref.startsWith('AWS::') ? `<${value.Ref}>` : shortName(value.Ref, owner);
    if ('Fn::GetAtt' in value && Array.isArray(value['Fn::GetAtt'])) return shortName(String(value['Fn::GetAtt'][0]), owner);
    if ('Fn::Join' in value && Array.isArray(value['Fn::Join'])) {
      const [separator, parts] = value['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => render(p, owner)).join(separator);
    }
  }
  throw new Error(`unexpected policy value ${JSON.stringify(value)}`);
}

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Every "action → resource" pair a function's role is allowed, sorted. */
function grantsOf(name: FunctionName): string[] {
  const roleRef = fn(name).resource.Properties.Role['Fn::GetAtt'][0];
  const pairs: string[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    if (!asList(policy.Properties.Roles).some((r: { Ref: string }) => r.Ref === roleRef)) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      expect(statement.Effect).toBe('Allow');
      for (const action of asList(statement.Action))
        for (const r of asList(statement.Resource)) pairs.push(`${action} → ${render(r, name)}`);
    }
  }
  return pairs.sort();
}

describe('WebSocket API', () => {
  it('routes $connect, $disconnect and $default to their handlers, without route responses', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).filter(
      (r) => r.Properties.ApiId.Ref === idOf('AWS::ApiGatewayV2::Api', 'WebSocketApi'),
    );
    const targets = Object.fromEntries(
      routes.map((r) => {
        const integrationId = r.Properties.Target['Fn::Join'][1][1].Ref as string;
        return [r.Properties.RouteKey, JSON.stringify(resources[integrationId]?.Properties.IntegrationUri)];
      }),
    );
    expect(Object.keys(targets).sort()).toEqual(['$connect', '$default', '$disconnect']);
    expect(targets.$connect).toContain(fn('WsConnect').id);
    expect(targets.$default).toContain(fn('WsMessage').id);
    expect(targets.$disconnect).toContain(fn('WsDisconnect').id);
    for (const r of routes) expect(r.Properties.RouteResponseSelectionExpression).toBeUndefined();
    // Named after the stack (the console lists APIs by name), not CDK's construct id "Api".
    expect(resources[idOf('AWS::ApiGatewayV2::Api', 'WebSocketApi')]?.Properties.Name).toBe('GripStaging-websocket');
    template.resourcePropertiesCountIs('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY' }, 4);
  });

  it('has a "live" stage with throttling from context and JSON access logs', () => {
    const { resource } = resourceByPrefix(template, 'AWS::ApiGatewayV2::Stage', 'WebSocketStage');
    expect(resource.Properties).toMatchObject({
      StageName: 'live',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 300, ThrottlingBurstLimit: 600 },
    });
    const format = JSON.parse(resource.Properties.AccessLogSettings.Format) as Record<string, string>;
    expect(format).toMatchObject({
      connectionId: '$context.connectionId',
      routeKey: '$context.routeKey',
      status: '$context.status',
      error: '$context.error.message',
      integrationError: '$context.integration.error',
    });
    expect(JSON.stringify(resource.Properties.AccessLogSettings.DestinationArn)).toContain('WebSocketAccessLogs');
    // WebSocket access logging needs the account's API Gateway CloudWatch role set first.
    expect(resource.DependsOn).toEqual([idOf('AWS::ApiGateway::Account', 'ApiGatewayLoggingAccount')]);
  });
});

describe("API Gateway's account-level CloudWatch Logs role", () => {
  it('is left alone by default: no role, no account setting, so a second stack cannot replace the first one', () => {
    const defaults = synthesize({ targetUrl: context.targetUrl });
    try {
      defaults.template.resourceCountIs('AWS::ApiGateway::Account', 0);
      const apiGatewayRoles = Object.values(defaults.template.findResources('AWS::IAM::Role')).filter((r) =>
        JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('apigateway.amazonaws.com'),
      );
      expect(apiGatewayRoles).toEqual([]);
      const { resource: stage } = resourceByPrefix(defaults.template, 'AWS::ApiGatewayV2::Stage', 'WebSocketStage');
      expect(stage.DependsOn).toBeUndefined();
    } finally {
      defaults.dispose();
    }
  });

  it('is created, retained on delete and set as the account setting with apiGatewayCloudWatchRole=true', () => {
    const { id, resource } = resourceByPrefix(template, 'AWS::ApiGateway::Account', 'ApiGatewayLoggingAccount');
    expect(JSON.stringify(resource.Properties.CloudWatchRoleArn)).toContain('ApiGatewayLoggingRole');
    template.hasResource('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'apigateway.amazonaws.com' } }] } },
      DeletionPolicy: 'Retain',
    });
    expect(resourceByPrefix(template, 'AWS::ApiGatewayV2::Stage', 'WebSocketStage').resource.DependsOn).toEqual([id]);
  });
});

describe('control API', () => {
  it('sends every request ($default) to the control handler through an HTTP API with throttling and access logs', () => {
    const apiId = idOf('AWS::ApiGatewayV2::Api', 'ControlApi');
    expect(resources[apiId]?.Properties).toMatchObject({ ProtocolType: 'HTTP', Name: 'GripStaging-control' });
    const route = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).find((r) => r.Properties.ApiId.Ref === apiId);
    expect(route?.Properties.RouteKey).toBe('$default');
    const integrationId = route?.Properties.Target['Fn::Join'][1][1].Ref as string;
    expect(resources[integrationId]?.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
    expect(JSON.stringify(resources[integrationId]?.Properties.IntegrationUri)).toContain(fn('Control').id);
    const { resource: stage } = resourceByPrefix(template, 'AWS::ApiGatewayV2::Stage', 'ControlStage');
    expect(stage.Properties).toMatchObject({
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 40, ThrottlingBurstLimit: 80 },
    });
    expect(JSON.parse(stage.Properties.AccessLogSettings.Format)).toMatchObject({ status: '$context.status', path: '$context.path' });
  });
});

describe('Connections table', () => {
  it('has the shared keys, the sparse channel index projecting expiresAt, TTL, on-demand billing and encryption', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'connectionId', KeyType: 'HASH' },
        { AttributeName: 'channel', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byChannel',
          KeySchema: [
            { AttributeName: 'subChannel', KeyType: 'HASH' },
            { AttributeName: 'subKey', KeyType: 'RANGE' },
          ],
          Projection: {
            ProjectionType: 'INCLUDE',
            NonKeyAttributes: ['expiresAt', 'connectedAt', 'filters', 'filterMeta', 'filterChannels', 'resume', 'liveAfter'],
          },
        },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
    });
  });
});

describe('History table', () => {
  it('is keyed by channel and sequence, with the local id index projecting the expiry, TTL, on-demand billing and encryption', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'channel', KeyType: 'HASH' },
        { AttributeName: 'seq', KeyType: 'RANGE' },
      ],
      LocalSecondaryIndexes: [
        {
          IndexName: 'byId',
          KeySchema: [
            { AttributeName: 'channel', KeyType: 'HASH' },
            { AttributeName: 'itemId', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['retainUntil'] },
        },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
    });
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 2);
  });
});

describe('fan-out queues', () => {
  it('are encrypted, 1 MiB, FIFO where ordered, with visibility 6 × the worker timeout (+ batching window) and redrive to their own DLQ', () => {
    const q = (name: Parameters<typeof queueId>[0]) => resources[queueId(name)]?.Properties ?? {};
    for (const name of ['Ordered', 'Delayed', 'OrderedDeadLetter', 'DelayedDeadLetter'] as const) {
      expect(q(name)).toMatchObject({ SqsManagedSseEnabled: true, MaximumMessageSize: 1_048_576 });
    }
    expect(q('Ordered')).toMatchObject({ FifoQueue: true, DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' });
    expect(q('OrderedDeadLetter').FifoQueue).toBe(true);
    expect(q('Delayed').FifoQueue).toBeUndefined();
    expect(q('DelayedDeadLetter').FifoQueue).toBeUndefined();
    // Visibility covers six worker timeouts, plus on the delayed lane the 3 s batching window its messages wait in.
    expect(q('Ordered').VisibilityTimeout).toBe(6 * 90);
    expect(q('Delayed').VisibilityTimeout).toBe(6 * 90 + 3);
    for (const [source, dlq] of [
      ['Ordered', 'OrderedDeadLetter'],
      ['Delayed', 'DelayedDeadLetter'],
    ] as const) {
      expect(q(source).RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [queueId(dlq), 'Arn'] }, maxReceiveCount: 8 });
      expect(q(dlq).MessageRetentionPeriod).toBeGreaterThan(q(source).MessageRetentionPeriod);
    }
  });

  it('deny every request that is not over TLS, on all four queues', () => {
    for (const name of ['Ordered', 'Delayed', 'OrderedDeadLetter', 'DelayedDeadLetter'] as const) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queueId(name) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Principal: { AWS: '*' } }),
          ]),
        },
      });
    }
  });

  it('feed the worker through two event source mappings with partial batch responses and context-driven sizes', () => {
    const worker = fn('FanoutWorker').id;
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (m) => m.Properties.FunctionName.Ref === worker,
    );
    expect(mappings).toHaveLength(2);
    const bySource = (name: 'Ordered' | 'Delayed') =>
      mappings.find((m) => m.Properties.EventSourceArn['Fn::GetAtt'][0] === queueId(name))?.Properties;
    for (const name of ['Ordered', 'Delayed'] as const) {
      expect(bySource(name)).toMatchObject({
        FunctionName: { Ref: worker },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 7,
        ScalingConfig: { MaximumConcurrency: 42 },
      });
    }
    expect(bySource('Delayed')?.MaximumBatchingWindowInSeconds).toBe(3);
    // FIFO event sources reject a batching window.
    expect(bySource('Ordered')?.MaximumBatchingWindowInSeconds).toBeUndefined();
  });

  it('feed ws-message the ordered lane of client messages: FIFO groups per connection, batches of 10, partial batch responses', () => {
    const lane = resources[queueId('ClientMessages')]?.Properties;
    expect(lane).toMatchObject({
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      SqsManagedSseEnabled: true,
      // 6 × ws-message's timeout (25 s with backendTimeoutMs 20,000).
      VisibilityTimeout: 6 * 25,
    });
    expect(lane?.RedrivePolicy.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': [queueId('ClientMessagesDeadLetter'), 'Arn'] });
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (m) => m.Properties.FunctionName.Ref === fn('WsMessage').id,
    );
    expect(mappings.map((m) => m.Properties)).toEqual([
      expect.objectContaining({
        EventSourceArn: { 'Fn::GetAtt': [queueId('ClientMessages'), 'Arn'] },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 50 },
      }),
    ]);
  });
});

describe('functions', () => {
  /** The environment each handler's composition root reads (besides the common variables). */
  const expectedEnv: Record<FunctionName, string[]> = {
    // DELAYED_QUEUE_URL: an OPEN reply's keep-alive schedules its first heartbeat on the delayed lane.
    WsConnect: ['TABLE_NAME', 'GRIP_KEY_SECRET_ARN', 'TARGET_URL', 'GRIP_ISS', 'ORDERED_QUEUE_URL', 'DELAYED_QUEUE_URL'],
    WsMessage: [
      'TABLE_NAME',
      'GRIP_KEY_SECRET_ARN',
      'TARGET_URL',
      'GRIP_ISS',
      'DELAYED_QUEUE_URL',
      'CLIENT_MESSAGES_QUEUE_URL',
      'MANAGEMENT_API_ENDPOINT',
    ],
    WsDisconnect: ['TABLE_NAME', 'GRIP_KEY_SECRET_ARN', 'TARGET_URL', 'GRIP_ISS'],
    // GRIP_ISS: the control API refuses the server's own Grip-Sig tokens as credentials.
    Control: ['GRIP_KEY_SECRET_ARN', 'GRIP_ISS', 'ORDERED_QUEUE_URL', 'HISTORY_TABLE_NAME'],
    FanoutWorker: [
      'TABLE_NAME',
      'HISTORY_TABLE_NAME',
      'ORDERED_QUEUE_URL',
      'DELAYED_QUEUE_URL',
      'DELAYED_DLQ_URL',
      // Keep-Alive-Interval polls and publish refreshes ask for requests on the connection's lane.
      'CLIENT_MESSAGES_QUEUE_URL',
      'MANAGEMENT_API_ENDPOINT',
    ],
  };
  const common = [
    'POWERTOOLS_SERVICE_NAME',
    'POWERTOOLS_METRICS_NAMESPACE',
    'LOG_LEVEL',
    'NODE_OPTIONS',
    'BACKEND_TIMEOUT_MS',
    'MAX_SUBSCRIPTIONS_PER_CONNECTION',
    'FANOUT_CONCURRENCY',
    'FANOUT_PAGE_SIZE',
    'FANOUT_BUCKETS',
    'FANOUT_MAX_ATTEMPTS',
    'FANOUT_RETRY_BASE_MS',
    'FANOUT_RETRY_MAX_MS',
    'OPEN_GRACE_MS',
    'KEEP_ALIVE_INTERVAL_MIN_SECONDS',
    'ID_CACHE_TTL_SECONDS',
    'HISTORY_TTL_SECONDS',
    'HISTORY_MAX_ITEMS',
    'CLIENT_MESSAGES',
    'MESSAGE_WAIT_MS',
    'CONTROL_TOKEN_MAX_LIFETIME_SECONDS',
  ];

  it('are nodejs22.x arm64 ESM bundles with their own log group and retention', () => {
    for (const name of functions) {
      const { Properties: p } = fn(name).resource;
      expect(p).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
      const logGroup = p.LoggingConfig.LogGroup.Ref as string;
      expect(logGroup.startsWith(`Handlers${name}Logs`)).toBe(true);
      expect(resources[logGroup]?.Properties.RetentionInDays).toBe(14);
    }
    template.resourceCountIs('AWS::Lambda::Function', 5);
  });

  it('get exactly the environment their access declares, with settings and names from context', () => {
    for (const name of functions) {
      const env = fn(name).resource.Properties.Environment.Variables as Record<string, unknown>;
      expect(Object.keys(env).sort(), name).toEqual([...common, ...expectedEnv[name]].sort());
      expect(env).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'grip-channel-server',
        POWERTOOLS_METRICS_NAMESPACE: 'GripChannelServer',
        LOG_LEVEL: 'DEBUG',
        FANOUT_CONCURRENCY: '250',
        BACKEND_TIMEOUT_MS: '20000',
      });
      if ('TARGET_URL' in env) expect(env).toMatchObject({ TARGET_URL: 'https://backend.example.com/ws', GRIP_ISS: 'my-iss' });
    }
    const worker = fn('FanoutWorker').resource.Properties.Environment.Variables;
    expect(worker.DELAYED_DLQ_URL).toEqual({ Ref: queueId('DelayedDeadLetter') });
    expect(worker.ORDERED_QUEUE_URL).toEqual({ Ref: queueId('Ordered') });
    expect(JSON.stringify(worker.MANAGEMENT_API_ENDPOINT)).toMatch(
      /"https:\/\/",\{"Ref":"WebSocketApi[0-9A-F]+"\},".execute-api.".*"\/live"/,
    );
  });

  it('size memory and timeouts from context (worker: workerMemoryMb; WebSocket handlers: backend timeout + 5 s, ≤ 29 s)', () => {
    expect(fn('FanoutWorker').resource.Properties).toMatchObject({ MemorySize: 3008, Timeout: 90 });
    for (const name of ['WsMessage', 'WsDisconnect'] as const) {
      expect(fn(name).resource.Properties).toMatchObject({ MemorySize: 1024, Timeout: 25 });
    }
    // $connect may ask a deferring backend (an empty OPEN reply with Keep-Alive-Interval) again: API Gateway's 29 s.
    expect(fn('WsConnect').resource.Properties).toMatchObject({ MemorySize: 1024, Timeout: 29 });
    expect(fn('Control').resource.Properties.MemorySize).toBe(1024);
  });
});

describe('IAM', () => {
  // Exactly the calls the adapters make: no BatchGetItem or ConditionCheckItem, no DescribeSecret, and for sends
  // only SendMessage (SendMessageBatch), not the attribute and URL reads CDK's grantSendMessages adds.
  const items = ['BatchWriteItem', 'DeleteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem'].map((a) => `dynamodb:${a} → table`);
  const send = (queue: string) => [`sqs:SendMessage → ${queue}`];
  const secret = ['secretsmanager:GetSecretValue → gripKey'];
  const logs = ['logs:CreateLogStream → ownLogs', 'logs:PutLogEvents → ownLogs'];
  const manage =
    'execute-api:ManageConnections → arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:wsApi/live/*/@connections/*';
  const consume = (queue: string) =>
    ['ChangeMessageVisibility', 'DeleteMessage', 'GetQueueAttributes', 'GetQueueUrl', 'ReceiveMessage'].map((a) => `sqs:${a} → ${queue}`);
  const expected: Record<FunctionName, string[]> = {
    WsConnect: [...logs, ...items, ...secret, ...send('ordered'), ...send('delayed')],
    // ws-message schedules keep-alives (delayed lane) and queues and consumes client messages on their lane; its
    // replies go straight to the Management API.
    WsMessage: [...logs, ...items, ...secret, ...send('delayed'), ...send('clientMessages'), manage, ...consume('clientMessages')],
    WsDisconnect: [...logs, ...items, ...secret],
    // History reads: Query on the table and its id index, nothing else.
    Control: [...logs, ...secret, ...send('ordered'), 'dynamodb:Query → history', 'dynamodb:Query → history/index/byId'],
    FanoutWorker: [
      ...logs,
      ...items,
      'dynamodb:Query → table/index/byChannel',
      // History: one PutItem per publish, Query to replay (table and id index).
      'dynamodb:PutItem → history',
      'dynamodb:Query → history',
      'dynamodb:Query → history/index/byId',
      ...send('ordered'),
      ...send('delayed'),
      ...send('delayedDLQ'),
      ...send('clientMessages'),
      manage,
      ...consume('ordered'),
      ...consume('delayed'),
    ],
  };

  it('grants each function exactly what its part needs (least privilege, resource-scoped)', () => {
    for (const name of functions) expect(grantsOf(name), name).toEqual([...expected[name]].sort());
  });

  it('has no "*" action and no unscoped resource in any policy of the template', () => {
    const documents: { where: string; doc: { Statement: Record<string, unknown>[] } }[] = [];
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
        documents.push({ where: id, doc: r.Properties.PolicyDocument });
      if (r.Type === 'AWS::IAM::Role') {
        for (const p of r.Properties.Policies ?? []) documents.push({ where: `${id}/${p.PolicyName}`, doc: p.PolicyDocument });
        expect(r.Properties.ManagedPolicyArns, `${id} uses a managed policy`).toBeUndefined();
      }
      if (r.Type === 'AWS::SQS::QueuePolicy' || r.Type === 'AWS::SNS::TopicPolicy')
        documents.push({ where: id, doc: r.Properties.PolicyDocument });
    }
    expect(documents.length).toBeGreaterThanOrEqual(11);
    const logicalIds = new Set(Object.keys(resources));
    /** A resource is scoped when it names a resource of this stack or at least this account. */
    const scoped = (value: unknown): boolean => {
      const text = JSON.stringify(value);
      return [...text.matchAll(/"(?:Ref|Fn::GetAtt)":\s*\[?"([^"]+)"/g)].some(
        ([, ref]) => logicalIds.has(ref ?? '') || ref === 'AWS::AccountId',
      );
    };
    for (const { where, doc } of documents) {
      for (const statement of doc.Statement) {
        for (const action of asList(statement.Action as string | string[])) {
          // Deny statements (the TLS-only resource policies) may cover every action: they only take rights away.
          if (statement.Effect === 'Allow') expect(action.includes('*'), `${where}: ${action}`).toBe(false);
        }
        if (statement.Effect !== 'Allow') continue;
        for (const r of asList(statement.Resource)) {
          expect(r, where).not.toBe('*');
          expect(scoped(r), `${where}: ${JSON.stringify(r)}`).toBe(true);
        }
      }
    }
  });
});

describe('the GRIP key', () => {
  it('is generated by Secrets Manager: 48 letters and digits', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 48, ExcludePunctuation: true, IncludeSpace: false },
    });
    const secrets = Object.values(template.findResources('AWS::SecretsManager::Secret'));
    expect(secrets).toHaveLength(1);
    expect(secrets[0]?.Properties.SecretString).toBeUndefined();
  });

  it('never reaches a template value, an environment variable or an output: only its ARN does', () => {
    const secretId = idOf('AWS::SecretsManager::Secret', 'GripKeySecret');
    const json = JSON.stringify(template.toJSON());
    // A secret value can only reach a template through a dynamic reference or a literal SecretString.
    expect(/resolve:secretsmanager/i.test(json)).toBe(false);
    expect(json.includes('"SecretString"')).toBe(false);
    const keyVariables: string[] = [];
    for (const name of functions) {
      const env = fn(name).resource.Properties.Environment.Variables as Record<string, unknown>;
      for (const [key, value] of Object.entries(env)) {
        if (/KEY|SECRET/.test(key)) {
          keyVariables.push(name);
          expect(key).toBe('GRIP_KEY_SECRET_ARN');
          expect(value).toEqual({ Ref: secretId });
        }
      }
    }
    // The loop above checked something: the four functions that sign or verify with the key.
    expect(keyVariables).toEqual(['WsConnect', 'WsMessage', 'WsDisconnect', 'Control']);
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.GripKeySecretArn?.Value).toEqual({ Ref: secretId });
  });
});

describe('alarms and dashboard', () => {
  const alarm = (prefix: string) => resourceByPrefix(template, 'AWS::CloudWatch::Alarm', `Monitoring${prefix}`).resource.Properties;
  const topic = () => ({ Ref: idOf('AWS::SNS::Topic', 'MonitoringAlarmTopic') });

  it('alarm on either dead-letter queue holding any message, treating missing data as fine', () => {
    for (const [name, dlq] of [
      ['OrderedDeadLetterNotEmpty', 'OrderedDeadLetter'],
      ['DelayedDeadLetterNotEmpty', 'DelayedDeadLetter'],
      ['ClientMessagesDeadLetterNotEmpty', 'ClientMessagesDeadLetter'],
    ] as const) {
      expect(alarm(name)).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(dlq), 'QueueName'] } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [topic()],
      });
    }
  });

  it('alarm on the age of the oldest job (the delayed lane gets the 900 s SQS delay on top)', () => {
    for (const [name, queue, threshold] of [
      ['OrderedQueueOldestMessage', 'Ordered', 600],
      ['DelayedQueueOldestMessage', 'Delayed', 1500],
    ] as const) {
      expect(alarm(name)).toMatchObject({
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(queue), 'QueueName'] } }],
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [topic()],
      });
    }
  });

  it('alarm on worker errors', () => {
    expect(alarm('WorkerErrors')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn('FanoutWorker').id } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [topic()],
    });
  });

  it("alarm on the backend error rate computed from the handlers' EMF metrics", () => {
    const p = alarm('BackendErrorRate');
    expect(p).toMatchObject({ Threshold: 7, ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [topic()] });
    const metrics = p.Metrics as { Id: string; Expression?: string; MetricStat?: { Metric: Record<string, unknown> } }[];
    const byName = (n: string) => metrics.find((m) => m.MetricStat?.Metric.MetricName === n)?.MetricStat?.Metric;
    for (const n of ['BackendErrors', 'ConnectionsOpened', 'ConnectionsRejected', 'MessagesIn', 'ConnectionsClosed']) {
      expect(byName(n), n).toEqual({
        Namespace: 'GripChannelServer',
        MetricName: n,
        Dimensions: [{ Name: 'service', Value: 'grip-channel-server' }],
      });
    }
    expect(metrics.find((m) => m.Expression?.startsWith('IF('))?.Expression).toBe(
      'IF(requests >= 10, 100 * FILL(errors, 0) / requests, 0)',
    );
  });

  it('alarm on throttled writes to the History table (a throttled write holds its channel until retried)', () => {
    expect(alarm('HistoryWriteThrottles')).toMatchObject({
      Namespace: 'AWS/DynamoDB',
      MetricName: 'WriteThrottleEvents',
      Dimensions: [{ Name: 'TableName', Value: { Ref: idOf('AWS::DynamoDB::GlobalTable', 'HistoryTable') } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic()],
    });
  });

  it('has exactly these nine alarms, all notifying one topic with the e-mail subscription from context', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 9);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: topic() });
  });

  it("let CloudWatch publish to the topic for exactly this stack's alarms, from this account, and deny non-TLS requests", () => {
    const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
    expect(policies).toHaveLength(1);
    const policy = policies[0]?.Properties;
    expect(policy.Topics).toEqual([topic()]);
    const statements = policy.PolicyDocument.Statement as Record<string, unknown>[];
    const alarmArns = Object.keys(template.findResources('AWS::CloudWatch::Alarm'))
      .sort()
      .map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }));
    expect(alarmArns).toHaveLength(9);
    const allow = statements.filter((s) => s.Effect === 'Allow');
    expect(allow).toEqual([
      {
        Sid: 'AllowThisStacksAlarmsToPublish',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: topic(),
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnEquals: { 'aws:SourceArn': expect.arrayContaining(alarmArns) },
        },
      },
    ]);
    expect((allow[0]?.Condition as { ArnEquals: { 'aws:SourceArn': unknown[] } }).ArnEquals['aws:SourceArn']).toHaveLength(9);
    expect(statements.filter((s) => s.Effect === 'Deny')).toEqual([
      expect.objectContaining({
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        Principal: '*',
        Action: 'sns:Publish',
        Resource: topic(),
      }),
    ]);
  });

  it('has a dashboard with connections, messages, deliveries, queues and backend latency', () => {
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody);
    for (const n of [
      'ConnectionsOpened',
      'ConnectionsClosed',
      'MessagesIn',
      'MessagesOut',
      'Deliveries',
      'DeliveriesGone',
      'DeliveriesRetried',
      'DeliveriesDeadLettered',
      'ApproximateNumberOfMessagesVisible',
      'ApproximateAgeOfOldestMessage',
      'BackendLatency',
      'ResumesReplayed',
      'ResumesFailed',
      'ResumeLatency',
      'WriteThrottleEvents',
    ]) {
      expect(body).toContain(`\\"${n}\\"`);
    }
  });
});

describe('outputs', () => {
  it('give the WebSocket URL, the control API URL, the secret ARN and all four queue URLs, and README.md uses them', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.WebSocketUrl?.Value)).toContain('"wss://"');
    expect(outputs.ControlApiUrl?.Value).toEqual({ 'Fn::GetAtt': [idOf('AWS::ApiGatewayV2::Api', 'ControlApi'), 'ApiEndpoint'] });
    // The four queue URLs, as `npm run redrive -- --dlq <url> --to <url>` takes them.
    for (const name of ['Ordered', 'OrderedDeadLetter', 'Delayed', 'DelayedDeadLetter'] as const) {
      expect(outputs[`${name}QueueUrl`]?.Value, name).toEqual({ Ref: queueId(name) });
    }
    const docs = readFileSync(new URL('README.md', projectRoot), 'utf8');
    for (const name of Object.keys(outputs)) expect(docs, name).toContain(name);
  });
});
