/**
 * Every setting, once: its kind (integer, boolean, enum, string, URL), default, allowed values, and the names it
 * goes by — CDK context key, environment variable, `npm start` flag. One reader (`readSettings`) reads any table
 * from any source (environment, CDK context, CLI flags) and raises one error (`SettingError`), so a value is
 * validated the same way wherever it comes from and a default cannot differ between AWS and local mode.
 *
 * The tables say who reads them: `runtimeSettings` every function (each gets them as environment variables) and
 * local mode; `backendSettings` the functions that call the backend, and local mode; `deploySettings` only the CDK
 * stack (with `stackSettings` in `infrastructure/lib/config.ts`); `localSettings` only `npm start`. Adding a
 * setting is one entry in one of them: the stack validates it at synth time, functions and local mode read it, and
 * the README's tables and `npm start --help` list it.
 */

interface SettingBase {
  /** CDK context key (`cdk deploy -c key=value`). Absent: not configurable on AWS. */
  readonly context?: string;
  /** Environment variable: how a function receives the value, and how `npm start` reads it. */
  readonly env?: string;
  /** `npm start` flag, without the leading dashes. */
  readonly flag?: string;
  readonly description: string;
  /** The value is a secret: errors never quote it. */
  readonly secret?: boolean;
}

export interface IntegerSetting extends SettingBase {
  readonly type: 'integer';
  readonly default: number;
  readonly min: number;
  readonly max: number;
  /** When only some integers in range are allowed (CloudWatch's retention periods, say). */
  readonly oneOf?: readonly number[];
}

export interface BooleanSetting extends SettingBase {
  readonly type: 'boolean';
  readonly default: boolean;
}

export interface EnumSetting extends SettingBase {
  readonly type: 'enum';
  readonly values: readonly string[];
  readonly default: string;
  /** Accept any case; the value read is spelt as in `values`. */
  readonly ignoreCase?: boolean;
}

/** A string; without `default` it is optional (`undefined` when not set) unless the reader requires it. */
export interface StringSetting extends SettingBase {
  readonly type: 'string';
  readonly default?: string;
  readonly pattern: RegExp;
  /** What `pattern` allows, in words, for messages and docs. */
  readonly allowed: string;
}

/** An absolute `http://` or `https://` URL with a host. Optional unless it has a default or the reader requires it. */
export interface UrlSetting extends SettingBase {
  readonly type: 'url';
  readonly default?: string;
  /** Shown in the message when a required URL is missing. */
  readonly example?: string;
}

export type Setting = IntegerSetting | BooleanSetting | EnumSetting | StringSetting | UrlSetting;
export type SettingTable = Readonly<Record<string, Setting>>;

/** The type a setting reads as: enums as the union of their values, optional strings and URLs with `undefined`. */
export type SettingValue<S extends Setting> = S extends IntegerSetting
  ? number
  : S extends BooleanSetting
    ? boolean
    : S extends EnumSetting
      ? S['values'][number]
      : S extends { readonly default: string }
        ? string
        : string | undefined;

export type SettingValues<T extends SettingTable> = { readonly [K in keyof T]: SettingValue<T[K]> };

// ---------------------------------------------------------------------------------------------------------------
// The tables

/** Powertools' log levels: what `LOG_LEVEL` accepts on AWS and in local mode, in either case. */
export const logLevels = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;
export type LogLevelName = (typeof logLevels)[number];

