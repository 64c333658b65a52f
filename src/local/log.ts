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
