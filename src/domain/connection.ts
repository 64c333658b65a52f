import type { Message } from './message.js';

/**
 * What the server remembers about one WebSocket connection between events. API Gateway gives the handshake
 * headers and query only to `$connect`, so they are stored here and replayed on every later backend request,
 * as Pushpin does.
 */
export interface ConnectionRecord {
  readonly connectionId: string;
  /** The client's handshake, already stripped of headers that must not be replayed (see `protocol/request.ts`). */
  readonly handshake: Handshake;
  /** The subprotocol the backend chose (echoed to the client in `Sec-WebSocket-Protocol`), if any. */
  readonly subprotocol: string | null;
  /** GRIP mode, switched on by `Sec-WebSocket-Extensions: grip` on the OPEN reply, with its message prefix. */
  readonly grip: GripMode;
  /** Values stored with `Set-Meta-*`, sent back as `Meta-*` on every later request. Names are lower-case. */
  readonly meta: Readonly<Record<string, string>>;
  /**
   * Filter meta set with the GRIP `set-meta` control message: what publish filters compare with an item's `meta`
   * (e.g. `user` for `skip-self`). Kept apart from `meta`, as Pushpin does. Absent on older records (= empty).
   */
  readonly filterMeta?: Readonly<Record<string, string>>;
  /** Epoch milliseconds when the connection was accepted. */
  readonly connectedAt: number;
  /** Epoch seconds after which the record is garbage (DynamoDB TTL): connectedAt + 2 h + margin. */
  readonly expiresAt: number;
  /** Server heartbeats asked for with the GRIP `keep-alive` control message; absent or null when off. */
  readonly keepAlive?: KeepAlive | null;
  /**
   * Epoch ms of the last message seen on the connection, tracked (coarsely) only while an `idle`-mode keep-alive
   * is on: heartbeats are due `timeoutSeconds` after it.
   */
  readonly lastActivityAt?: number;
  /**
   * Subscription slots in use, kept with conditional writes (`reserveSubscriptionSlots`) so that concurrent replies
   * cannot pass the per-connection cap. Absent on records written before the counter existed (read as 0).
   */
  readonly subscriptionCount?: number;
  /**
   * Set by a `detach` control message: the backend side is closed, the client's frames are read and dropped, and
   * the client keeps its connection and subscriptions (Pushpin's `detached`). Absent = attached.
   */
  readonly detached?: boolean;
  /**
   * Backend polling asked for with the `Keep-Alive-Interval` response header: an empty request is due
   * `intervalSeconds` after the last exchange with the backend (Pushpin's `keepAliveTimer`). Absent or null = off.
   */
  readonly backendPoll?: BackendPoll | null;
  /**
   * Epoch ms of the last answered backend request, tracked (coarsely) only while backend polling is on: the next
   * poll is due `intervalSeconds` after it.
   */
  readonly lastExchangeAt?: number;
}

/**
 * `Keep-Alive-Interval`: poll the backend with an empty request `intervalSeconds` (≥ 20) after the last exchange.
 * `since` (epoch ms when it was set) names the chain of scheduled polls, so a changed interval stops the old chain.
 */
export interface BackendPoll {
  readonly intervalSeconds: number;
  readonly since: number;
}

/**
 * A GRIP keep-alive: send `payload` after `timeoutSeconds` without traffic (`idle`) or every `timeoutSeconds`
 * (`interval`). `since` (epoch ms when it was set) names the chain of scheduled heartbeats, so a changed or
 * cancelled keep-alive stops the old chain.
 */
export interface KeepAlive {
  readonly payload: Message;
  readonly timeoutSeconds: number;
  readonly mode: 'idle' | 'interval';
  readonly since: number;
}

export interface Handshake {
  /** Path relative to the WebSocket endpoint (`/` on AWS, where the stage is the whole path). */
  readonly path: string;
  /** The raw query string without the leading `?` (empty when there was none). */
  readonly query: string;
  /** Header name (lower-case) → value, in the order the client sent them. Multi-valued headers are joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
}

export type GripMode = { readonly enabled: false } | { readonly enabled: true; readonly messagePrefix: string };

/** API Gateway closes every connection after 2 hours; records live a little longer so late events still find them. */
export const CONNECTION_MAX_LIFETIME_SECONDS = 2 * 60 * 60;
export const RECORD_EXPIRY_MARGIN_SECONDS = 15 * 60;

/** The TTL to store on every item of a connection accepted at `connectedAtMs`. */
export function expiryFor(connectedAtMs: number): number {
  return Math.floor(connectedAtMs / 1000) + CONNECTION_MAX_LIFETIME_SECONDS + RECORD_EXPIRY_MARGIN_SECONDS;
}

/** Applies `Set-Meta-*` changes to a connection's meta (a `null` value deletes that key). */
export function applyMetaChanges(
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
