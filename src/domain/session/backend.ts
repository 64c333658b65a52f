import type { Handshake } from '../connection.js';
import type { WsEvent } from '../protocol/events.js';
import { buildBackendRequest } from '../protocol/request.js';
import type { BackendError, BackendResponse } from '../ports.js';
import type { Result } from '../result.js';
import type { SessionDeps } from './deps.js';

/**
 * Sends one WebSocket-over-HTTP request for a connection to the backend, signed with a fresh `Grip-Sig`, and
 * records its latency. Transport failures come back as values (and are counted), never as throws.
 */
export async function askBackend(
  deps: SessionDeps,
  connection: { readonly connectionId: string; readonly handshake: Handshake; readonly meta: Readonly<Record<string, string>> },
  events: readonly WsEvent[],
): Promise<Result<BackendResponse, BackendError>> {
  const request = buildBackendRequest({
    targetUrl: deps.config.targetUrl,
    connectionId: connection.connectionId,
    handshake: connection.handshake,
    meta: connection.meta,
    events,
    gripSig: await deps.signer.sign(),
  });
  const started = deps.clock();
  const result = await deps.backend.send(request);
  deps.metrics.timing('BackendLatency', deps.clock() - started);
  if (!result.ok) deps.metrics.count('BackendErrors');
  return result;
}
