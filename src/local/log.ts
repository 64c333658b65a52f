/**
 * The logger local-mode components use when the caller passes none: warnings and errors on stderr (secrets
 * redacted, like every `ConsoleLog`), debug and info dropped. Local components never crash on bad input; they log,
 * so a default that swallowed errors would hide real problems.
 */
import { ConsoleLog } from '../adapters/observability.js';
import type { Log } from '../domain/ports.js';

/** A `ConsoleLog` at level `warn` whose lines carry `component`. */
export function stderrLog(component: string): Log {
  return new ConsoleLog({ level: 'warn', context: { component } });
}

/** A log attribute for anything thrown: its name and message, never the whole object. */
export function describeError(thrown: unknown): string {
  if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
  return String(thrown);
}

/**
 * A log that can be told to keep only warnings and errors from then on: local mode's shutdown closes every client
 * at once, and one "connection closed" line per client would bury the one summary line that matters.
 */
export class QuietableLog implements Log {
  #quiet = false;
  constructor(private readonly inner: Log) {}

  /** From now on, drop debug and info lines. */
  quiet(): void {
    this.#quiet = true;
  }
  debug(message: string, attributes?: Record<string, unknown>): void {
    if (!this.#quiet) this.inner.debug(message, attributes);
  }
  info(message: string, attributes?: Record<string, unknown>): void {
    if (!this.#quiet) this.inner.info(message, attributes);
  }
  warn(message: string, attributes?: Record<string, unknown>): void {
    this.inner.warn(message, attributes);
  }
  error(message: string, attributes?: Record<string, unknown>): void {
    this.inner.error(message, attributes);
  }
}