/** Read by every function (the stack passes each of them as an environment variable) and by local mode. */
export const runtimeSettings = {
  logLevel: {
    type: 'enum',
    context: 'logLevel',
    env: 'LOG_LEVEL',
    flag: 'log-level',
    values: logLevels,
    ignoreCase: true,
    default: 'INFO',
    description: 'Lowest level logged by every function (Powertools) and by local mode; either case.',
  },
  clientMessages: {
    type: 'enum',
    context: 'clientMessages',
    env: 'CLIENT_MESSAGES',
    values: ['ordered', 'concurrent'],
    ignoreCase: true,
    default: 'ordered',
    description:
      "`ordered`: a connection's messages reach the backend one request at a time, in order, each reply applied before the next (Pushpin's behaviour; an SQS FIFO hop). `concurrent`: each message is its own request at once (lower latency, no order).",
  },
  backendTimeoutMs: {
    type: 'integer',
    context: 'backendTimeoutMs',
    env: 'BACKEND_TIMEOUT_MS',
    default: 10_000,
    min: 100,
    max: 28_000,
    description: "How long a WebSocket handler waits for the backend (below API Gateway's 29 s integration timeout).",
  },
  maxSubscriptionsPerConnection: {
    type: 'integer',
    context: 'maxSubscriptionsPerConnection',
    env: 'MAX_SUBSCRIPTIONS_PER_CONNECTION',
    default: 20,
    min: 1,
    max: 1000,
    description: "Channels one connection may join (Pushpin's connection_subscription_max); extra subscribes are ignored and logged.",
  },
  fanoutConcurrency: {
    type: 'integer',
    context: 'fanoutConcurrency',
    env: 'FANOUT_CONCURRENCY',
    default: 100,
    min: 1,
    max: 2000,
    description: 'postToConnection calls in flight per worker (p-limit size; the HTTP agent gets at least as many sockets).',
  },
  fanoutPageSize: {
    type: 'integer',
    context: 'fanoutPageSize',
    env: 'FANOUT_PAGE_SIZE',
    default: 1000,
    min: 10,
    max: 10_000,
    description: 'Subscribers read per channel-index query.',
  },
  fanoutBuckets: {
    type: 'integer',
    context: 'fanoutBuckets',
    env: 'FANOUT_BUCKETS',
    default: 16,
    min: 2,
    max: 1024,
    description: 'How many parallel jobs a channel larger than one page is split into.',
  },
  fanoutMaxAttempts: {
    type: 'integer',
    context: 'fanoutMaxAttempts',
    env: 'FANOUT_MAX_ATTEMPTS',
    default: 5,
    min: 1,
    max: 20,
    description: 'Delivery attempts per connection (in-job retries and re-enqueued retries) before dead-lettering.',
  },
  fanoutRetryBaseMs: {
    type: 'integer',
    context: 'fanoutRetryBaseMs',
    env: 'FANOUT_RETRY_BASE_MS',
    default: 50,
    min: 1,
    max: 10_000,
    description: 'First backoff delay for a throttled or failed delivery; doubles per attempt, with full jitter.',
  },
  fanoutRetryMaxMs: {
    type: 'integer',
    context: 'fanoutRetryMaxMs',
    env: 'FANOUT_RETRY_MAX_MS',
    default: 2_000,
    min: 1,
    max: 60_000,
    description: 'Largest in-job backoff delay.',
  },
  openGraceMs: {
    type: 'integer',
    context: 'openGraceMs',
    env: 'OPEN_GRACE_MS',
    default: 5_000,
    min: 100,
    max: 60_000,
    description: 'How long a 410 for messages from an OPEN reply means "handshake not complete yet" and is retried.',
  },
  keepAliveIntervalMinSeconds: {
    type: 'integer',
    context: 'keepAliveIntervalMinSeconds',
    env: 'KEEP_ALIVE_INTERVAL_MIN_SECONDS',
    default: 20,
    min: 1,
    max: 3_600,
    description:
      "The least `Keep-Alive-Interval` a backend's reply may set (Pushpin's fixed minimum is 20 s); a shorter one is raised to it. Lower it only for tests.",
  },
  idCacheTtlSeconds: {
    type: 'integer',
    context: 'idCacheTtlSeconds',
    env: 'ID_CACHE_TTL_SECONDS',
    default: 60,
    min: 0,
    max: 86_400,
    description:
      "How long a channel remembers a published item's `id` and drops a later item with the same one (Pushpin's `id_cache_ttl`); 0 turns it off.",
  },
  messageWaitMs: {
    type: 'integer',
    context: 'messageWaitMs',
    env: 'MESSAGE_WAIT_MS',
    default: 5_000,
    min: 0,
    max: 900_000,
    description:
      "How long an item whose `prev-id` is not its channel's last delivered id waits for that predecessor before it is delivered anyway (Pushpin's `message_wait`); 0 turns `prev-id` ordering off (and its read and write per publish).",
  },
  historyTtlSeconds: {
    type: 'integer',
    context: 'historyTtlSeconds',
    env: 'HISTORY_TTL_SECONDS',
    default: 3_600,
    min: 0,
    max: 604_800,
    description:
      'How long each channel keeps published items that have an `id`, for resume (`since`) and `GET /channels/{channel}/messages`; 0 turns history off.',
  },
  historyMaxItems: {
    type: 'integer',
    context: 'historyMaxItems',
    env: 'HISTORY_MAX_ITEMS',
    default: 1_000,
    min: 1,
    max: 10_000,
    description:
      'The most items a resume replays (further behind, it fails and sends `recovery-failed`) and a history read serves per channel.',
  },
  controlTokenMaxLifetimeSeconds: {
    type: 'integer',
    context: 'controlTokenMaxLifetimeSeconds',
    env: 'CONTROL_TOKEN_MAX_LIFETIME_SECONDS',
    default: 3_600,
    min: 60,
    max: 31_536_000,
    description: 'The control API refuses a JWT whose exp is further ahead than this (js-grip signs 10 minutes).',
  },
} as const satisfies SettingTable;

