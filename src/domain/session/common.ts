import type { Handshake } from '../connection.js';
import type { WsEvent } from '../protocol/events.js';
import { buildBackendRequest } from '../protocol/request.js';
import type { OutgoingMessage, SessionAction } from '../protocol/reply.js';
import type { Payload } from '../fanout/jobs.js';
import { encodeBase64 } from '../protocol/base64.js';
import type { BackendError, BackendResponse } from '../ports.js';
import type { Result } from '../result.js';
import type { SessionDeps } from './deps.js';
import type { SubscriptionOp } from './subscriptions.js';

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

export function messagePayload(message: OutgoingMessage): Payload {
  return message.kind === 'text' ? { kind: 'text', text: message.text } : { kind: 'binary', base64: encodeBase64(message.data) };
}

/** The subscribe/unsubscribe operations of a reply, in order. */
export function subscriptionOps(actions: readonly SessionAction[]): SubscriptionOp[] {
  const ops: SubscriptionOp[] = [];
  for (const action of actions) {
    if (action.kind !== 'control') continue;
    const m = action.message;
    if (m.type === 'subscribe' || m.type === 'unsubscribe') ops.push({ op: m.type, channel: m.channel });
  }
  return ops;
}

/** Control messages this server parses but does not act on, with the reason, for the log. */
export function unsupportedControls(actions: readonly SessionAction[]): string[] {
  const out: string[] = [];
  for (const action of actions) {
    if (action.kind !== 'control') continue;
    const type = action.message.type;
    if (type === 'detach') out.push('detach ignored: API Gateway keeps the client connection either way');
    if (type === 'set-meta') out.push('set-meta ignored: publish filters (skip-self, …) are not supported');
  }
  return out;
}

/** Applies `Set-Meta-*` changes to a meta map (null deletes). */
export function applyMeta(
  meta: Readonly<Record<string, string>>,
  changes: Readonly<Record<string, string | null>>,
): Record<string, string> {
  const out: Record<string, string> = { ...meta };
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) delete out[name];
    else out[name] = value;
  }
  return out;
}

export function hasChanges(changes: object): boolean {
  return Object.keys(changes).length > 0;
}
