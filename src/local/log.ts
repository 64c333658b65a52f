/**
 * The logger local-mode components use when the caller passes none: warnings and errors as one JSON line on
 * stderr, debug and info dropped. Local components never crash on bad input; they log, so a default that
 * swallowed errors would hide real problems.
 */
import type { Log } from '../domain/ports.js';

/** Writes `warn` and `error` as JSON lines to stderr; ignores `debug` and `info`. */
export function stderrLog(component: string): Log {
  const write = (level: string, message: string, attributes?: Record<string, unknown>): void => {
    process.stderr.write(`${JSON.stringify({ level, component, message, ...attributes })}\n`);
  };
  return {
    debug: () => {},
    info: () => {},
    warn: (message, attributes) => write('warn', message, attributes),
    error: (message, attributes) => write('error', message, attributes),
  };
}

/** A log attribute for anything thrown: its name and message, never the whole object. */
export function describeError(thrown: unknown): string {
  if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
  return String(thrown);
}
