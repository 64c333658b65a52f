import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { CfnApi, type WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  handlerAccess,
  lambdaEntries,
  resourceSettings,
  resourcesOf,
  type HandlerAccess,
  type HandlerName,
  type ResourceName,
} from '#src/config/functions.js';
import { backendSettings, runtimeSettingsToEnv, settingsToEnv } from '#src/config/settings.js';
import type { BuildOptions } from 'esbuild';
import type { StackConfig } from './config.js';
import type { ConnectionsTable, HistoryTable } from './connections-table.js';
import type { FanoutQueues } from './fanout-queues.js';
import type { GripKey } from './grip-key.js';
import { metricsNamespace, serviceName } from './observability.js';

/** The Lambda entries, for the bundle tests and `scripts/measure-bundles.ts` (defined with each function's access). */
export { lambdaEntries, type HandlerName } from '#src/config/functions.js';

/** The shared resources a function's access refers to. */
export interface HandlerResources {
  readonly config: StackConfig;
  readonly table: ConnectionsTable;
  readonly history: HistoryTable;
  readonly gripKey: GripKey;
  readonly queues: FanoutQueues;
  readonly stage: WebSocketStage;
}

export interface HandlerFunctionProps {
  /** The function; its row of `handlerAccess` decides its environment and grants. */
  readonly handler: HandlerName;
  readonly description: string;
  readonly resources: HandlerResources;
  readonly memorySize: number;
  readonly timeout: Duration;
}

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * ESM bundles need `require` for the CommonJS dependencies esbuild inlines (they call `require('node:…')`).
 * The alias keeps the banner's import from clashing with a bundled `createRequire`.
 */
export const esmRequireBanner =
  "import { createRequire as __bannerCreateRequire } from 'node:module'; const require = __bannerCreateRequire(import.meta.url);";

/**
 * How every function is bundled (esbuild, locally, never Docker), shared with the bundle tests and
 * `scripts/measure-bundles.ts` so they build what deploys.
 *
 * Nothing is external: the AWS SDK clients the handlers use are bundled from package-lock.json and tree-shaken
 * (through their ES module builds, `module` first), so what runs on Lambda is the SDK the tests ran, not whichever
 * version the runtime carries, and a cold start loads one file instead of resolving the runtime's SDK packages.
 * Measured with `npx tsx scripts/measure-bundles.ts`: about twice the bytes, about half the import time
 * (README.md, "Deploy to AWS", "Bundling").
 */
export const lambdaBundling = {
  target: 'node22',
  mainFields: ['module', 'main'],
  banner: esmRequireBanner,
  external: [] as readonly string[],
} as const;

/**
 * esbuild's options for building every entry as the stack does, into `outdir` as `<entry>.mjs` (with source maps,
 * without sources), for tests and measurements that run esbuild directly. `external` replaces `lambdaBundling`'s.
 */
export function lambdaBuildOptions(outdir: string, external: readonly string[] = lambdaBundling.external): BuildOptions {
  return {
    entryPoints: Object.fromEntries(lambdaEntries.map((e) => [e, `${projectRoot}src/handlers/aws/${e}.ts`])),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: lambdaBundling.target,
    mainFields: [...lambdaBundling.mainFields],
    banner: { js: lambdaBundling.banner },
    external: [...external],
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    logLevel: 'error',
  };
}

/**
 * One Lambda handler: bundled locally with esbuild (never Docker, `lambdaBundling`) as an ESM `nodejs22.x` arm64 function, its own
 * log group with retention, its own role that can write only to that log group, and exactly the environment and
 * grants its `access` declares.
 */
export class HandlerFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    const { config, table, history, gripKey, queues, stage } = props.resources;
    const access: HandlerAccess = handlerAccess[props.handler];

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: config.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.handler}: writes its own log group and what its access declares, nothing else`,
    });
    this.logGroup.grantWrite(role);

    const environment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: serviceName,
      POWERTOOLS_METRICS_NAMESPACE: metricsNamespace,
      NODE_OPTIONS: '--enable-source-maps',
      ...runtimeSettingsToEnv(config.runtime),
    };
    if (access.backend) Object.assign(environment, settingsToEnv(backendSettings, config.backend));
    if ('gripSigIssuer' in access && access.gripSigIssuer) environment[backendSettings.gripIss.env] = config.backend.gripIss;
    const lanes = {
      ordered: queues.ordered,
      delayed: queues.delayed,
      delayedDeadLetter: queues.delayedDeadLetter,
      clientMessages: queues.clientMessages,
    };
    const resourceValue: Record<ResourceName, string> = {
      tableName: table.table.tableName,
      historyTableName: history.table.tableName,
      gripKeySecretArn: gripKey.secret.secretArn,
      orderedQueueUrl: lanes.ordered.queueUrl,
      delayedQueueUrl: lanes.delayed.queueUrl,
      delayedDeadLetterQueueUrl: lanes.delayedDeadLetter.queueUrl,
      clientMessagesQueueUrl: lanes.clientMessages.queueUrl,
      managementApiEndpoint: stage.callbackUrl,
    };
    for (const resource of resourcesOf(access)) environment[resourceSettings[resource].env] = resourceValue[resource];

    this.fn = new NodejsFunction(this, 'Function', {
      description: props.description,
      entry: `${projectRoot}src/handlers/aws/${props.handler}.ts`,
      handler: 'handler',
      projectRoot,
      depsLockFilePath: `${projectRoot}package-lock.json`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role,
      logGroup: this.logGroup,
      tracing: config.stack.tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      environment,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: lambdaBundling.target,
        mainFields: [...lambdaBundling.mainFields],
        banner: lambdaBundling.banner,
        externalModules: [...lambdaBundling.external],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
      },
    });

    if (access.table) table.grantItems(this.fn);
    if (access.table === 'itemsAndChannelIndex') table.grantChannelIndexQuery(this.fn);
    if (access.history === 'readWrite') history.grantReadWrite(this.fn);
    if (access.history === 'read') history.grantRead(this.fn);
    if (access.gripKey) gripKey.grantRead(this.fn);
    // SendMessageBatch is all the queue adapter calls (authorized as sqs:SendMessage); it never reads queue
    // attributes or looks up URLs, which `grantSendMessages` would add. SSE-SQS needs no KMS grant.
    for (const lane of access.sendTo ?? []) {
      Grant.addToPrincipal({ grantee: this.fn, actions: ['sqs:SendMessage'], resourceArns: [lanes[lane].queueArn] });
    }
    if (access.manageConnections) {
      stage.grantManagementApiAccess(this.fn);
      const cfnApi = stage.api.node.defaultChild;
      if (!(cfnApi instanceof CfnApi)) throw new Error('the WebSocket stage must belong to an API defined in this app');
      const apiLogicalId = Stack.of(this).getLogicalId(cfnApi);
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${apiLogicalId}>/${stage.stageName}/*/@connections/*]`,
        reason:
          'ManageConnections on this API and stage only; the HTTP method (POST to send, DELETE to close) and the ' +
          'connection id in the @connections path are run-time values, so they must be wildcards.',
      });
    }
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is pinned by the team (supported until 2027-04-30): moving to nodejs24.x is a deliberate, tested upgrade ' +
        '(it drops callback handlers and changes defaults), not something a CDK release should do silently.',
    });
    if (config.stack.tracing) {
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions (tracing is opt-in).',
      });
    }
  }
}
