/**
 * Benchmark 5, the soak (issue 9): local mode in a process of its own for 30 minutes (`--soak-seconds`), with
 * 1,000 clients connected throughout and 1,000 more coming and going (20 joins/s), 50 publishes/s spread over
 * channels of ~10, ~100 and ~1,000 subscribers, every client sending a message every 40 s on average, and a
 * backend that resets 5 % of its requests before answering and stops listening for 3 s every 5 minutes.
 *
 * The figures are counts (expected vs delivered, duplicates, clients closed) and the server's RSS and
 * event-loop delay over time; the ideal is 0 lost, 0 duplicated, 0 closed, and a flat RSS.
 */
import { randomBytes } from 'node:crypto';
import type { BenchContext } from './lib/context.js';
import { Host } from './lib/host-client.js';
import { fixed, int, machineLine, max, median, type Table } from './lib/report.js';
import { runSoak, startSoakBackend, type SoakOptions } from './lib/soak.js';

const MB = 1024 * 1024;

export async function benchSoak(ctx: BenchContext): Promise<Table> {
  const { quick, soakSeconds } = ctx.flags;
  const options: SoakOptions = {
    durationMs: soakSeconds * 1000,
    stableClients: quick ? 200 : 1_000,
    churnClients: quick ? 200 : 1_000,
    joinsPerSecond: 20,
    publishesPerSecond: 50,
    clientMessageEveryMs: 40_000,
    outageEveryMs: quick ? 30_000 : 300_000,
    outageMs: 3_000,
    sampleEveryMs: Math.max(5_000, Math.round((soakSeconds * 1000) / 30)),
  };
  const failureRate = 0.05;
  const key = randomBytes(24).toString('base64url');
  const backend = await startSoakBackend({ key, failureRate });
  const host = Host.start();
  try {
    const stack = await host.call('local.start', { targetUrl: backend.url, gripKey: key, delivery: 'direct' });
    const report = await runSoak({ ...stack, sample: () => host.call('local.sample', null) }, backend, options);
    const { samples } = report;
    const rss = samples.map((s) => s.rssBytes / MB);
    const loops = samples.slice(1).map((s) => s.eventLoopP99Ms);
    const middle = rss[Math.floor(rss.length / 2)] ?? Number.NaN;
    const seconds = report.elapsedMs / 1000;
    const row = (measure: string, value: string, ideal: string): string[] => [measure, value, ideal];
    return {
      title: 'Soak: local mode under churn, publishes and a flaky backend',
      parameters: [
        ['machine', machineLine()],
        ['duration', `${int(seconds)} s (asked ${int(soakSeconds)} s)`],
        [
          'clients',
          `${int(options.stableClients)} connected throughout + ${int(options.churnClients)} churning, ${options.joinsPerSecond} joins/s asked`,
        ],
        [
          'channels',
          `${report.channels.big} of ~${int((options.stableClients + options.churnClients) / 2)}, ${report.channels.mid} of ~100, ${report.channels.small} of ~10; publishes uniformly over them`,
        ],
        ['publishes', `${options.publishesPerSecond}/s asked, each a POST through the control API (@grip-channel-server/client)`],
        ['client messages', `one per client per ${options.clientMessageEveryMs / 1000} s on average, echoed by the backend`],
        [
          'backend',
          `resets ${failureRate * 100} % of requests before answering; down (connection refused) ${options.outageMs / 1000} s every ${options.outageEveryMs / 1000} s`,
        ],
        ['delivery', "local mode, delivery 'direct', in a host process of its own"],
      ],
      columns: ['measure', 'measured', 'ideal'],
      rows: [
        row('joins / s (achieved)', fixed(report.joins / seconds), `≥ ${options.joinsPerSecond}`),
        row(
          'clients alive (min–max)',
          `${int(report.aliveMin)}–${int(report.aliveMax)}`,
          `${int(options.stableClients + options.churnClients)}`,
        ),
        row('publishes / s (achieved)', fixed(report.publishes / seconds), `≥ ${options.publishesPerSecond}`),
        row('publishes refused', int(report.publishFailures), '0'),
        row('joins refused', int(report.joinsRefused), '0'),
        row('stable clients: expected / delivered', `${int(report.stable.expected)} / ${int(report.stable.delivered)}`, 'equal'),
        row('stable clients: lost', int(report.stable.lost), '0'),
        row('stable clients: echoes lost', int(report.stable.echoesLost), '0'),
        row('churning clients: expected / delivered', `${int(report.churn.expected)} / ${int(report.churn.delivered)}`, 'equal'),
        row('churning clients: lost', int(report.churn.lost), '0'),
        row('duplicates', int(report.duplicates), '0'),
        row(
          'delivery latency p50 / p99 / p99.9 / max, ms',
          [report.latencyMs.p50, report.latencyMs.p99, report.latencyMs.p999, report.latencyMs.max].map((n) => int(n)).join(' / '),
          '–',
        ),
        row('clients wrongly closed', int(report.wronglyClosed), '0'),
        row(
          'backend requests / reset / outages',
          `${int(report.backend.requests)} / ${int(report.backend.resets)} / ${report.backend.outages}`,
          '–',
        ),
        row(
          'server RSS start / middle / end, MB',
          `${int(rss[0] ?? Number.NaN)} / ${int(middle)} / ${int(rss.at(-1) ?? Number.NaN)}`,
          'flat',
        ),
        row('server RSS end ÷ start', fixed((rss.at(-1) ?? Number.NaN) / (rss[0] ?? Number.NaN), 2), '≈ 1'),
        row('event-loop delay p99, ms (median / worst window)', `${fixed(median(loops))} / ${fixed(max(loops))}`, 'small'),
      ],
      notes: [
        `Stable clients opened before the first publish and must get every publish to their channel; a churning client must get every publish that started after its handshake and finished ≥ 2 s before it left.`,
        `Server samples every ${int(options.sampleEveryMs / 1000)} s (RSS MB @ s): ${samples.map((s) => `${int(s.rssBytes / MB)}@${int(s.atMs / 1000)}`).join(' ')}`,
        ...(samples.some((s) => s.liveHeapBytes !== undefined)
          ? [
              `Heap after a full GC (MB @ s): ${samples.map((s) => `${int((s.liveHeapBytes ?? Number.NaN) / MB)}@${int(s.atMs / 1000)}`).join(' ')}`,
            ]
          : []),
        `Slowest delivery (s) and deliveries over 5 s, per window ending @ s: ${samples
          .slice(1)
          .map((s) => `${fixed(s.windowMaxLatencyMs / 1000)}/${int(s.windowLate)}@${int(s.atMs / 1000)}`)
          .join(' ')}`,
        ...report.closeSamples.map((s) => `close: ${s}`),
        ...report.lostSamples.map((s) => `lost: ${s}`),
      ],
    };
  } finally {
    await host.stop();
    await backend.stop();
  }
}
