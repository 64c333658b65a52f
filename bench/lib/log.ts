import type { Log } from '#src/domain/ports.js';

/** A `Log` that counts lines by level and keeps the first few warnings and errors for the report. */
export interface CountingLog extends Log {
  readonly counts: Record<'debug' | 'info' | 'warn' | 'error', number>;
  /** The first warnings and errors, as `level: message`. */
  readonly samples: string[];
  reset(): void;
}

const MAX_SAMPLES = 20;

/**
 * Benchmarks must not flood the terminal (printing costs CPU the benchmark measures), so nothing is printed
 * unless `BENCH_VERBOSE=1`, when warnings and errors go to stderr.
 */
export function quietLog(name: string): CountingLog {
  const verbose = process.env['BENCH_VERBOSE'] === '1';
  const counts = { debug: 0, info: 0, warn: 0, error: 0 };
  const samples: string[] = [];
  const at =
    (level: keyof typeof counts) =>
    (message: string, attributes?: Record<string, unknown>): void => {
      counts[level]++;
      if (level !== 'warn' && level !== 'error') return;
      const line = `${level}: ${message}${attributes ? ` ${safeJson(attributes)}` : ''}`;
      if (samples.length < MAX_SAMPLES) samples.push(line);
      if (verbose) process.stderr.write(`[${name}] ${line}\n`);
    };
  return {
    counts,
    samples,
    reset() {
      for (const k of Object.keys(counts) as (keyof typeof counts)[]) counts[k] = 0;
      samples.length = 0;
    },
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value).slice(0, 300);
  } catch {
    return '[unserializable]';
  }
}
