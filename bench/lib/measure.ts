/**
 * One measured publish through a pipeline: publish, wait until every subscriber has its message, then wait for
 * the pipeline to go idle (retries, late duplicates) and take the final counts.
 */
import { performance } from 'node:perf_hooks';
import type { Host } from './host-client.js';
import { epochNow, sleep } from './clock.js';
import type { Pipeline } from './pipeline.js';
import type { CountingConnections, SinkStats } from './sink.js';

/** The sink, wherever it lives: behind the Management API (its own process) or in this one. */
export interface SinkView {
  reset(): Promise<void>;
  stats(): Promise<SinkStats>;
}

export function remoteSink(host: Host): SinkView {
  return {
    reset: async () => {
      await host.call('sink.reset', null);
    },
    stats: () => host.call('sink.stats', null),
  };
}

export function localSink(sink: CountingConnections): SinkView {
  return {
    reset: async () => sink.reset(),
    stats: async () => sink.stats(),
  };
}

export interface PublishRun {
  readonly expected: number;
  /** Epoch ms just before the publish POST. */
  readonly t0: number;
  /** From t0 until every subscriber had the message (null if some never did). */
  readonly completeMs: number | null;
  /** From t0 until the first delivery. */
  readonly firstMs: number | null;
  /** Counts when the run ended (complete, or timed out). */
  readonly atEnd: SinkStats;
  /** Counts once the pipeline was idle again: late duplicates included. */
  readonly final: SinkStats;
  /** This process's CPU (user + system) from t0 until the run ended, µs. */
  readonly cpuUs: number;
  readonly wallMs: number;
  /** The Management API process's CPU over the same interval, µs (null when there is none). */
  readonly hostCpuUs: number | null;
  /** CPU of worker processes over the same interval, µs (0 when the workers run in this process). */
  readonly workerCpuUs: number;
  /**
   * Fraction of the interval this process's event loop was busy (not waiting in epoll). Near 1 means the process
   * never waited for I/O: it was CPU-bound, or runnable but not scheduled on a busy machine.
   */
  readonly loopBusy: number;
  /** The same for the worker processes together (null when the workers run in this process). */
  readonly workerLoopBusy: number | null;
  /** Gateway calls of in-process workers until the run ended: count, mean duration (ms), mean in flight. */
  readonly calls: { readonly count: number; readonly meanMs: number; readonly meanInFlight: number };
  /** The workers' counters (throttles, retries, splits…) added during the run, settling included. */
  readonly counters: Readonly<Record<string, number>>;
  /** Management API responses by status during the run (null without a Management API). */
  readonly byStatus: Readonly<Record<string, number>> | null;
  readonly deadLettered: number;
  readonly settled: boolean;
}

export interface PublishOptions {
  readonly channel: string;
  readonly expected: number;
  /** Give up waiting for completion after this long. */
  readonly timeoutMs: number;
  /** Give up waiting for the pipeline to go idle after this long. */
  readonly settleMs: number;
  readonly host?: Host;
}

/** Publishes one message and measures its fan-out (see the module comment). */
export async function publishAndMeasure(pipeline: Pipeline, sink: SinkView, options: PublishOptions): Promise<PublishRun> {
  const { host } = options;
  await sink.reset();
  const statusBefore = host ? (await host.call('mgmt.stats', null)).byStatus : null;
  const deadBefore = await pipeline.deadLettered();
  const hostCpuBefore = host ? await host.call('cpu', null) : null;
  const countersBefore = await pipeline.counters();
  const workerCpuBefore = await pipeline.workerCpuUs();
  const workerLoopBefore = await pipeline.workerLoop();
  const loopBefore = performance.eventLoopUtilization();
  const timingBefore = pipeline.gatewayTiming();
  const cpuBefore = process.cpuUsage();
  const t0 = epochNow();
  await pipeline.publish(options.channel, `bench ${t0}`);
  let atEnd = await sink.stats();
  const deadline = t0 + options.timeoutMs;
  while (atEnd.unique < options.expected && epochNow() < deadline) {
    await sleep(20);
    atEnd = await sink.stats();
  }
  const cpu = process.cpuUsage(cpuBefore);
  const loopBusy = performance.eventLoopUtilization(loopBefore).utilization;
  const wallMs = epochNow() - t0;
  const timingAfter = pipeline.gatewayTiming();
  const callCount = timingAfter.calls - timingBefore.calls;
  const callMs = timingAfter.totalMs - timingBefore.totalMs;
  const hostCpuAfter = host ? await host.call('cpu', null) : null;
  const workerCpuUs = (await pipeline.workerCpuUs()) - workerCpuBefore;
  const workerLoopAfter = await pipeline.workerLoop();
  const workerActive = workerLoopAfter.active - workerLoopBefore.active;
  const workerTotal = workerActive + workerLoopAfter.idle - workerLoopBefore.idle;

  let settled = false;
  const settleDeadline = epochNow() + options.settleMs;
  while (epochNow() < settleDeadline) {
    if (await pipeline.idle()) {
      settled = true;
      break;
    }
    await sleep(100);
  }
  const final = await sink.stats();
  const statusAfter = host ? (await host.call('mgmt.stats', null)).byStatus : null;
  const byStatus = statusBefore && statusAfter ? diffCounts(statusAfter, statusBefore) : null;
  const counters = diffCounts(await pipeline.counters(), countersBefore);
  return {
    expected: options.expected,
    t0,
    completeMs: atEnd.completeAt === null ? null : atEnd.completeAt - t0,
    firstMs: atEnd.firstAt === null ? null : atEnd.firstAt - t0,
    atEnd,
    final,
    cpuUs: cpu.user + cpu.system,
    wallMs,
    hostCpuUs: hostCpuBefore && hostCpuAfter ? hostCpuAfter.user + hostCpuAfter.system - hostCpuBefore.user - hostCpuBefore.system : null,
    workerCpuUs,
    loopBusy,
    calls: { count: callCount, meanMs: callCount > 0 ? callMs / callCount : Number.NaN, meanInFlight: callMs / wallMs },
    workerLoopBusy: workerTotal > 0 ? workerActive / workerTotal : null,
    counters,
    byStatus,
    deadLettered: (await pipeline.deadLettered()) - deadBefore,
    settled,
  };
}

function diffCounts(after: Readonly<Record<string, number>>, before: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}