export type RuntimeSettings = SettingValues<typeof runtimeSettings>;
export type RuntimeSettingName = keyof RuntimeSettings;

/** Read by the functions that call the backend (their `backend` access) and by local mode. */
export const backendSettings = {
  targetUrl: {
    type: 'url',
    context: 'targetUrl',
    env: 'TARGET_URL',
    flag: 'target',
    example: 'https://backend.example.com/ws',
    description:
      "Your backend: every connection event is POSTed here in WebSocket-over-HTTP format (locally the client's path and query are appended). Required on AWS; locally, absent starts the bundled chat example.",
  },
  gripIss: {
    type: 'string',
    context: 'gripIss',
    env: 'GRIP_ISS',
    flag: 'iss',
    default: 'pushpin',
    pattern: /^[\x21-\x7e]{1,128}$/,
    allowed: '1–128 printable ASCII characters',
    description: 'The `iss` claim of the Grip-Sig token sent to the backend (Pushpin sends `pushpin`).',
  },
} as const satisfies SettingTable;

export type BackendSettings = SettingValues<typeof backendSettings>;

/** Settings that only shape the deployment (event source mapping, memory, throttles): read by the CDK stack. */
export const deploySettings = {
  workerBatchSize: {
    type: 'integer',
    context: 'workerBatchSize',
    default: 10,
    min: 1,
    max: 10,
    description: 'Queue messages per worker invocation (FIFO queues allow at most 10).',
  },
  workerMaxConcurrency: {
    type: 'integer',
    context: 'workerMaxConcurrency',
    default: 10,
    min: 2,
    max: 1000,
    description: 'Event source mapping maximum concurrency: concurrent worker invocations per queue.',
  },
  laneMaxConcurrency: {
    type: 'integer',
    context: 'laneMaxConcurrency',
    default: 50,
    min: 2,
    max: 1000,
    description:
      'Concurrent `ws-message` invocations consuming the ordered lane of client messages (each forwards up to 10 connections at once); caps client messages per second at about this × 10 ÷ the backend latency.',
  },
  workerMemoryMb: {
    type: 'integer',
    context: 'workerMemoryMb',
    default: 1769,
    min: 256,
    max: 10_240,
    description: 'Worker memory; 1,769 MB is one full vCPU, which the signing CPU cost needs.',
  },
  workerTimeoutSeconds: {
    type: 'integer',
    context: 'workerTimeoutSeconds',
    default: 60,
    min: 10,
    max: 900,
    description: 'Worker timeout; jobs hand over their continuation well before it. Queue visibility is 6× this.',
  },
  workerBatchingWindowSeconds: {
    type: 'integer',
    context: 'workerBatchingWindowSeconds',
    default: 0,
    min: 0,
    max: 300,
    description:
      "How long the delayed lane's event source mapping gathers messages before invoking (0 = lowest latency); added to that queue's visibility.",
  },
  maxReceiveCount: {
    type: 'integer',
    context: 'maxReceiveCount',
    default: 5,
    min: 1,
    max: 1000,
    description: 'Receives of one queue message before SQS moves it to the dead-letter queue.',
  },
  stageRateLimit: {
    type: 'integer',
    context: 'stageRateLimit',
    default: 1000,
    min: 1,
    max: 100_000,
    description: 'WebSocket stage steady-state requests per second.',
  },
  stageBurstLimit: {
    type: 'integer',
    context: 'stageBurstLimit',
    default: 2000,
    min: 1,
    max: 100_000,
    description: 'WebSocket stage burst.',
  },
  controlRateLimit: {
    type: 'integer',
    context: 'controlRateLimit',
    default: 500,
    min: 1,
    max: 100_000,
    description: 'Control API steady-state requests per second.',
  },
  controlBurstLimit: {
    type: 'integer',
    context: 'controlBurstLimit',
    default: 1000,
    min: 1,
    max: 100_000,
    description: 'Control API burst.',
  },
} as const satisfies SettingTable;

