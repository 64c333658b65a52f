/**
 * A host process for the parts of a benchmark that are not its subject: started by the bench process with
 * `fork`, driven over IPC (`lib/protocol.ts`). Running them here keeps their CPU out of the bench process's
 * `process.cpuUsage()` and gives them the machine's other core, as API Gateway, DynamoDB and SQS are other
 * machines on AWS.
 *
 * It hosts the local AWS services (dynalite, fauxqs), or the local Management API over a counting sink (in a
 * process of its own, so dynalite's queries do not delay its answers), or one fan-out worker (a Lambda
 * container's worth, for the scale-out benchmark), or the whole local mode (`startLocal`) for the end-to-end
 * benchmark.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { loadRuntimeSettings, runtimeSettings, type RuntimeSettings } from '#src/config/settings.js';
import { startLocal, type LocalStack } from '#src/local/start.js';
import { startManagementApi, type ManagementApi } from '#src/local/management-api.js';
import { LOCAL_CREDENTIALS, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';
import { CountingConnections } from './lib/sink.js';
import { isOpName, ops, requestSchema, type OpName, type OpResult } from './lib/protocol.js';
import { quietLog } from './lib/log.js';
import { REPORTED_COUNTERS, startWorker, type RunningWorker } from './lib/pipeline.js';

const sink = new CountingConnections();
let services: LocalAwsServices | null = null;
let managementApi: ManagementApi | null = null;
let local: LocalStack | null = null;
let worker: RunningWorker | null = null;
const log = quietLog('host');
const loopDelay = monitorEventLoopDelay({ resolution: 10 });

type Handlers = { [K in OpName]: (args: ReturnType<(typeof ops)[K]['args']['parse']>) => Promise<OpResult<K>> };

const handlers: Handlers = {
  async 'services.start'() {
    services = await startLocalAwsServices();
    return { dynamoEndpoint: services.dynamoEndpoint, sqsEndpoint: services.sqsEndpoint };
  },
  async 'mgmt.start'({ tuning }) {
    managementApi = await startManagementApi({ connections: sink, credentials: LOCAL_CREDENTIALS, stage: 'bench', log, ...tuning });
    return { managementApiEndpoint: managementApi.endpoint };
  },
  async 'mgmt.tune'(tuning) {
    requireManagementApi().setOptions(tuning);
    return null;
  },
  async 'mgmt.stats'() {
    const stats = requireManagementApi().stats();
    return { requests: stats.requests, byStatus: Object.fromEntries(Object.entries(stats.byStatus)) };
  },
  async 'sink.configure'(family) {
    sink.configure(family);
    return null;
  },
  async 'sink.reset'() {
    sink.reset();
    return null;
  },
  async 'sink.stats'() {
    return sink.stats();
  },
  async 'local.start'({ targetUrl, gripKey, delivery }) {
    // BENCH_LOCAL_SETTINGS (JSON runtime settings) compares modes in the soak, e.g. {"clientMessages":"concurrent"}.
    const settings = runtimeSettingOverrides(process.env['BENCH_LOCAL_SETTINGS']);
    local = await startLocal({ wsPort: 0, controlPort: 0, targetUrl, gripKey, delivery, log, ...(settings ? { settings } : {}) });
    loopDelay.enable();
    return { wsUrl: local.wsUrl, controlUrl: local.controlUrl };
  },
  async 'local.sample'() {
    // With --expose-gc (NODE_OPTIONS), the heap after a full collection: what is retained, not what awaits the GC.
    const gc: unknown = Reflect.get(globalThis, 'gc');
    const liveHeapBytes = typeof gc === 'function' ? (gc(), process.memoryUsage().heapUsed) : undefined;
    const sample = {
      rssBytes: process.memoryUsage().rss,
      eventLoopP99Ms: loopDelay.percentile(99) / 1e6,
      ...(liveHeapBytes !== undefined ? { liveHeapBytes } : {}),
    };
    loopDelay.reset();
    return sample;
  },
  async 'worker.start'({ endpoints, queues, concurrency, gateway, maxSockets, pollerConcurrency }) {
    if (worker) throw new Error('this host already runs a worker');
    worker = await startWorker({ endpoints, queues, concurrency, gateway: { kind: gateway, maxSockets }, pollerConcurrency, log });
    return null;
  },
  async 'worker.stats'() {
    if (!worker) throw new Error('worker.start has not run');
    const counters: Record<string, number> = {};
    for (const name of REPORTED_COUNTERS) counters[name] = worker.metrics.counter(name);
    const { idle, active } = performance.eventLoopUtilization();
    return { inFlight: worker.inFlight(), counters, warnings: log.counts.warn, errors: log.counts.error, loop: { idle, active } };
  },
  async cpu() {
    return process.cpuUsage();
  },
  async stop() {
    await worker?.stop();
    await local?.stop();
    await managementApi?.stop();
    await services?.stop();
    worker = null;
    local = null;
    managementApi = null;
    services = null;
    return null;
  },
};

function requireManagementApi(): ManagementApi {
  if (!managementApi) throw new Error('mgmt.start has not run');
  return managementApi;
}

async function dispatch(op: OpName, rawArgs: unknown): Promise<unknown> {
  // Each handler gets the arguments its own schema parsed; the table above ties the two together.
  const run = handlers[op] as (args: unknown) => Promise<unknown>;
  return run(ops[op].args.parse(rawArgs));
}

process.on('message', (raw: unknown) => {
  const request = requestSchema.safeParse(raw);
  if (!request.success) {
    log.error('ignoring a malformed IPC message');
    return;
  }
  const { id, op, args } = request.data;
  const reply = (message: unknown): void => {
    process.send?.(message);
  };
  if (!isOpName(op)) {
    reply({ id, ok: false, error: `unknown op ${op}` });
    return;
  }
  dispatch(op, args).then(
    (value) => {
      reply({ id, ok: true, value });
      if (op === 'stop') process.disconnect();
    },
    (e: unknown) => reply({ id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
  );
});

// The parent going away (a crash or Ctrl-C) must not leave this process behind.
process.on('disconnect', () => {
  void handlers.stop(null).finally(() => process.exit(0));
});

/** Runtime settings for the local stack from a JSON object, validated as local mode validates them. */
function runtimeSettingOverrides(json: string | undefined): Partial<RuntimeSettings> | undefined {
  if (json === undefined || json === '') return undefined;
  const parsed: unknown = JSON.parse(json);
  if (typeof parsed !== 'object' || parsed === null) throw new Error('BENCH_LOCAL_SETTINGS must be a JSON object');
  const env = Object.fromEntries(
    Object.entries(parsed).map(([name, value]) => {
      const setting = Object.entries(runtimeSettings).find(([key]) => key === name)?.[1];
      if (setting === undefined) throw new Error(`BENCH_LOCAL_SETTINGS: unknown setting ${name}`);
      return [setting.env, String(value)];
    }),
  );
  return loadRuntimeSettings(env);
}
