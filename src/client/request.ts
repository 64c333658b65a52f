import { decodeEvents, type DecodeError } from '../domain/protocol/codec.js';
import { WEBSOCKET_EVENTS_CONTENT_TYPE, type WsEvent } from '../domain/protocol/events.js';
import { MAX_REPLY_BODY_BYTES } from '../domain/protocol/limits.js';
import { err, ok, type Result } from '../domain/result.js';

/**
 * One event the GRIP proxy forwarded from the client, in order: `OPEN` (the client is connecting), `TEXT`,
 * `BINARY`, `PING`, `PONG`, `CLOSE` (`code` is null when the close frame had none) and `DISCONNECT` (the
 * client is gone without a close handshake).
 */
export type WebSocketEvent = WsEvent;

/** A WebSocket-over-HTTP request, read and checked: who it is from, what it carries. */
export interface WebSocketRequest {
  /** The `Connection-Id` header: opaque and stable for the life of the connection. */
  readonly connectionId: string;
  /** Every `Meta-<name>` header, keyed by the lower-cased `<name>` (values stored earlier with `setMeta`). */
  readonly meta: Readonly<Record<string, string>>;
  /** The decoded body. Empty for a keep-alive poll. */
  readonly events: readonly WebSocketEvent[];
  /** True when the first event is `OPEN`: the client is connecting and the reply must accept or reject it. */
  readonly isOpening: boolean;
  /** The subprotocols the client offered in `Sec-WebSocket-Protocol`, in its order (empty when none). */
  readonly requestedProtocols: readonly string[];
}

/**
 * Why a request could not be read. `missing-connection-id`, `undecodable-body` and `body-too-large` mean the
 * request did not come from a well-behaved GRIP proxy (answer 400 or 413); `body-unreadable` means the body
 * stream failed or was already consumed.
 */
export type WebSocketRequestError =
  | { readonly kind: 'missing-connection-id'; readonly message: string }
  | { readonly kind: 'undecodable-body'; readonly message: string; readonly decode: DecodeError }
  | { readonly kind: 'body-too-large'; readonly message: string; readonly limit: number }
  | { readonly kind: 'body-unreadable'; readonly message: string; readonly cause: unknown };

export interface ReadWebSocketRequestOptions {
  /** Largest body read, in bytes; a longer one is a `body-too-large` error. Default 1,000,000 (Pushpin's limit). */
  readonly maxBodyBytes?: number;
}

/** Pushpin's own response-body limit; requests it sends are far smaller (it buffers 200,000 bytes). */
export const DEFAULT_MAX_BODY_BYTES = MAX_REPLY_BODY_BYTES;

/**
 * Whether a request is WebSocket-over-HTTP, by the same test as js-grip's `isWsOverHttp`: method `POST`,
 * `Content-Type: application/websocket-events` (parameters allowed), and an `Accept` header listing
 * `application/websocket-events`, `application/*` or `*\/*`. Reads headers only, never the body.
 *
 * @example
 * if (!isWsOverHttp(request)) return new Response('WebSocket-over-HTTP only', { status: 400 });
 */
export function isWsOverHttp(request: Request): boolean {
  if (request.method !== 'POST') return false;
  if (mediaType(request.headers.get('content-type')) !== WEBSOCKET_EVENTS_CONTENT_TYPE) return false;
  const accept = request.headers.get('accept');
  if (accept === null) return false;
  return accept
    .split(',')
    .map(mediaType)
    .some((type) => type === '*/*' || type === 'application/*' || type === WEBSOCKET_EVENTS_CONTENT_TYPE);
}

function mediaType(value: string | null): string | null {
  if (value === null) return null;
  const semicolon = value.indexOf(';');
  return (semicolon >= 0 ? value.slice(0, semicolon) : value).trim().toLowerCase();
}

/**
 * Reads a WebSocket-over-HTTP request: the connection id, the `Meta-*` values, the decoded events. Consumes the
 * request body (at most `maxBodyBytes` of it). Never throws for bad input: a missing `Connection-Id`, a body
 * that is not `application/websocket-events` or is too long comes back as an error value. It does not check
 * the method or content type (see {@link isWsOverHttp}) nor the signature (see `verifyGripSig`).
 *
 * @example
 * const read = await readWebSocketRequest(request);
 * if (!read.ok) return new Response(read.error.message, { status: 400 });
 * const ws = read.value;
 * for (const event of ws.events) if (event.type === 'TEXT') console.log(ws.connectionId, event.text);
 */
export async function readWebSocketRequest(
  request: Request,
  options: ReadWebSocketRequestOptions = {},
): Promise<Result<WebSocketRequest, WebSocketRequestError>> {
  const connectionId = request.headers.get('connection-id');
  if (connectionId === null || connectionId.trim() === '') {
    return err({ kind: 'missing-connection-id', message: 'the request has no Connection-Id header' });
  }
  const body = await readBody(request, options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  if (!body.ok) return body;
  const decoded = decodeEvents(body.value);
  if (!decoded.ok) {
    return err({
      kind: 'undecodable-body',
      message: `the body is not valid application/websocket-events: ${decoded.error.message}`,
      decode: decoded.error,
    });
  }
  return ok({
    connectionId,
    meta: readMeta(request.headers),
    events: decoded.value,
    isOpening: decoded.value[0]?.type === 'OPEN',
    requestedProtocols: (request.headers.get('sec-websocket-protocol') ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== ''),
  });
}

function readMeta(headers: Headers): Record<string, string> {
  const entries: [string, string][] = [];
  // Headers yields lower-cased names and joins repeated ones with ", ".
  headers.forEach((value, name) => {
    if (name.startsWith('meta-') && name.length > 5) entries.push([name.slice(5), value]);
  });
  // fromEntries defines own properties, so a header such as `Meta-__proto__` is just a key.
  return Object.fromEntries(entries);
}

/**
 * Reads the whole body, stopping (and cancelling the stream) as soon as it exceeds `limit`, so a huge body
 * costs at most `limit` bytes of memory.
 */
async function readBody(
  request: Request,
  limit: number,
): Promise<Result<Uint8Array, Extract<WebSocketRequestError, { kind: 'body-too-large' | 'body-unreadable' }>>> {
  const tooLarge = () => err({ kind: 'body-too-large' as const, message: `the body is larger than ${limit} bytes`, limit });
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) return tooLarge();
  if (request.body === null) return ok(new Uint8Array(0));
  const chunks: Uint8Array[] = [];
  let total = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = request.body.getReader();
  } catch (cause) {
    return err({ kind: 'body-unreadable', message: 'the body was already read or is locked', cause });
  }
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) {
        await reader.cancel().catch(() => undefined);
        return tooLarge();
      }
      chunks.push(value);
    }
  } catch (cause) {
    return err({ kind: 'body-unreadable', message: 'reading the body failed', cause });
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return ok(out);
}
