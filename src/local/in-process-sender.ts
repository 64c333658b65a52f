/**
 * The in-process connection sender: the `ConnectionSender` port served straight from the local gateway's
 * connection registry, with no HTTP and no request signing. Local mode uses it where delivery speed matters
 * (a signed Management API call costs ~0.3–0.6 ms of CPU, docs/performance.md §4.3); the HTTP path stays
 * covered by the local Management API and its tests.
 */
import type { CloseRequest, ConnectionSender, SendOutcome } from '../domain/ports.js';
import type { LocalConnections } from './connections.js';

/**
 * `ConnectionSender` over the local gateway's live connections.
 *
 * Outcomes match what the Management API answers for the same situation (`gone` for unknown or pending
 * connections, `too-large` over 128 KB, `throttled` when the client's send buffer is full), and calls never
 * throw.
 *
 * One deliberate difference from AWS: `close` honours `code` and `reason`. API Gateway's `DeleteConnection`
 * cannot carry them, so on AWS (and through the local Management API) the client always sees 1000.
 *
 * @example
 * const sender = new InProcessConnectionSender(localGateway.connections);
 * await sender.post(connectionId, 'hello');
 * await sender.close(connectionId, { code: 4000, reason: 'bye' });
 */
export class InProcessConnectionSender implements ConnectionSender {
  constructor(private readonly connections: LocalConnections) {}

  post(connectionId: string, data: string | Uint8Array): Promise<SendOutcome> {
    return Promise.resolve(this.connections.post(connectionId, data));
  }

  close(connectionId: string, request?: CloseRequest): Promise<SendOutcome> {
    return Promise.resolve(this.connections.close(connectionId, request));
  }
}
