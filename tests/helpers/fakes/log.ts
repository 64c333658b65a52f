/** `Log` and `Metrics` fakes that keep what they were given. */
import type { Log, MetricName, Metrics, TimingName } from '#src/domain/ports.js';

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly attributes: Record<string, unknown>;
}

/** A `Log` that keeps every entry; with `print` it also writes them to the console (to follow a long test). */
export class RecordingLog implements Log {
  readonly entries: LogEntry[] = [];
  readonly #print: boolean;
  constructor(options: { readonly print?: boolean } = {}) {
    this.#print = options.print ?? false;
  }
  debug(message: string, attributes: Record<string, unknown> = {}): void {
    this.#add('debug', message, attributes);
  }
  info(message: string, attributes: Record<string, unknown> = {}): void {
    this.#add('info', message, attributes);
  }
  warn(message: string, attributes: Record<string, unknown> = {}): void {
    this.#add('warn', message, attributes);
  }
  error(message: string, attributes: Record<string, unknown> = {}): void {
    this.#add('error', message, attributes);
  }
  at(level: LogEntry['level']): LogEntry[] {
    return this.entries.filter((e) => e.level === level);
  }
  /** Entries at `level` whose message, or any string attribute, contains `text`. */
  find(level: LogEntry['level'], text: string): LogEntry[] {
    return this.at(level).filter(
      (e) => e.message.includes(text) || Object.values(e.attributes).some((v) => typeof v === 'string' && v.includes(text)),
    );
  }
  #add(level: LogEntry['level'], message: string, attributes: Record<string, unknown>): void {
    this.entries.push({ level, message, attributes });
    if (this.#print) console.log(`[${level}] ${message} ${JSON.stringify(attributes)}`);
  }
}

export class RecordingMetrics implements Metrics {
  readonly counts = new Map<MetricName, number>();
  readonly timings: { readonly name: TimingName; readonly milliseconds: number }[] = [];
  count(name: MetricName, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
  timing(name: TimingName, milliseconds: number): void {
    this.timings.push({ name, milliseconds });
  }
  total(name: MetricName): number {
    return this.counts.get(name) ?? 0;
  }
}
