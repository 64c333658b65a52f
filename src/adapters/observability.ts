import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel as PowertoolsLogLevel } from '@aws-lambda-powertools/logger/types';
import { Metrics as PowertoolsMetricsClient, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { LogLevelName } from '../config/settings.js';
import type { Log, MetricName, Metrics, TimingName } from '../domain/ports.js';

// ---------------------------------------------------------------------------------------------------------------
// Logs

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Powertools' order of levels (`LOG_LEVEL`), with the four the `Log` port writes among them. */
const LEVEL_RANK: Record<LogLevel | LogLevelName, number> = {
  ...{ TRACE: 0, DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40, CRITICAL: 50, SILENT: 60 },
  ...{ debug: 10, info: 20, warn: 30, error: 40 },
};

/** A `Log` that can derive a child carrying fixed attributes (a connection id, a job id) on every line. */
export interface ContextLog extends Log {
  /** A log whose lines all carry `attributes` as well (secrets redacted); this log is unchanged. */
  withContext(attributes: Record<string, unknown>): ContextLog;
}

/**
 * Attribute names whose values are never logged: credentials, signatures, cookies and keys, wherever they
 * appear in the attributes (a forwarded header map, say).
 */
const SECRET_NAME =
  /^(authorization|proxy-authorization|cookie|set-cookie|grip-sig|x-api-key|key)$|secret|password|passwd|token|credential|signature|private|grip[-_]?key|api[-_]?key/i;

export const REDACTED = '[redacted]';

/** The four `Log` methods, each handing its level to `emit`. */
abstract class LevelLog implements ContextLog {
  debug(message: string, attributes?: Record<string, unknown>): void {
    this.emit('debug', message, attributes);
  }
  info(message: string, attributes?: Record<string, unknown>): void {
    this.emit('info', message, attributes);
  }
  warn(message: string, attributes?: Record<string, unknown>): void {
    this.emit('warn', message, attributes);
  }
  error(message: string, attributes?: Record<string, unknown>): void {
    this.emit('error', message, attributes);
  }
  abstract withContext(attributes: Record<string, unknown>): ContextLog;
  protected abstract emit(level: LogLevel, message: string, attributes?: Record<string, unknown>): void;
}

/**
 * Copies log attributes with every value under a secret-looking name replaced by `[redacted]`, at any depth (up
 * to 6 levels; deeper structure is summarised). `Error`s are kept as they are so loggers can format them.
 */
export function redact(attributes: Record<string, unknown>): Record<string, unknown> {
  return redactValue(attributes, 0) as Record<string, unknown>;
}

function redactValue(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Error || value instanceof Date) return value;
  if (depth >= 6) return '[…]';
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_NAME.test(k) ? REDACTED : redactValue(v, depth + 1);
  return out;
}

export interface PowertoolsLogOptions {
  /** The `service` key of every line. Default `grip-channel-server`. */
  readonly serviceName?: string;
  /**
   * Lowest level written: any Powertools level (`TRACE` … `SILENT`, either case). Default `info`;
   * `POWERTOOLS_LOG_LEVEL` / `AWS_LAMBDA_LOG_LEVEL` override it.
   */
  readonly level?: PowertoolsLogLevel;
  /** An existing Powertools logger to write through (its settings win). */
  readonly logger?: Logger;
}

/**
 * The Lambda log: Powertools' `Logger`, one JSON line per call on stdout (CloudWatch Logs), with the
 * attributes merged into the line after redaction (see `redact`).
 *
 * @example
 * const log = new PowertoolsLog({ serviceName: 'ws-connect' });
 * log.withContext({ connectionId }).warn('backend refused', { status: 403 });
 */
export class PowertoolsLog extends LevelLog {
  private readonly logger: Logger;

  constructor(options: PowertoolsLogOptions = {}) {
    super();
    this.logger =
      options.logger ??
      new Logger({
        serviceName: options.serviceName ?? 'grip-channel-server',
        logLevel: options.level ?? 'info',
      });
  }

