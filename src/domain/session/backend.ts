import type { Handshake } from '../connection.js';
import type { WsEvent } from '../protocol/events.js';
import { buildBackendRequest } from '../protocol/request.js';
import type { BackendError, BackendResponse } from '../ports.js';
import type { Result } from '../result.js';
import { equalJitterDelay } from '../backoff.js';
import type { BackendDeps } from './deps.js';

/** Tries of one backend exchange when the backend cannot be reached, as Pushpin does (the first included). */
export const BACKEND_CONNECT_ATTEMPTS = 6;
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 4_000;
/**
 * The least time the retries of one exchange span (equal jitter: half of each step is fixed), when the backend
 * timeout allows it: an outage shorter than this (a backend instance restarting) never reaches a client.
 */
export const BACKEND_MIN_RETRY_SPAN_MS = [1, 2, 3, 4, 5].reduce((sum, a) => sum + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** a) / 2, 0);

/**
 * Sends one WebSocket-over-HTTP request for a connection to the backend, signed with a fresh `Grip-Sig`, and
 * records its latency. Transport failures come back as values (and are counted), never as throws.
 *
 * A backend that could not be reached (`connect`: refused, unresolvable, reset before any byte of a response) is
 * tried again up to 5 times with jittered backoff, as Pushpin retries its origin, while the retries fit in
 * `backendTimeoutMs` (or the shorter `budgetMs`, which also bounds each try): a rolling deploy of the backend does
 * not close clients. The jitter is "equal" (half of each
 * delay fixed), so the retries span at least {@link BACKEND_MIN_RETRY_SPAN_MS} (5.75 s) however the dice fall. A timeout or a bad response is
 * never retried: the backend may have processed the request.
 */
export async function askBackend(
  deps: BackendDeps,
  connection: { readonly connectionId: string; readonly handshake: Handshake; readonly meta: Readonly<Record<string, string>> },
  events: readonly WsEvent[],
  options: { readonly budgetMs?: number } = {},
): Promise<Result<BackendResponse, BackendError>> {
  const budgetMs = Math.min(deps.config.backendTimeoutMs, options.budgetMs ?? Infinity);
  const built = buildBackendRequest({
    targetUrl: deps.config.targetUrl,
    connectionId: connection.connectionId,
    handshake: connection.handshake,
    meta: connection.meta,
    events,
    gripSig: await deps.signer.sign(),
  });
  const started = deps.clock();
  // Within a budget shorter than the backend timeout, each try gets only what is left of it.
  const send = () =>
    deps.backend.send(budgetMs < deps.config.backendTimeoutMs ? { ...built, timeoutMs: budgetMs - (deps.clock() - started) } : built);
  let result = await send();
  for (let attempt = 1; attempt < BACKEND_CONNECT_ATTEMPTS && !result.ok && result.error.kind === 'connect'; attempt++) {
    const delay = Math.max(1, equalJitterDelay(attempt, RETRY_BASE_MS, RETRY_MAX_MS, deps.random));
    if (deps.clock() - started + delay >= budgetMs) break;
    deps.log.debug('backend unreachable; trying again', { connectionId: connection.connectionId, attempt, delayMs: delay });
    await deps.sleep(delay);
    result = await send();
  }
  deps.metrics.timing('BackendLatency', deps.clock() - started);
  if (!result.ok) deps.metrics.count('BackendErrors');
  return result;
}
