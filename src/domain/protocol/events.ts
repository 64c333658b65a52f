/**
 * The events of Pushpin's WebSocket-over-HTTP protocol (`application/websocket-events`), as plain data.
 * See `docs/grip-protocol.md` §1. Both directions use the same event kinds; what they mean depends on who
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

/** The prefix GRIP mode expects on messages unless the backend chose another when accepting (Pushpin's default). */
export const DEFAULT_MESSAGE_PREFIX = 'm:';

export const openEvent = (): WsEvent => ({ type: 'OPEN' });
export const textEvent = (text: string): WsEvent => ({ type: 'TEXT', text });
export const closeEvent = (code: number | null, reason = ''): WsEvent => ({ type: 'CLOSE', code, reason: code === null ? '' : reason });
export const disconnectEvent = (): WsEvent => ({ type: 'DISCONNECT' });
