/**
 * Every tunable, once: its CDK context key, its environment variable, default and allowed range. The CDK app
 * validates context values against this table at synth time and passes the runtime ones to the functions as
 * environment variables; local mode and the Lambda composition roots read the same variables with
 * `loadRuntimeSettings`. One table, so a default cannot differ between AWS and local mode.
 */

export interface IntegerSetting {
  readonly type: 'integer';
  readonly context: string;
  readonly env: string;
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly description: string;
}

/** Settings the running functions read (also passed to Lambda as environment variables). */
export const runtimeSettings = {
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
} as const satisfies Record<string, IntegerSetting>;

export type RuntimeSettingName = keyof typeof runtimeSettings;
export type RuntimeSettings = { readonly [K in RuntimeSettingName]: number };

/** Settings that only shape the deployment (event source mapping, memory, alarms, throttles). */
export const deploySettings = {
  workerBatchSize: {
    type: 'integer',
    context: 'workerBatchSize',
    env: 'WORKER_BATCH_SIZE',
    default: 10,
    min: 1,
    max: 10,
    description: 'Queue messages per worker invocation (FIFO queues allow at most 10).',
  },
  workerMaxConcurrency: {
    type: 'integer',
    context: 'workerMaxConcurrency',
    env: 'WORKER_MAX_CONCURRENCY',
    default: 10,
    min: 2,
    max: 1000,
    description: 'Event source mapping maximum concurrency: concurrent worker invocations per queue.',
  },
  workerMemoryMb: {
    type: 'integer',
    context: 'workerMemoryMb',
    env: 'WORKER_MEMORY_MB',
    default: 1769,
    min: 256,
    max: 10_240,
    description: 'Worker memory; 1,769 MB is one full vCPU, which the signing CPU cost needs.',
  },
  workerTimeoutSeconds: {
    type: 'integer',
    context: 'workerTimeoutSeconds',
    env: 'WORKER_TIMEOUT_SECONDS',
    default: 60,
    min: 10,
    max: 900,
    description: 'Worker timeout; jobs hand over their continuation well before it. Queue visibility is 6× this.',
  },
  workerBatchingWindowSeconds: {
    type: 'integer',
    context: 'workerBatchingWindowSeconds',
    env: 'WORKER_BATCHING_WINDOW_SECONDS',
    default: 0,
    min: 0,
    max: 300,
    description:
      "How long the delayed lane's event source mapping gathers messages before invoking (0 = lowest latency); added to that queue's visibility.",
  },
  maxReceiveCount: {
    type: 'integer',
    context: 'maxReceiveCount',
    env: 'MAX_RECEIVE_COUNT',
    default: 5,
    min: 1,
    max: 1000,
    description: 'Receives of one queue message before SQS moves it to the dead-letter queue.',
  },
  stageRateLimit: {
    type: 'integer',
    context: 'stageRateLimit',
    env: 'STAGE_RATE_LIMIT',
    default: 1000,
    min: 1,
    max: 100_000,
    description: 'WebSocket stage steady-state requests per second.',
  },
  stageBurstLimit: {
    type: 'integer',
    context: 'stageBurstLimit',
    env: 'STAGE_BURST_LIMIT',
    default: 2000,
    min: 1,
    max: 100_000,
    description: 'WebSocket stage burst.',
  },
  controlRateLimit: {
    type: 'integer',
    context: 'controlRateLimit',
    env: 'CONTROL_RATE_LIMIT',
    default: 500,
    min: 1,
    max: 100_000,
    description: 'Control API steady-state requests per second.',
  },
  controlBurstLimit: {
    type: 'integer',
    context: 'controlBurstLimit',
    env: 'CONTROL_BURST_LIMIT',
    default: 1000,
    min: 1,
    max: 100_000,
    description: 'Control API burst.',
  },
} as const satisfies Record<string, IntegerSetting>;

export type DeploySettingName = keyof typeof deploySettings;
export type DeploySettings = { readonly [K in DeploySettingName]: number };

/** A setting value that is missing the mark: the message names the key, the value and the allowed range. */
export class SettingError extends Error {
  override readonly name = 'SettingError';
  readonly code = 'INVALID_SETTING';
}

/**
 * Reads one integer setting from a raw value (a context value or an environment variable): `undefined` or an
 * empty string gives the default; anything else must be an integer within range.
 *
 * @throws SettingError naming `source` (e.g. `context "fanoutConcurrency"` or `FANOUT_CONCURRENCY`), the value
 *   and the allowed range.
 */
export function readIntegerSetting(setting: IntegerSetting, raw: unknown, source: string): number {
  if (raw === undefined || raw === null || raw === '') return setting.default;
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isInteger(value) || value < setting.min || value > setting.max) {
    throw new SettingError(
      `${source} is ${JSON.stringify(raw)}; it must be an integer from ${setting.min} to ${setting.max} (default ${setting.default}). ${setting.description}`,
    );
  }
  return value;
}

/**
 * Reads every setting of a table with `readIntegerSetting`; `read` says where each value comes from (an environment
 * variable, a context key) and how to name that source in an error. @throws SettingError for the first bad value.
 */
export function readIntegerSettings<K extends string>(
  table: Record<K, IntegerSetting>,
  read: (setting: IntegerSetting) => { readonly raw: unknown; readonly source: string },
): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const name of Object.keys(table) as K[]) {
    const setting = table[name];
    const { raw, source } = read(setting);
    out[name] = readIntegerSetting(setting, raw, source);
  }
  return out;
}

/** Reads every runtime setting from environment variables (the Lambda and local composition roots). */
export function loadRuntimeSettings(env: Readonly<Record<string, string | undefined>>): RuntimeSettings {
  return readIntegerSettings(runtimeSettings, (setting) => ({ raw: env[setting.env], source: setting.env }));
}

/** The environment variables that carry runtime settings to a function. */
export function runtimeSettingsToEnv(settings: RuntimeSettings): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, setting] of Object.entries(runtimeSettings) as [RuntimeSettingName, IntegerSetting][]) {
    env[setting.env] = String(settings[name]);
  }
  return env;
}
