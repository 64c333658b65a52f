import type { Log } from '../domain/ports.js';

export interface RateLimitedLogOptions {
  /** Lines with the same message and level kept per interval; the rest are counted. Default 10. */
  readonly perInterval?: number;
  /** Default 60,000 ms. */
  readonly intervalMs?: number;
  readonly clock?: () => number;
}

/**
 * A log that keeps floods from outside from filling the disk or burying real errors: per warning text, at most
 * `perInterval` lines per interval are written; the next one written after the interval carries
 * `suppressed: <count>`. Warnings are what outsiders can cause at will (refused credentials, a backend's junk
 * control messages); info lines are the normal record of work and errors are ours to fix: both pass unlimited.
 *
 * @example
 * const log = new RateLimitedLog(powertools, { perInterval: 10, intervalMs: 60_000 });
 * log.warn('control request refused', { reason }); // the 11th within a minute is only counted
 */
export class RateLimitedLog implements Log {
  readonly #inner: Log;
  readonly #perInterval: number;
  readonly #intervalMs: number;
  readonly #clock: () => number;
  readonly #windows = new Map<string, { start: number; written: number; suppressed: number }>();

  constructor(inner: Log, options: RateLimitedLogOptions = {}) {
    this.#inner = inner;
    this.#perInterval = options.perInterval ?? 10;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#clock = options.clock ?? Date.now;
  }

  debug(message: string, attributes?: Record<string, unknown>): void {
    this.#inner.debug(message, attributes);
  }
  info(message: string, attributes?: Record<string, unknown>): void {
    this.#inner.info(message, attributes);
  }
  warn(message: string, attributes?: Record<string, unknown>): void {
    this.#write('warn', message, attributes);
  }
  error(message: string, attributes?: Record<string, unknown>): void {
    this.#inner.error(message, attributes);
  }

  #write(level: 'warn', message: string, attributes?: Record<string, unknown>): void {
    const key = `${level}\u0000${message}`;
    const now = this.#clock();
    let window = this.#windows.get(key);
    if (window === undefined || now - window.start >= this.#intervalMs) {
      const suppressed = window?.suppressed ?? 0;
      window = { start: now, written: 0, suppressed: 0 };
      this.#windows.set(key, window);
      // Bounded: old windows are dropped once their interval is over and a new kind of line arrives.
      if (this.#windows.size > 1_000) for (const [k, w] of this.#windows) if (now - w.start >= this.#intervalMs) this.#windows.delete(k);
      if (suppressed > 0) attributes = { ...attributes, suppressed };
    }
    if (window.written >= this.#perInterval) {
      window.suppressed++;
      return;
    }
    window.written++;
    this.#inner[level](message, attributes);
  }
}
