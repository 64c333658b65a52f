/**
 * The registry of live connections of the local WebSocket gateway. The local Management API and the in-process
 * connection gateway both deliver through it, so the two paths answer with the same outcomes API Gateway gives.
 */
import { Buffer } from 'node:buffer';
import type { CloseRequest, SendOutcome } from '../domain/ports.js';
import { isSendableCloseCode, MAX_CLOSE_REASON_BYTES, MAX_MESSAGE_BYTES } from '../domain/protocol/limits.js';
import { truncateUtf8 } from '../domain/protocol/values.js';

/**
 * Send-buffer size above which a post answers `throttled`, as API Gateway answers `LimitExceededException`
 * when "the WebSocket client side buffer is full".
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** What `GetConnection` reports about a connection. Times are epoch milliseconds. */
export interface ConnectionInfo {
  readonly connectedAt: number;
  readonly lastActiveAt: number;
  readonly identity: ConnectionIdentity;
}

export interface ConnectionIdentity {
  readonly sourceIp: string;
  readonly userAgent: string;
}

/**
 * Talks to the local gateway's live connections, synchronously.
 *
 * Contract:
 * - `post` sends one message: a string as a text frame, a `Uint8Array` as a binary frame. A connection that is
 *   unknown, still in its `$connect` (pending) or already closing gives `gone`; more than 128 KB gives
 *   `too-large`; a client whose send buffer is full gives `throttled`. Posts count as activity for the idle
 *   timeout. Frames to one connection go out in call order.
 * - `close` starts the close handshake with `code` (default 1000) and `reason` (truncated to 123 bytes).
 *   Unknown, pending or closing connections give `gone`; a code a close frame may not carry gives a
 *   non-retryable `failed`. The `$disconnect` event follows when the handshake ends.
 * - `info` is `null` for unknown or pending connections.
 * - `count` is the number of open connections (pending ones excluded).
 */
export interface LocalConnections {
  post(connectionId: string, data: string | Uint8Array): SendOutcome;
  close(connectionId: string, request?: CloseRequest): SendOutcome;
  info(connectionId: string): ConnectionInfo | null;
  readonly count: number;
}

/** The slice of a `ws` WebSocket the registry drives. */
export interface RegistrySocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Uint8Array, options: { binary: boolean }): void;
  close(code: number, reason: string): void;
}

const WS_OPEN = 1;

type EntryState = 'pending' | 'open' | 'closing';

/** One connection as the gateway tracks it. Mutable: the gateway updates it as the connection lives. */
export interface RegistryEntry {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly identity: ConnectionIdentity;
  state: EntryState;
  lastActiveAt: number;
  socket: RegistrySocket | null;
  /** The close the server started (idle, lifetime, DeleteConnection), reported if the client echoes no reason. */
  serverClose: { readonly code: number; readonly reason: string } | null;
}

export interface ConnectionRegistryOptions {
  readonly maxBufferedBytes?: number;
  readonly now?: () => number;
}

/**
 * The gateway's side of `LocalConnections`: it adds entries when an upgrade arrives, opens them when `$connect`
 * accepts, and removes them when the socket closes.
 */
export class ConnectionRegistry implements LocalConnections {
  readonly #entries = new Map<string, RegistryEntry>();
  readonly #maxBufferedBytes: number;
  readonly #now: () => number;
  #open = 0;

  constructor(options: ConnectionRegistryOptions = {}) {
    this.#maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#now = options.now ?? Date.now;
  }

  get count(): number {
    return this.#open;
  }

  has(connectionId: string): boolean {
    return this.#entries.has(connectionId);
  }

  /** Registers a connection whose `$connect` is running: posts to it answer `gone` until `open`. */
  addPending(connectionId: string, identity: ConnectionIdentity, connectedAt: number): RegistryEntry {
    const entry: RegistryEntry = {
      connectionId,
      connectedAt,
      identity,
      state: 'pending',
      lastActiveAt: connectedAt,
      socket: null,
      serverClose: null,
    };
    this.#entries.set(connectionId, entry);
    return entry;
  }

  open(entry: RegistryEntry, socket: RegistrySocket): void {
    entry.socket = socket;
    entry.state = 'open';
    entry.lastActiveAt = this.#now();
    this.#open++;
  }

  remove(entry: RegistryEntry): void {
    if (this.#entries.get(entry.connectionId) !== entry) return;
    this.#entries.delete(entry.connectionId);
    if (entry.state !== 'pending') this.#open--;
  }

  /** The open connections, for shutdown. */
  openEntries(): RegistryEntry[] {
    return [...this.#entries.values()].filter((e) => e.state === 'open');
  }

  post(connectionId: string, data: string | Uint8Array): SendOutcome {
    const live = this.#live(connectionId);
    if (!live) return { kind: 'gone' };
    const { entry, socket } = live;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (size > MAX_MESSAGE_BYTES) {
      return { kind: 'too-large', message: `Message of ${size} bytes exceeds the ${MAX_MESSAGE_BYTES}-byte limit` };
    }
    if (socket.bufferedAmount > this.#maxBufferedBytes) {
      return { kind: 'throttled', message: 'Client side buffer is full' };
    }
    try {
      socket.send(data, { binary: typeof data !== 'string' });
    } catch (e) {
      return { kind: 'failed', retryable: true, message: 'send failed', cause: e };
    }
    entry.lastActiveAt = this.#now();
    return { kind: 'ok' };
  }

  close(connectionId: string, request: CloseRequest = {}): SendOutcome {
    const live = this.#live(connectionId);
    if (!live) return { kind: 'gone' };
    const { entry, socket } = live;
    const code = request.code ?? 1000;
    if (!isSendableCloseCode(code)) {
      return { kind: 'failed', retryable: false, message: `close code ${code} cannot be sent in a close frame` };
    }
    const reason = truncateUtf8(request.reason ?? '', MAX_CLOSE_REASON_BYTES);
    entry.state = 'closing';
    entry.serverClose = { code, reason };
    try {
      socket.close(code, reason);
    } catch (e) {
      return { kind: 'failed', retryable: false, message: 'close failed', cause: e };
    }
    return { kind: 'ok' };
  }

  info(connectionId: string): ConnectionInfo | null {
    const entry = this.#live(connectionId)?.entry;
    if (!entry) return null;
    return { connectedAt: entry.connectedAt, lastActiveAt: entry.lastActiveAt, identity: entry.identity };
  }

  #live(connectionId: string): { entry: RegistryEntry; socket: RegistrySocket } | null {
    const entry = this.#entries.get(connectionId);
    const socket = entry?.socket;
    if (!entry || entry.state !== 'open' || !socket || socket.readyState !== WS_OPEN) return null;
    return { entry, socket };
  }
}
