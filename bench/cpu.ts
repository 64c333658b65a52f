/**
 * Benchmark 2, CPU per delivery: µs of this process's CPU (`process.cpuUsage`, user + system) per
 * `postToConnection` with L = 0, for the Management API paths (the full SDK client, and SignedHttpConnectionSender
 * as deployed) and for local mode's in-process `direct` gateway, as bare adapter calls and through the worker.
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import pLimit from 'p-limit';
import { ApiGatewayConnectionSender, createManagementApiClient } from '#src/adapters/apigw-connection-sender.js';
import { SignedHttpConnectionSender } from '#src/adapters/signed-http-connection-sender.js';
import type { ConnectionSender } from '#src/domain/ports.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#src/local/services.js';
import { efficiencyAudience } from './lib/audience.js';
import { epochNow } from './lib/clock.js';
import type { BenchContext } from './lib/context.js';
import { connectionIdOf, type IdFamily } from './lib/ids.js';
import { localSink, publishAndMeasure, remoteSink } from './lib/measure.js';
import { startPipeline, type GatewayChoice, type Pipeline } from './lib/pipeline.js';
import { fixed, int, machineLine, median, ratio, spread, type Table } from './lib/report.js';
import { CountingConnections } from './lib/sink.js';

const CONCURRENCY = 100;
const TARGET_US = 150;

interface Sample {
  readonly cpuUs: number;
  readonly rate: number;
  readonly cores: number;
  readonly serverUs: number;
}

interface Row {
  readonly name: string;
  readonly calls: string;
  run(): Promise<Sample>;
}

export async function benchCpu(ctx: BenchContext): Promise<Table> {
  const { quick, runs } = ctx.flags;
  const { channel, family } = efficiencyAudience(quick);
  const n = family.count;
  const services = await ctx.services();
  const { host, endpoints } = services;
  await services.seed(channel, family);
  await host.call('sink.configure', family);
  await host.call('mgmt.tune', { latencyMs: 0, rateLimit: null });
  const message = 'x'.repeat(100);

  const defaultClient = new ApiGatewayManagementApiClient({
    endpoint: endpoints.managementApiEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const ours = createManagementApiClient({
    endpoint: endpoints.managementApiEndpoint,
    region: LOCAL_REGION,
    maxSockets: CONCURRENCY,
    credentials: LOCAL_CREDENTIALS,
  });
  const oursGateway = new ApiGatewayConnectionSender({ client: ours });
  const signed = new SignedHttpConnectionSender({
    endpoint: endpoints.managementApiEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxSockets: CONCURRENCY,
  });
  const defaultGateway: ConnectionSender = {
    async post(connectionId, data) {
      await defaultClient.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
      return { kind: 'ok' };
    },
    close: () => Promise.resolve({ kind: 'ok' }),
  };
  const directSink = new CountingConnections(family);
  const pipelines: Pipeline[] = [];
  try {
    const oneWorker = async (queuePrefix: string, gateway: GatewayChoice): Promise<Pipeline> => {
      const pipeline = await startPipeline({
        endpoints,
        queuePrefix,
        workers: 1,
        concurrency: CONCURRENCY,
        gateway,
        pollerConcurrency: 4,
        log: ctx.log,
      });
      pipelines.push(pipeline);
      return pipeline;
    };
    const signedPipeline = await oneWorker('cpu-signed-', { kind: 'signed', maxSockets: CONCURRENCY });
    const directPipeline = await oneWorker('cpu-direct-', { kind: 'direct', connections: directSink });
    const remote = remoteSink(host);
    const viaWorker = (pipeline: Pipeline, sinkIsRemote: boolean) => async (): Promise<Sample> => {
      const run = await publishAndMeasure(pipeline, sinkIsRemote ? remote : localSink(directSink), {
        channel,
        expected: n,
        timeoutMs: 180_000,
        settleMs: 30_000,
        host,
      });
      const delivered = Math.max(1, run.atEnd.delivered);
      return {
        cpuUs: run.cpuUs / delivered,
        rate: run.atEnd.unique / ((run.completeMs ?? run.wallMs) / 1000),
        cores: run.cpuUs / 1000 / run.wallMs,
        serverUs: sinkIsRemote && run.hostCpuUs !== null ? run.hostCpuUs / delivered : Number.NaN,
      };
    };
    const rows: Row[] = [
      { name: 'baseline: default SDK client, bare send()', calls: int(n), run: () => bareCalls(ctx, defaultGateway, family, message) },
      {
        name: 'full SDK client: ApiGatewayConnectionSender, bare post()',
        calls: int(n),
        run: () => bareCalls(ctx, oursGateway, family, message),
      },
      { name: 'SignedHttpConnectionSender (deployed), bare post()', calls: int(n), run: () => bareCalls(ctx, signed, family, message) },
      { name: 'SignedHttpConnectionSender through the worker', calls: `${int(n)} (1 publish)`, run: viaWorker(signedPipeline, true) },
      {
        name: 'direct gateway (local mode default) through the worker',
        calls: `${int(n)} (1 publish)`,
        run: viaWorker(directPipeline, false),
      },
    ];
    const samples = new Map<Row, Sample[]>();
    // Round 0 warms up; the rows take turns so the machine's background load is shared out evenly.
    for (let round = 0; round <= runs; round++) {
      for (const row of rows) {
        const sample = await row.run();
        if (round === 0) continue;
        const list = samples.get(row);
        if (list) list.push(sample);
        else samples.set(row, [sample]);
      }
    }
    const baseline = median((samples.get(rows[0] as Row) ?? []).map((s) => s.cpuUs));
    const signedBare = median((samples.get(rows[2] as Row) ?? []).map((s) => s.cpuUs));
    const signedWorker = median((samples.get(rows[3] as Row) ?? []).map((s) => s.cpuUs));
    return {
      title: 'Benchmark 2: CPU per delivery (µs of process CPU per postToConnection, L = 0)',
      parameters: [
        ['machine', machineLine()],
        [
          'calls',
          `${int(n)} per run to ${int(n)} distinct connection ids, ${CONCURRENCY} in flight (p-limit, or the worker's limiter), 100-byte text message`,
        ],
        [
          'Management API latency L',
          '0 ms; the API and its counting sink run in a process of their own, so their CPU is not counted (shown separately as "server µs")',
        ],
        ['runs', `${runs} measured runs per row after 1 warm-up, rows interleaved; medians (min–max)`],
        [
          'gateways',
          'default SDK client = new ApiGatewayManagementApiClient({ endpoint, region, credentials }); full SDK client = createManagementApiClient (keep-alive, maxSockets 100, maxAttempts 1, cacheMiddleware) + ApiGatewayConnectionSender; SignedHttpConnectionSender = ExecuteApiSigner (SigV4 for the Management API, checked against @smithy/signature-v4) on a keep-alive node:http agent (maxSockets 100), what the Lambda functions use',
        ],
        [
          'through the worker',
          'CPU of the whole bench process during one publish: control API, SQS client and pollers, dynalite queries, worker, gateway',
        ],
      ],
      columns: ['path', 'calls/run', 'CPU µs/delivery', 'vs target 150', 'vs baseline', 'deliveries/s', 'CPU cores', 'server µs/request'],
      rows: rows.map((row) => {
        const s = samples.get(row) ?? [];
        const cpu = median(s.map((x) => x.cpuUs));
        return [
          row.name,
          row.calls,
          spread(
            s.map((x) => x.cpuUs),
            (v) => fixed(v, 0),
          ),
          ratio(cpu / TARGET_US),
          ratio(cpu / baseline),
          int(median(s.map((x) => x.rate))),
          fixed(median(s.map((x) => x.cores)), 2),
          fixed(median(s.map((x) => x.serverUs)), 0),
        ];
      }),
      notes: [
        `Target: ≤ ${TARGET_US} µs per delivery on the deployed path (SignedHttpConnectionSender) → bare ${fixed(signedBare, 0)} µs, through the worker ${fixed(signedWorker, 0)} µs (${signedWorker <= TARGET_US ? 'met' : 'NOT met'}).`,
        'No TLS here (plain HTTP to 127.0.0.1): on AWS each call also pays TLS record encryption, so real costs are higher.',
        "The direct row delivers into an in-process counting LocalConnections: it shows the worker's own overhead; real local mode adds a ws frame write (~9–15 µs per recipient, docs/performance.md §4.3).",
      ],
    };
  } finally {
    for (const p of pipelines) await p.stop();
    defaultClient.destroy();
    ours.destroy();
    signed.destroy();
  }
}

/** `family.count` bare gateway calls, `CONCURRENCY` at a time, one per connection. */
async function bareCalls(ctx: BenchContext, gateway: ConnectionSender, family: IdFamily, message: string): Promise<Sample> {
  const { host } = await ctx.services();
  const limit = pLimit(CONCURRENCY);
  let failures = 0;
  const hostBefore = await host.call('cpu', null);
  const cpuBefore = process.cpuUsage();
  const t0 = epochNow();
  await limit.map(
    Array.from({ length: family.count }, (_, i) => i),
    async (i) => {
      const outcome = await gateway.post(connectionIdOf(family.prefix, i), message);
      if (outcome.kind !== 'ok') failures++;
    },
  );
  const wallMs = epochNow() - t0;
  const cpu = process.cpuUsage(cpuBefore);
  const hostAfter = await host.call('cpu', null);
  if (failures > 0) ctx.log.warn('bare calls failed', { failures });
  const cpuUs = cpu.user + cpu.system;
  return {
    cpuUs: cpuUs / family.count,
    rate: family.count / (wallMs / 1000),
    cores: cpuUs / 1000 / wallMs,
    serverUs: (hostAfter.user + hostAfter.system - hostBefore.user - hostBefore.system) / family.count,
  };
}