export type DeploySettings = SettingValues<typeof deploySettings>;

/** Local mode only (`npm start`). */
export const localSettings = {
  gripKey: {
    type: 'string',
    env: 'GRIP_KEY',
    flag: 'key',
    secret: true,
    pattern: /^[^]{8,}$/,
    allowed: 'at least 8 characters',
    description: 'Shared key: signs Grip-Sig and authenticates the control API. Absent: a development key is generated and printed.',
  },
  wsPort: {
    type: 'integer',
    env: 'WS_PORT',
    flag: 'ws-port',
    default: 8080,
    min: 0,
    max: 65_535,
    description: 'WebSocket port (0 picks a free one).',
  },
  controlPort: {
    type: 'integer',
    env: 'CONTROL_PORT',
    flag: 'control-port',
    default: 5561,
    min: 0,
    max: 65_535,
    description: "Control API port (Pushpin's, so existing GRIP_URLs carry over).",
  },
  examplePort: {
    type: 'integer',
    env: 'EXAMPLE_PORT',
    flag: 'example-port',
    default: 8081,
    min: 0,
    max: 65_535,
    description: "The bundled chat example's port.",
  },
  delivery: {
    type: 'enum',
    env: 'LOCAL_DELIVERY',
    flag: 'delivery',
    values: ['direct', 'management-api'],
    default: 'direct',
    description:
      '`direct`: fan-out calls the local gateway in-process; `management-api`: through the local Management API over HTTP, SigV4-signed exactly as the Lambda functions do on AWS.',
  },
  clientMessageConcurrency: {
    type: 'integer',
    env: 'CLIENT_MESSAGE_CONCURRENCY',
    flag: 'client-message-concurrency',
    default: 4,
    min: 1,
    max: 100,
    description:
      "One connection's `$default` invocations in flight at once; past it the gateway stops reading that client's socket (backpressure, nothing dropped), so one noisy client cannot slow the others.",
  },
  clientMessageRate: {
    type: 'integer',
    env: 'CLIENT_MESSAGE_RATE',
    flag: 'client-message-rate',
    default: 100,
    min: 1,
    max: 100_000,
    description: 'Messages per second one connection may send (burst: as many), enforced the same way. On AWS, see stageRateLimit.',
  },
  controlHeadersTimeoutMs: {
    type: 'integer',
    env: 'CONTROL_HEADERS_TIMEOUT_MS',
    flag: 'control-headers-timeout-ms',
    default: 10_000,
    min: 1_000,
    max: 300_000,
    description: "The control API's time to receive a request's headers (Node's default is a minute: slowloris).",
  },
  controlRequestTimeoutMs: {
    type: 'integer',
    env: 'CONTROL_REQUEST_TIMEOUT_MS',
    flag: 'control-request-timeout-ms',
    default: 30_000,
    min: 1_000,
    max: 600_000,
    description: "The control API's time to receive a whole request, body included.",
  },
  controlMaxConnections: {
    type: 'integer',
    env: 'CONTROL_MAX_CONNECTIONS',
    flag: 'control-max-connections',
    default: 1_000,
    min: 1,
    max: 100_000,
    description: 'Concurrent connections to the control API; more are refused (a backend publishes over a few keep-alive ones).',
  },
  dataDir: {
    type: 'string',
    env: 'DATA_DIR',
    flag: 'data-dir',
    pattern: /^[^]+$/,
    allowed: 'a directory',
    description: 'Keep DynamoDB data in this directory. Absent: in memory.',
  },
} as const satisfies SettingTable;