  /** The underlying Powertools logger (e.g. for `addContext(lambdaContext)` in a handler). */
  get powertools(): Logger {
    return this.logger;
  }

  withContext(attributes: Record<string, unknown>): ContextLog {
    return new PowertoolsLog({ logger: this.logger.createChild({ persistentKeys: redact(attributes) }) });
  }

  protected emit(level: LogLevel, message: string, attributes?: Record<string, unknown>): void {
    if (attributes) this.logger[level](message, redact(attributes));
    else this.logger[level](message);
  }
}

export interface ConsoleLogOptions {
  /** Lowest level written: one of the four `Log` levels, or any `LOG_LEVEL` (`TRACE` … `SILENT`). Default `info`. */
  readonly level?: LogLevel | LogLevelName | undefined;
  /** Where a finished line goes. Default: `warn`/`error` to stderr, the rest to stdout. */
  readonly write?: (line: string, level: LogLevel) => void;
  /** Attributes on every line. */
  readonly context?: Record<string, unknown>;
  /** Milliseconds since the epoch, for the time column. Default `Date.now`. */
  readonly clock?: () => number;
}

const defaultWrite = (line: string, level: LogLevel): void => {
  (level === 'warn' || level === 'error' ? process.stderr : process.stdout).write(`${line}\n`);
};

/**
 * The local-mode log, for people: `12:00:01.234 WARN  message key=value other="two words"`, filtered by
 * level, secrets redacted (see `redact`). Errors print as `Name: message`.
 */
export class ConsoleLog extends LevelLog {
  private readonly level: LogLevel | LogLevelName;
  private readonly write: (line: string, level: LogLevel) => void;
  private readonly context: Record<string, unknown>;
  private readonly clock: () => number;

  constructor(options: ConsoleLogOptions = {}) {
    super();
    this.level = options.level ?? 'info';
    this.write = options.write ?? defaultWrite;
    this.context = redact(options.context ?? {});
    this.clock = options.clock ?? Date.now;
  }

  withContext(attributes: Record<string, unknown>): ContextLog {
    return new ConsoleLog({ level: this.level, write: this.write, clock: this.clock, context: { ...this.context, ...attributes } });
  }

  protected emit(level: LogLevel, message: string, attributes?: Record<string, unknown>): void {
    if (LEVEL_RANK[level] < LEVEL_RANK[this.level]) return;
    const all = { ...this.context, ...(attributes ? redact(attributes) : {}) };
    const time = new Date(this.clock()).toISOString().slice(11, 23);
    const pairs = Object.entries(all).map(([k, v]) => `${k}=${formatValue(v)}`);
    this.write([time, level.toUpperCase().padEnd(5), message, ...pairs].join(' '), level);
  }
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(`${value.name}: ${value.message}`);
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics

/** `Metrics` that buffer: `flush()` writes what was recorded since the last flush (handlers call it per invocation). */
export interface FlushableMetrics extends Metrics {
  flush(): void;
}

export interface PowertoolsMetricsOptions {
  /** CloudWatch namespace. Default `GripChannelServer` (the dashboards and alarms use it). */
  readonly namespace?: string;
  /** The `service` dimension. Default `grip-channel-server`. */
  readonly serviceName?: string;
  /** Dimensions on every metric, e.g. `{ function: 'fanout-worker' }`. */
  readonly defaultDimensions?: Record<string, string>;
}

/**
 * The Lambda metrics: CloudWatch embedded metric format through Powertools' `Metrics`. Counters are summed in
 * memory and written as one value per name on `flush()` (1,000 deliveries cost one number, not 1,000); timings
 * keep every sample (Powertools writes up to 100 values per metric per line). Nothing is written until
 * `flush()`, and a flush with nothing recorded writes nothing.
 *
 * @example
 * const metrics = new PowertoolsMetrics({ defaultDimensions: { function: 'control' } });
 * metrics.count('Published', items.length);
 * metrics.flush(); // at the end of every invocation
 */
export class PowertoolsMetrics implements FlushableMetrics {
  private readonly metrics: PowertoolsMetricsClient;
  private readonly counters = new Map<MetricName, number>();

