/**
 * The events of Pushpin's WebSocket-over-HTTP protocol (`application/websocket-events`), as plain data.
 * See `reference/grip-protocol.md` §1. Both directions use the same event kinds; what they mean depends on who
 * sends them (an OPEN from the server asks to open, an OPEN from the backend accepts).
 */
export type WsEvent =
  | { readonly type: 'OPEN' }
  | { readonly type: 'TEXT'; readonly text: string }
  | { readonly type: 'BINARY'; readonly data: Uint8Array }
  | { readonly type: 'PING'; readonly data: Uint8Array }
  | { readonly type: 'PONG'; readonly data: Uint8Array }
  /** A close handshake. `code` is null when the close frame carried no status code (then `reason` is empty). */
  | { readonly type: 'CLOSE'; readonly code: number | null; readonly reason: string }
  /** The connection is gone without a close handshake (server→backend), or "drop it" (backend→server). */
  | { readonly type: 'DISCONNECT' };

export type WsEventType = WsEvent['type'];

export const WS_EVENT_TYPES: readonly WsEventType[] = ['OPEN', 'TEXT', 'BINARY', 'PING', 'PONG', 'CLOSE', 'DISCONNECT'];

/** The content type of WebSocket-over-HTTP bodies. Pushpin requires the backend's reply to carry exactly this. */
export const WEBSOCKET_EVENTS_CONTENT_TYPE = 'application/websocket-events';

export const openEvent = (): WsEvent => ({ type: 'OPEN' });
export const textEvent = (text: string): WsEvent => ({ type: 'TEXT', text });
export const closeEvent = (code: number | null, reason = ''): WsEvent => ({ type: 'CLOSE', code, reason: code === null ? '' : reason });
export const disconnectEvent = (): WsEvent => ({ type: 'DISCONNECT' });

/** Longest close reason that fits a close frame: a 125-byte control payload minus the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Whether a close code may be put in a close frame (RFC 6455 §7.4): 1000–1014 except the reserved 1004, 1005 and
 * 1006, or 3000–4999 (registered and private codes). `ws` throws on any other code, and a browser fails the
 * connection, so codes from backends and publishers are checked with this before they travel further.
 */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}