export type LocalSettings = SettingValues<typeof localSettings>;

// ---------------------------------------------------------------------------------------------------------------
// The reader

/** A setting value that misses the mark: the message names where it came from, the value and what is allowed. */
export class SettingError extends Error {
  override readonly name = 'SettingError';
  readonly code = 'INVALID_SETTING';
}

/** One place a setting may be given: the raw value there (`undefined`, `null` or `''` = not given) and its name. */
export interface SettingPlace {
  readonly raw: unknown;
  /** `TARGET_URL`, `context "targetUrl"`, `--target`. */
  readonly name: string;
  /** How to say it is not given there: `TARGET_URL is not set`. */
  readonly absent: string;
}

/** Where a setting's value may come from, first place first. A setting the source has no name for gets `[]`. */
export type SettingSource = (setting: Setting) => readonly SettingPlace[];

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Environment variables (`setting.env`). `only`, when given, restricts the source to those settings (the CDK app
 * takes `TARGET_URL` from the environment, and nothing else).
 */
export function fromEnvironment(env: Environment, only?: readonly Setting[]): SettingSource {
  return (s) =>
    s.env === undefined || (only !== undefined && !only.includes(s))
      ? []
      : [{ raw: env[s.env], name: s.env, absent: `${s.env} is not set` }];
}

/** CDK context (`setting.context`), read with `app.node.tryGetContext`. */
export function fromContext(read: (key: string) => unknown): SettingSource {
  return (s) =>
    s.context === undefined ? [] : [{ raw: read(s.context), name: `context "${s.context}"`, absent: `context "${s.context}" is missing` }];
}

/** Parsed command-line flags (`setting.flag`), as `node:util` `parseArgs` returns them. */
export function fromFlags(values: Readonly<Record<string, unknown>>): SettingSource {
  return (s) => (s.flag === undefined ? [] : [{ raw: values[s.flag], name: `--${s.flag}`, absent: `--${s.flag} is not given` }]);
}

/** The places of several sources, in order: a flag before its environment variable, say. */
export function firstOf(...sources: readonly SettingSource[]): SettingSource {
  return (s) => sources.flatMap((source) => source(s));
}

const given = (raw: unknown): boolean => raw !== undefined && raw !== null && raw !== '';

/** What a setting allows, as the end of "it must be …". */
export function allowedValues(s: Setting): string {
  switch (s.type) {
    case 'integer':
      return s.oneOf ? `one of ${s.oneOf.join(', ')}` : `an integer from ${s.min} to ${s.max} (default ${s.default})`;
    case 'boolean':
      return 'true or false';
    case 'enum':
      return s.values.join(', ');
    case 'string':
      return s.allowed;
    case 'url':
      return 'an http:// or https:// URL';
  }
}

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}

