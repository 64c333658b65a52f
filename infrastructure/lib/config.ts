/**
 * The stack's configuration: every CDK context value the app reads, validated once at synth time. Runtime and
 * deployment integers come from the shared settings table (`src/config/settings.ts`); the few values that only
 * the stack uses (log retention, alarm thresholds, names, switches) are declared here in the same shape, so
 * `README.md, "Deploy to AWS"` and `cdk.json` can be generated and checked from one list.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  deploySettings,
  readIntegerSettings,
  runtimeSettings,
  SettingError,
  type DeploySettingName,
  type DeploySettings,
  type IntegerSetting,
  type RuntimeSettingName,
  type RuntimeSettings,
} from '#src/config/settings.js';

/** Integer settings that shape only this stack (not read by any function). */
export const stackSettings = {
  handlerMemoryMb: {
    type: 'integer',
    context: 'handlerMemoryMb',
    env: 'HANDLER_MEMORY_MB',
    default: 512,
    min: 128,
    max: 10_240,
    description: 'Memory of the WebSocket and control handlers (they mostly wait on the backend and DynamoDB).',
  },
  logRetentionDays: {
    type: 'integer',
    context: 'logRetentionDays',
    env: 'LOG_RETENTION_DAYS',
    default: 30,
    min: 1,
    max: 3653,
    description: "Retention of every function log group and both API access logs; one of CloudWatch's allowed values.",
  },
  queueAgeAlarmSeconds: {
    type: 'integer',
    context: 'queueAgeAlarmSeconds',
    env: 'QUEUE_AGE_ALARM_SECONDS',
    default: 300,
    min: 60,
    max: 86_400,
    description: 'Alarm when the oldest fan-out job waits longer than this (the delayed queue gets 900 s more for its delays).',
  },
  accountRequestQuota: {
    type: 'integer',
    context: 'accountRequestQuota',
    env: 'ACCOUNT_REQUEST_QUOTA',
    default: 10_000,
    min: 100,
    max: 1_000_000,
    description:
      "Your account's API Gateway throttle quota in this Region, requests/s (2,500 in some newer Regions; Service Quotas shows a raised one). Synth checks the request budget against it.",
  },
  backendErrorRatePercent: {
    type: 'integer',
    context: 'backendErrorRatePercent',
    env: 'BACKEND_ERROR_RATE_PERCENT',
    default: 5,
    min: 1,
    max: 100,
    description: 'Alarm when this share of backend requests fails (5-minute periods, 2 of 3 breaching, at least 10 requests).',
  },
} as const satisfies Record<string, IntegerSetting>;

export type StackSettingName = keyof typeof stackSettings;
export type StackSettings = { readonly [K in StackSettingName]: number };

/** CloudWatch Logs' allowed retention periods, in days: CDK's enum without "never expire". */
export const allowedRetentionDays: readonly RetentionDays[] = Object.values(RetentionDays).filter(
  (v): v is RetentionDays => typeof v === 'number' && v !== RetentionDays.INFINITE,
);

/** Powertools log levels, as `LOG_LEVEL` accepts them. */
const logLevels = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;
export type LogLevel = (typeof logLevels)[number];

/** A context value that is not an integer: its key, default (`undefined` = required or optional) and meaning. */
export interface OtherSetting {
  readonly type: 'string' | 'boolean';
  readonly context: string;
  readonly default: string | boolean | undefined;
  readonly allowed: string;
  readonly description: string;
}

export const otherSettings = {
  targetUrl: {
    type: 'string',
    context: 'targetUrl',
    default: undefined,
    allowed: 'http:// or https:// URL (required; or the TARGET_URL environment variable)',
    description: 'Your backend: every connection event is POSTed here in WebSocket-over-HTTP format.',
  },
  stackName: {
    type: 'string',
    context: 'stackName',
    default: 'GripChannelServer',
    allowed: 'letters, digits and hyphens, starting with a letter, ≤ 128',
    description: 'CloudFormation stack name; deploy twice under different names for staging and production.',
  },
  gripIss: {
    type: 'string',
    context: 'gripIss',
    default: 'pushpin',
    allowed: '1–128 printable ASCII characters',
    description: 'The `iss` claim of the Grip-Sig token sent to the backend.',
  },
  logLevel: {
    type: 'string',
    context: 'logLevel',
    default: 'INFO',
    allowed: logLevels.join(', '),
    description: 'Powertools log level of every function (`LOG_LEVEL`).',
  },
  alarmEmail: {
    type: 'string',
    context: 'alarmEmail',
    default: undefined,
    allowed: 'an e-mail address (optional)',
    description: 'Subscribes this address to the alarm topic (confirm the e-mail AWS sends).',
  },
  tracing: {
    type: 'boolean',
    context: 'tracing',
    default: false,
    allowed: 'true or false',
    description: 'X-Ray active tracing on every function (adds the X-Ray write permissions, which cannot be resource-scoped).',
  },
  apiGatewayCloudWatchRole: {
    type: 'boolean',
    context: 'apiGatewayCloudWatchRole',
    default: false,
    allowed: 'true or false',
    description:
      "Create API Gateway's CloudWatch Logs role and make it the account's (one per Region, shared by every API; WebSocket access logs need it). Only where `aws apigateway get-account` shows no cloudwatchRoleArn.",
  },
} as const satisfies Record<string, OtherSetting>;

