/**
 * Benchmark 3, scale-out: a publish to N subscribers, published through the control API (so the channel job
 * splits as in production), delivered by K fan-out worker processes against a Management API with a token
 * bucket. Measures the rate achieved against the limit, the 429s the workers drew, and that every subscriber
 * got the message: exactly once, with duplicates counted per connection id.
 */
import { scaleOutAudience } from './lib/audience.js';
import type { BenchContext } from './lib/context.js';
import type { IdFamily } from './lib/ids.js';
import { publishAndMeasure, remoteSink, type PublishRun } from './lib/measure.js';
import { startPipeline, type Pipeline } from './lib/pipeline.js';
import { fixed, int, machineLine, median, ratio, spread, type Table } from './lib/report.js';

const LATENCY_MS = 20;
const CONCURRENCY = 100;

interface Scenario {
  readonly workers: number;
  readonly perSecond: number;
  readonly burst: number;
  readonly channel: string;
  readonly family: IdFamily;
}

export async function benchScaleOut(ctx: BenchContext): Promise<Table> {
  const { quick, runs } = ctx.flags;
  const big = scaleOutAudience(quick);
  // A limit below what one worker reaches on this machine, so the bucket really binds and the workers must
  // back off; a smaller channel keeps the run short at that rate.
  const small = { channel: 'bench-scaleout-throttled', family: { prefix: 't', count: quick ? 5_000 : 20_000 } };
  const scenarios: Scenario[] = [
    { workers: 1, perSecond: 2_000, burst: 1_000, ...big },
    { workers: 4, perSecond: 2_000, burst: 1_000, ...big },
    { workers: 1, perSecond: 400, burst: 200, ...small },
    { workers: 4, perSecond: 400, burst: 200, ...small },
  ];
  const services = await ctx.services();
  const { host } = services;
  const seedSeconds = [await services.seed(big.channel, big.family), await services.seed(small.channel, small.family)].reduce(
    (s, x) => s + x.seconds,
    0,
  );
  await host.call('mgmt.tune', { latencyMs: LATENCY_MS, rateLimit: null });

  const pipelines = new Map<number, Pipeline>();
  const results = new Map<Scenario, PublishRun[]>();
  try {
    for (const k of new Set(scenarios.map((s) => s.workers))) {
      pipelines.set(
        k,
        await startPipeline({
          endpoints: services.endpoints,
          queuePrefix: `scale${k}-`,
          workers: k,
          workerProcesses: true,
          concurrency: CONCURRENCY,
          gateway: { kind: 'signed', maxSockets: CONCURRENCY },
          pollerConcurrency: 4,
          log: ctx.log,
        }),
      );
    }
    const sink = remoteSink(host);
    for (let round = 1; round <= runs; round++) {
      for (const scenario of scenarios) {
        const pipeline = pipelines.get(scenario.workers);
        if (!pipeline) continue;
        await host.call('sink.configure', scenario.family);
        // A fresh bucket per run: every run starts with the same burst allowance.
        await host.call('mgmt.tune', { rateLimit: { perSecond: scenario.perSecond, burst: scenario.burst } });
        const expectedSeconds = (scenario.family.count - scenario.burst) / scenario.perSecond;
        const run = await publishAndMeasure(pipeline, sink, {
          channel: scenario.channel,
          expected: scenario.family.count,
          timeoutMs: Math.max(120_000, expectedSeconds * 6_000),
          settleMs: 180_000,
          host,
        });
        const list = results.get(scenario);
        if (list) list.push(run);
        else results.set(scenario, [run]);
      }
    }
  } finally {
    await host.call('mgmt.tune', { rateLimit: null });
    for (const p of pipelines.values()) await p.stop();
  }

  const rateOf = (r: PublishRun) => r.atEnd.unique / ((r.completeMs ?? r.wallMs) / 1000);
  const rows = scenarios.map((scenario) => {
    const rs = results.get(scenario) ?? [];
    const rates = rs.map(rateOf);
    const single = scenarios.find((s) => s.workers === 1 && s.perSecond === scenario.perSecond);
    const baseline = median((single ? (results.get(single) ?? []) : []).map(rateOf));
    const throttled = rs.map((r) => r.byStatus?.['429'] ?? 0);
    const requests = rs.map((r) => Object.values(r.byStatus ?? {}).reduce((a, b) => a + b, 0));
    const workerCores = rs.map((r) => r.workerCpuUs / 1000 / r.wallMs);
    const requeued = rs.map((r) => r.counters['DeliveriesRetried'] ?? 0);
    return [
      `K = ${scenario.workers}`,
      int(scenario.family.count),
      `${int(scenario.perSecond)}/s (burst ${int(scenario.burst)})`,
      spread(rates),
      ratio(median(rates) / scenario.perSecond),
      ratio(median(rates) / baseline),
      spread(throttled),
      `${fixed((100 * median(throttled)) / Math.max(1, median(requests)), 1)} %`,
      int(median(requeued)),
      `${rs.filter((r) => r.final.missing === 0).length}/${rs.length}`,
      int(rs.reduce((s, r) => s + r.final.missing, 0)),
      int(rs.reduce((s, r) => s + r.final.duplicates, 0)),
      int(rs.reduce((s, r) => s + r.deadLettered, 0)),
      fixed(median(workerCores), 2),
      `${int(100 * median(rs.map((r) => r.workerLoopBusy ?? Number.NaN)))} %`,
      fixed(median(rs.map((r) => (r.completeMs ?? r.wallMs) / 1000)), 1),
    ];
  });
  const ratios = scenarios.map((s) => median((results.get(s) ?? []).map(rateOf)) / s.perSecond);
  const lost = [...results.values()].flat().reduce((s, r) => s + r.final.missing, 0);
  const unsettled = [...results.values()].flat().filter((r) => !r.settled).length;
  return {
    title: 'Benchmark 3: scale-out against a rate-limited Management API',
    parameters: [
      ['machine', machineLine()],
      [
        'subscribers N',
        `${int(big.family.count)} on one channel (limit ${int(2_000)}/s rows), ${int(small.family.count)} on another (throttled rows); seeding took ${fixed(seedSeconds)} s`,
      ],
      [
        'rate limit',
        "token bucket over every Management API request as listed (AWS's ratio: 10,000/s with a 5,000 burst); an empty bucket answers 429 LimitExceededException",
      ],
      ['Management API latency L', `${LATENCY_MS} ms`],
      [
        'workers K',
        `separate processes, each one createFanoutWorker with its own clients, limiter (C = ${CONCURRENCY}) and pollers (batch 10, 4 invocations per queue) on the same queues, as K Lambda containers`,
      ],
      [
        'gateway',
        `SignedHttpConnectionSender (ExecuteApiSigner on a keep-alive agent, maxSockets ${CONCURRENCY}), as the Lambda functions use it`,
      ],
      [
        'publish',
        'ControlClient → control API → one channel job on the FIFO queue; workers split it 16 ways per hop (page 1,000), as in production',
      ],
      ['runs', `${runs} per row, rows interleaved; medians (min–max); every run starts with a full bucket`],
    ],
    columns: [
      'workers',
      'N',
      'rate limit',
      'deliveries/s',
      'vs limit',
      'vs K = 1',
      '429s',
      '429 share',
      'in-job retries',
      'all delivered',
      'missing',
      'duplicates',
      'dead-lettered',
      'worker cores',
      'worker loop busy',
      'seconds',
    ],
    rows,
    notes: [
      `Target: ≥ 0.90 of the limit with zero lost deliveries → ${scenarios.map((s, i) => `K = ${s.workers} at ${int(s.perSecond)}/s: ${ratio(ratios[i] ?? Number.NaN)}`).join('; ')}; ${int(lost)} lost (${ratios.every((r) => r >= 0.9) && lost === 0 ? 'met' : 'NOT met'}).`,
      `Ideal (limit model §5.3): min(K × C/L, limit) = the limit in every row (C/L = ${int(CONCURRENCY / (LATENCY_MS / 1000))}/s per worker), plus the one-off burst. "worker cores" = CPU of all worker processes ÷ wall time: where it is near the CPU this shared machine can give, the workers are CPU-bound below the limit. "worker loop busy" = share of wall time the workers' event loops were not waiting for I/O (summed over processes).`,
      'deliveries/s = distinct subscribers reached ÷ (time from just before the publish POST until the last one had it).',
      `"missing" counts subscribers without the message once the pipeline went idle (in-job retries, re-enqueued and dead-lettered jobs all done${unsettled > 0 ? `; ${unsettled} run(s) did not go idle within the settle time` : ''}); "duplicates" counts deliveries beyond the first per connection id, summed over runs; "dead-lettered" counts DLQ messages the runs added.`,
      'The connections are a counting in-memory LocalConnections behind the real Management API HTTP server.',
    ],
  };
}