  constructor(options: PowertoolsMetricsOptions = {}) {
    this.metrics = new PowertoolsMetricsClient({
      namespace: options.namespace ?? 'GripChannelServer',
      serviceName: options.serviceName ?? 'grip-channel-server',
      ...(options.defaultDimensions ? { defaultDimensions: options.defaultDimensions } : {}),
    });
  }

  count(name: MetricName, value = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + value);
  }

  timing(name: TimingName, milliseconds: number): void {
    this.metrics.addMetric(name, MetricUnit.Milliseconds, milliseconds);
  }

  flush(): void {
    for (const [name, value] of this.counters) this.metrics.addMetric(name, MetricUnit.Count, value);
    this.counters.clear();
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }
}

/** What `InMemoryMetrics` remembers of one timing. */
export interface TimingSummary {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  /** The most recent samples, oldest first (at most `maxSamples`). */
  readonly samples: readonly number[];
}

export interface MetricsSnapshot {
  readonly counters: Readonly<Partial<Record<MetricName, number>>>;
  readonly timings: Readonly<Partial<Record<TimingName, TimingSummary>>>;
}

/**
 * Metrics kept in memory, for local mode and the benchmarks: counters, and per timing its count, sum, min, max
 * and the most recent `maxSamples` samples (memory stays bounded however long it runs). `flush()` does nothing.
 *
 * @example
 * const metrics = new InMemoryMetrics();
 * // … run a publish …
 * metrics.counter('Deliveries'); metrics.percentile('PublishLatency', 99);
 */
export class InMemoryMetrics implements FlushableMetrics {
  private readonly maxSamples: number;
  private readonly counters = new Map<MetricName, number>();
  private readonly timingData = new Map<TimingName, { count: number; sum: number; min: number; max: number; samples: number[] }>();

  constructor(options: { readonly maxSamples?: number } = {}) {
    this.maxSamples = options.maxSamples ?? 10_000;
  }

  count(name: MetricName, value = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + value);
  }

  timing(name: TimingName, milliseconds: number): void {
    let t = this.timingData.get(name);
    if (!t) {
      t = { count: 0, sum: 0, min: Infinity, max: -Infinity, samples: [] };
      this.timingData.set(name, t);
    }
    t.count++;
    t.sum += milliseconds;
    t.min = Math.min(t.min, milliseconds);
    t.max = Math.max(t.max, milliseconds);
    t.samples.push(milliseconds);
    // trim in bulk so recording stays O(1) amortised
    if (t.samples.length >= 2 * this.maxSamples) t.samples.splice(0, t.samples.length - this.maxSamples);
  }

  flush(): void {}

  /** The counter's total (0 when never counted). */
  counter(name: MetricName): number {
    return this.counters.get(name) ?? 0;
  }

  /** The timing's summary, or `null` when it was never recorded. */
  timings(name: TimingName): TimingSummary | null {
    const t = this.timingData.get(name);
    if (!t) return null;
    return { count: t.count, sum: t.sum, min: t.min, max: t.max, samples: t.samples.slice(-this.maxSamples) };
  }

  /** The `p`-th percentile (0–100, nearest rank) of the kept samples, or `null` without samples. */
  percentile(name: TimingName, p: number): number | null {
    const samples = this.timings(name)?.samples;
    if (!samples || samples.length === 0) return null;
    const sorted = [...samples].sort((a, b) => a - b);
    const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
    return sorted[rank - 1] ?? null;
  }

  snapshot(): MetricsSnapshot {
    const timings: Partial<Record<TimingName, TimingSummary>> = {};
    for (const name of this.timingData.keys()) {
      const t = this.timings(name);
      if (t) timings[name] = t;
    }
    return { counters: Object.fromEntries(this.counters), timings };
  }

  reset(): void {
    this.counters.clear();
    this.timingData.clear();
  }
}