export interface StackConfig {
  readonly stackName: string;
  readonly targetUrl: string;
  readonly gripIss: string;
  readonly logLevel: LogLevel;
  readonly alarmEmail: string | undefined;
  readonly tracing: boolean;
  readonly apiGatewayCloudWatchRole: boolean;
  /** `stack.logRetentionDays` as the CDK enum. */
  readonly logRetention: RetentionDays;
  readonly runtime: RuntimeSettings;
  readonly deploy: DeploySettings;
  readonly stack: StackSettings;
}

/** Reads one context value; `undefined` when the key is not set. */
export type ContextReader = (key: string) => unknown;

const source = (key: string): string => `context "${key}"`;

function readIntegers<K extends string>(table: Record<K, IntegerSetting>, context: ContextReader): Record<K, number> {
  return readIntegerSettings(table, (setting) => ({ raw: context(setting.context), source: source(setting.context) }));
}

const invalid = (setting: OtherSetting, raw: unknown): SettingError =>
  new SettingError(`${source(setting.context)} is ${JSON.stringify(raw)}; it must be ${setting.allowed}. ${setting.description}`);

function readString(setting: OtherSetting, raw: unknown, check: (value: string) => boolean): string | undefined {
  if (raw === undefined || raw === null || raw === '') return typeof setting.default === 'string' ? setting.default : undefined;
  if (typeof raw !== 'string' || !check(raw)) throw invalid(setting, raw);
  return raw;
}

/** A string setting that always has a value (a default, or validated presence). */
function readText(setting: OtherSetting, raw: unknown, check: (value: string) => boolean): string {
  const value = readString(setting, raw, check);
  if (value === undefined) throw new SettingError(`${source(setting.context)} is missing; it must be ${setting.allowed}.`);
  return value;
}

const isLogLevel = (value: string): value is LogLevel => (logLevels as readonly string[]).includes(value);

/** A log level in any case (`debug` or `DEBUG`), as Powertools wants it: upper case. */
function readLogLevel(raw: unknown): LogLevel {
  const setting = otherSettings.logLevel;
  const level = readText(setting, raw, () => true).toUpperCase();
  if (!isLogLevel(level)) throw invalid(setting, raw);
  return level;
}

function readBoolean(setting: OtherSetting, raw: unknown): boolean {
  if (raw === undefined || raw === null || raw === '') return setting.default === true;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw invalid(setting, raw);
}

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}

/**
 * Reads and validates every context value (and `TARGET_URL` when the `targetUrl` context is not set).
 *
 * @throws SettingError naming the key, the value and what is allowed, for the first invalid value; a missing
 *   `targetUrl` is an error because the stack is useless without a backend.
 */
export function readStackConfig(context: ContextReader, env: Readonly<Record<string, string | undefined>>): StackConfig {
  const s = otherSettings;
  const rawTarget = context(s.targetUrl.context) ?? env.TARGET_URL;
  if (rawTarget === undefined || rawTarget === null || rawTarget === '') {
    throw new SettingError(
      `${source(s.targetUrl.context)} is missing and TARGET_URL is not set; it must be an http:// or https:// URL, e.g. ` +
        `\`npx cdk deploy -c targetUrl=https://backend.example.com/ws\`. ${s.targetUrl.description}`,
    );
  }
  const targetUrl = readText(s.targetUrl, rawTarget, isHttpUrl);

  const stack = readIntegers(stackSettings, context);
  const logRetention = allowedRetentionDays.find((days) => days === stack.logRetentionDays);
  if (logRetention === undefined) {
    throw new SettingError(
      `${source('logRetentionDays')} is ${JSON.stringify(context('logRetentionDays'))}; it must be one of ${allowedRetentionDays.join(', ')}.`,
    );
  }
  const deploy: DeploySettings = readIntegers<DeploySettingName>(deploySettings, context);
  for (const [burst, rate] of [
    ['stageBurstLimit', 'stageRateLimit'],
    ['controlBurstLimit', 'controlRateLimit'],
  ] as const) {
    if (deploy[burst] < deploy[rate]) {
      throw new SettingError(`${source(burst)} is ${deploy[burst]}; it must be at least the matching rate limit (${deploy[rate]}).`);
    }
  }
  const runtime: RuntimeSettings = readIntegers<RuntimeSettingName>(runtimeSettings, context);

  return {
    stackName: readText(s.stackName, context(s.stackName.context), (v) => /^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(v)),
    targetUrl,
    gripIss: readText(s.gripIss, context(s.gripIss.context), (v) => /^[\x21-\x7e]{1,128}$/.test(v)),
    logLevel: readLogLevel(context(s.logLevel.context)),
    alarmEmail: readString(s.alarmEmail, context(s.alarmEmail.context), (v) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)),
    tracing: readBoolean(s.tracing, context(s.tracing.context)),
    apiGatewayCloudWatchRole: readBoolean(s.apiGatewayCloudWatchRole, context(s.apiGatewayCloudWatchRole.context)),
    logRetention,
    runtime,
    deploy,
    stack,
  };
}