/** The value `raw` stands for, or `undefined` when it is not one the setting allows. */
function parse(s: Setting, raw: unknown): string | number | boolean | undefined {
  switch (s.type) {
    case 'integer': {
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      const ok = Number.isInteger(value) && value >= s.min && value <= s.max && (s.oneOf?.includes(value) ?? true);
      return ok ? value : undefined;
    }
    case 'boolean':
      return raw === true || raw === 'true' ? true : raw === false || raw === 'false' ? false : undefined;
    case 'enum':
      if (typeof raw !== 'string') return undefined;
      return s.values.find((v) => v === raw || (s.ignoreCase === true && v.toLowerCase() === raw.toLowerCase()));
    case 'string':
      return typeof raw === 'string' && s.pattern.test(raw) ? raw : undefined;
    case 'url':
      return typeof raw === 'string' && isHttpUrl(raw) ? raw : undefined;
  }
}

/**
 * Reads one setting from its places: the first place that gives a value wins; none gives the default (or
 * `undefined` for an optional string or URL).
 *
 * @throws SettingError naming the place, the value (unless secret) and what is allowed.
 */
export function readSetting<S extends Setting>(setting: S, places: readonly SettingPlace[]): SettingValue<S> {
  const place = places.find((p) => given(p.raw));
  if (place === undefined) return setting.default as SettingValue<S>;
  const value = parse(setting, place.raw);
  if (value === undefined) {
    const shown = setting.secret === true ? 'not allowed (value not shown)' : JSON.stringify(place.raw);
    throw new SettingError(`${place.name} is ${shown}; it must be ${allowedValues(setting)}. ${setting.description}`);
  }
  return value as SettingValue<S>;
}

/**
 * Reads every setting of a table from one source; the settings named in `required` must be given (or have a
 * default).
 *
 * @throws SettingError for the first invalid or missing value, naming where it was looked for.
 * @example
 * const settings = readSettings(runtimeSettings, fromEnvironment(process.env));
 * const backend = readSettings(backendSettings, fromEnvironment(process.env), ['targetUrl']);
 */
export function readSettings<T extends SettingTable, R extends keyof T = never>(
  table: T,
  source: SettingSource,
  required: readonly R[] = [],
): SettingValues<T> & { readonly [K in R]: NonNullable<SettingValue<T[K]>> } {
  const out: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(table)) {
    const places = source(setting);
    const value = readSetting(setting, places);
    if (value === undefined && (required as readonly string[]).includes(name)) throw missingSetting(name, setting, places);
    out[name] = value;
  }
  return out as SettingValues<T> & { readonly [K in R]: NonNullable<SettingValue<T[K]>> };
}

/** The error for a required setting given nowhere: every place it was looked for, and what it must be. */
export function missingSetting(name: string, setting: Setting, places: readonly SettingPlace[]): SettingError {
  const where = places.length > 0 ? places.map((p) => p.absent).join(' and ') : `${name} is missing`;
  const example = setting.type === 'url' && setting.example !== undefined ? `, e.g. ${setting.example}` : '';
  return new SettingError(`${where}; it must be ${allowedValues(setting)}${example}. ${setting.description}`);
}

/** The environment variables that carry a table's values to a function (settings without `env` are skipped). */
export function settingsToEnv<T extends SettingTable>(table: T, values: SettingValues<T>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, setting] of Object.entries(table)) {
    const value = (values as Record<string, unknown>)[name];
    if (setting.env !== undefined && value !== undefined) env[setting.env] = String(value);
  }
  return env;
}

/** Reads every runtime setting from environment variables (the Lambda and local composition roots). */
export function loadRuntimeSettings(env: Environment): RuntimeSettings {
  return readSettings(runtimeSettings, fromEnvironment(env));
}

/** The environment variables that carry runtime settings to a function. */
export function runtimeSettingsToEnv(settings: RuntimeSettings): Record<string, string> {
  return settingsToEnv(runtimeSettings, settings);
}
