/**
 * The stack's configuration: every CDK context value the app reads, validated once at synth time with the shared
 * reader (`src/config/settings.ts`). Runtime, backend and deployment settings come from the shared tables; the
 * few values only this stack uses (names, switches, log retention, alarm thresholds) are declared here in the same
 * shape, so the README's context table is generated from one list and `cdk.json` need hold only what a user
 * changed (every default is applied here).
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  backendSettings,
  deploySettings,
  firstOf,
  fromContext,
  fromEnvironment,
  readSettings,
  runtimeSettings,
  SettingError,
  type DeploySettings,
  type RuntimeSettings,
  type SettingTable,
  type SettingValues,
} from '#src/config/settings.js';

/** CloudWatch Logs' allowed retention periods, in days: CDK's enum without "never expire". */
export const allowedRetentionDays: readonly RetentionDays[] = Object.values(RetentionDays).filter(
  (v): v is RetentionDays => typeof v === 'number' && v !== RetentionDays.INFINITE,
);

/** Settings that shape only this stack (no function reads them). */
export const stackSettings = {
  stackName: {
    type: 'string',
    context: 'stackName',
    default: 'GripChannelServer',
    pattern: /^[A-Za-z][A-Za-z0-9-]{0,127}$/,
    allowed: 'letters, digits and hyphens, starting with a letter, ≤ 128',
    description: 'CloudFormation stack name; deploy twice under different names for staging and production.',
  },
  alarmEmail: {
    type: 'string',
    context: 'alarmEmail',
    pattern: /^[^@\s]+@[^@\s]+\.[^@\s]+$/,
    allowed: 'an e-mail address (optional)',
    description: 'Subscribes this address to the alarm topic (confirm the e-mail AWS sends).',
  },
  tracing: {
    type: 'boolean',
    context: 'tracing',
    default: false,
    description: 'X-Ray active tracing on every function (adds the X-Ray write permissions, which cannot be resource-scoped).',
  },
  apiGatewayCloudWatchRole: {
    type: 'boolean',
    context: 'apiGatewayCloudWatchRole',
    default: false,
    description:
      "Create API Gateway's CloudWatch Logs role and make it the account's (one per Region, shared by every API; WebSocket access logs need it). Only where `aws apigateway get-account` shows no cloudwatchRoleArn.",
  },
  handlerMemoryMb: {
    type: 'integer',
    context: 'handlerMemoryMb',
    default: 512,
    min: 128,
    max: 10_240,
    description: 'Memory of the WebSocket and control handlers (they mostly wait on the backend and DynamoDB).',
  },
  logRetentionDays: {
    type: 'integer',
    context: 'logRetentionDays',
    default: 30,
    min: 1,
    max: 3653,
    oneOf: allowedRetentionDays,
    description: "Retention of every function log group and both API access logs; one of CloudWatch's allowed values.",
  },
  queueAgeAlarmSeconds: {
    type: 'integer',
    context: 'queueAgeAlarmSeconds',
    default: 300,
    min: 60,
    max: 86_400,
    description: 'Alarm when the oldest fan-out job waits longer than this (the delayed queue gets 900 s more for its delays).',
  },
  accountRequestQuota: {
    type: 'integer',
    context: 'accountRequestQuota',
    default: 10_000,
    min: 100,
    max: 1_000_000,
    description:
      "Your account's API Gateway throttle quota in this Region, requests/s (2,500 in some newer Regions; Service Quotas shows a raised one). Synth checks the request budget against it.",
  },
  backendErrorRatePercent: {
    type: 'integer',
    context: 'backendErrorRatePercent',
    default: 5,
    min: 1,
    max: 100,
    description: 'Alarm when this share of backend requests fails (5-minute periods, 2 of 3 breaching, at least 10 requests).',
  },
} as const satisfies SettingTable;

export type StackSettings = SettingValues<typeof stackSettings>;

export interface StackConfig {
  readonly runtime: RuntimeSettings;
  /** `targetUrl` is required on AWS. */
  readonly backend: { readonly targetUrl: string; readonly gripIss: string };
  readonly deploy: DeploySettings;
  readonly stack: StackSettings;
  /** `stack.logRetentionDays` as the CDK enum. */
  readonly logRetention: RetentionDays;
}

/** Reads one context value; `undefined` when the key is not set. */
export type ContextReader = (key: string) => unknown;

/**
 * Reads and validates every context value (and `TARGET_URL` when the `targetUrl` context is not set).
 *
 * @throws SettingError naming the key, the value and what is allowed, for the first invalid value; a missing
 *   `targetUrl` is an error because the stack is useless without a backend.
 */
export function readStackConfig(context: ContextReader, env: Readonly<Record<string, string | undefined>>): StackConfig {
  const source = fromContext(context);
  const backend = readSettings(backendSettings, firstOf(source, fromEnvironment(env, [backendSettings.targetUrl])), ['targetUrl']);
  const stack = readSettings(stackSettings, source);
  const deploy = readSettings(deploySettings, source);
  for (const [burst, rate] of [
    ['stageBurstLimit', 'stageRateLimit'],
    ['controlBurstLimit', 'controlRateLimit'],
  ] as const) {
    if (deploy[burst] < deploy[rate]) {
      throw new SettingError(`context "${burst}" is ${deploy[burst]}; it must be at least the matching rate limit (${deploy[rate]}).`);
    }
  }
  const logRetention = allowedRetentionDays.find((days) => days === stack.logRetentionDays);
  if (logRetention === undefined) throw new Error(`logRetentionDays ${stack.logRetentionDays} passed validation but is no RetentionDays`);
  return { runtime: readSettings(runtimeSettings, source), backend, deploy, stack, logRetention };
}
