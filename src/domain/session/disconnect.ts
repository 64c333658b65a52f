import { closeEvent, disconnectEvent, type WsEvent } from '../protocol/events.js';
import { forgetConnections } from '../forget-connections.js';
import type { ConnectionLookup } from '../ports.js';
import { askBackend } from './backend.js';
import type { DisconnectDeps } from './deps.js';

export interface DisconnectInput {
  readonly connectionId: string;
  /** The close code API Gateway reports (`disconnectStatusCode`), when it reports one. */
  readonly statusCode: number | null;
  readonly reason: string | null;
}

export type DisconnectOutcome = { readonly kind: 'disconnected'; readonly backendNotified: boolean; readonly itemsDeleted: boolean };

/** 1005: the close frame had no status code; 1006: no close frame at all (the socket just went away). */
const NO_STATUS = 1005;
const ABNORMAL = 1006;
const TLS_FAILURE = 1015;

/**
 * The event the backend gets for a closed connection, as Pushpin sends it: a client close with a code becomes
 * `CLOSE` with that code and reason; a close frame without a code becomes `CLOSE` with no content; a connection
 * that vanished (1006, or no code known) becomes `DISCONNECT`.
 */
export function closingEvent(statusCode: number | null, reason: string | null): WsEvent {
  if (statusCode === NO_STATUS) return closeEvent(null);
  if (statusCode === null || statusCode === ABNORMAL || statusCode === TLS_FAILURE || statusCode < 1000 || statusCode > 4999) {
    return disconnectEvent();
  }
  return closeEvent(statusCode, reason ?? '');
}

/**
 * `$disconnect`: deletes every item of the connection, then tells the backend (best effort; its answer is
 * ignored, since nothing can be sent to a closed connection) from the record read before the delete.
 * Idempotent: a second disconnect for the same id finds no record and deletes nothing.
 */
export async function onDisconnect(deps: DisconnectDeps, input: DisconnectInput): Promise<DisconnectOutcome> {
  const { log, metrics } = deps;
  const { connectionId } = input;
  const found = await deps.connections.getConnection(connectionId);
  if (!found.ok) {
    log.error('could not read the connection record on disconnect; deleting its items anyway', {
      connectionId,
      detail: found.error.message,
    });
  }
  // Forget first: fan-out must stop treating the connection as joining or alive now, not after a backend that
  // is slow or unreachable (retried for seconds) has answered.
  const itemsDeleted = await forgetConnections(deps, [connectionId], 'disconnected', 'error');
  let backendNotified = false;
  // A detached connection's backend side is already closed: the backend hears nothing more (as Pushpin).
  if (found.ok && found.value !== null && found.value.detached !== true) {
    const response = await askBackend(deps, found.value, [closingEvent(input.statusCode, input.reason)]);
    backendNotified = response.ok;
    if (!response.ok)
      log.warn('backend not told about a disconnect', { connectionId, error: response.error.kind, detail: response.error.message });
  }
  metrics.count('ConnectionsClosed');
  log.info('connection closed', { connectionId, statusCode: input.statusCode, backendNotified });
  return { kind: 'disconnected', backendNotified, itemsDeleted };
}

/** What local mode's stop needs to tell the backend about many connections at once. */
export type ShutdownDeps = Omit<DisconnectDeps, 'connections'> & { readonly connections: ConnectionLookup };

export interface ShutdownOutcome {
  readonly told: number;
  /** The backend could not be reached or did not answer in time. */
  readonly failed: number;
  /** No record was found (the connection never completed its handshake, or was already forgotten). */
  readonly unknown: number;
  /** Not started: the stop's deadline had passed. */
  readonly dropped: number;
}

/**
 * Local mode's stop: tells the backend that each of `closes` went away, as `$disconnect` would, but reading the
 * records in batches and leaving the items alone (the store stops with the process; with a data directory, TTL
 * and fan-out's 410 handling remove them later). `map` runs the backend requests with bounded concurrency (e.g.
 * p-limit's `limit.map`); requests not started by `deadline` are dropped (counted). This is what lets a stop with thousands of clients tell the backend about each within
 * its few seconds: a full `$disconnect` costs several store calls per connection.
 */
export async function tellBackendAtShutdown(
  deps: ShutdownDeps,
  closes: readonly DisconnectInput[],
  map: <T, R>(items: readonly T[], fn: (item: T) => Promise<R>) => Promise<R[]>,
  deadline: number = Number.POSITIVE_INFINITY,
): Promise<ShutdownOutcome> {
  const found = await deps.connections.getConnections(closes.map((c) => c.connectionId));
  if (!found.ok) {
    deps.log.error('could not read the connection records at shutdown; the backend is not told', { detail: found.error.message });
    return { told: 0, failed: closes.length, unknown: 0, dropped: 0 };
  }
  const outcomes = await map(closes, async (close) => {
    const record = found.value.get(close.connectionId);
    if (record === undefined) return 'unknown' as const;
    if (record.detached === true) return 'told' as const; // its backend side closed at the detach
    if (deps.clock() >= deadline) return 'dropped' as const;
    const response = await askBackend(deps, record, [closingEvent(close.statusCode, close.reason)]);
    return response.ok ? ('told' as const) : ('failed' as const);
  });
  const count = (kind: string) => outcomes.filter((o) => o === kind).length;
  const outcome = { told: count('told'), failed: count('failed'), unknown: count('unknown'), dropped: count('dropped') };
  deps.metrics.count('ConnectionsClosed', closes.length);
  if (outcome.failed > 0) deps.log.warn('backend not told about some disconnects at shutdown', { ...outcome });
  return outcome;
}
