/**
 * The WebSocket-over-HTTP request to the backend (`docs/grip-protocol.md` §1.2, §7): the client's handshake
 * as it is stored at `$connect` and replayed on every request, and the request itself.
 */
import type { Handshake } from '../connection.js';
import type { BackendRequest } from '../ports.js';
import { encodeEvents } from './codec.js';
import { WEBSOCKET_EVENTS_CONTENT_TYPE, type WsEvent } from './events.js';
import { hasLineBreakOrNul, isHeaderName } from './headers.js';
import { utf8ByteLength } from './values.js';

/**
 * The most header bytes (`name: value\r\n` per header, UTF-8) a stored handshake keeps. A connection record is
 * read on every event, so it stays small; a normal browser handshake is 1–3 KiB.
 */
export const MAX_STORED_HANDSHAKE_BYTES = 16 * 1024;

/** Headers that Pushpin never replays to the backend (hop-by-hop, body framing, and what it sets itself). */
const STRIPPED: ReadonlySet<string> = new Set([
  'upgrade',
  'connection',
  'keep-alive',
  'accept',
  'accept-encoding',
  'content-encoding',
  'transfer-encoding',
  'expect',
  'content-length',
  'host',
  'connection-id',
  'sec-websocket-extensions',
]);
/** Client-supplied `Meta-*` and `Grip-*` headers would let a client spoof server state or signatures. */
const STRIPPED_PREFIXES = ['meta-', 'grip-'] as const;

/** Kept as long as possible when the handshake must be trimmed: what backends authenticate and negotiate with. */
const KEPT_LONGEST: ReadonlySet<string> = new Set([
  'sec-websocket-protocol',
  'sec-websocket-key',
  'sec-websocket-version',
  'origin',
  'authorization',
  'cookie',
]);

export interface HandshakeCapture {
  readonly handshake: Handshake;
  /**
   * Lower-case names of headers the client sent that were *not* kept although Pushpin would replay them: those
   * with an invalid name or value, and those trimmed to fit {@link MAX_STORED_HANDSHAKE_BYTES}. Empty normally;
   * log it when it is not.
   */
  readonly dropped: string[];
}

/**
 * Captures the client's handshake for storage and replay. Strips what Pushpin strips (`Upgrade`, `Connection`,
 * `Keep-Alive`, `Accept`, `Accept-Encoding`, `Content-Encoding`, `Transfer-Encoding`, `Expect`,
 * `Content-Length`, `Host`, the client's `Connection-Id`, every `Meta-*` and `Grip-*` header, and
 * `Sec-WebSocket-Extensions`), in every spelling that folds to them (`Meta_User`, `Grip.Sig`), lower-cases names, and joins repeated headers (also ones differing only in case)
 * with `, ` (`; ` for `Cookie`, which HTTP/2 clients split). Header order is preserved.
 *
 * If the kept headers exceed {@link MAX_STORED_HANDSHAKE_BYTES}, the largest are dropped first (ties by name),
 * sparing `Sec-WebSocket-*`, `Origin`, `Authorization` and `Cookie` until nothing else is left; the result is
 * deterministic and every dropped name is listed in `dropped`.
 *
 * @example
 * handshakeFromClient({ headers: { Cookie: 'sid=1', Host: 'h', 'Meta-User': 'x' }, path: '/', query: 'a=1' })
 * // { handshake: { path: '/', query: 'a=1', headers: { cookie: 'sid=1' } }, dropped: [] }
 */
export function handshakeFromClient(input: {
  headers: Readonly<Record<string, string | readonly string[]>>;
  path: string;
  query: string;
}): HandshakeCapture {
  const merged = new Map<string, string>();
  const dropped = new Set<string>();
  for (const [rawName, rawValue] of Object.entries(input.headers)) {
    const name = rawName.toLowerCase();
    // Compared with `_` and `.` folded to `-`: CGI/WSGI stacks and some proxies fold them, so `Meta_User` would
    // reach such a backend as `Meta-User`, a spoofed meta value.
    const folded = name.replace(/[_.]/g, '-');
    if (STRIPPED.has(folded) || STRIPPED_PREFIXES.some((p) => folded.startsWith(p))) continue;
    const values = typeof rawValue === 'string' ? [rawValue] : [...rawValue];
    if (!isHeaderName(name) || values.some(hasLineBreakOrNul)) {
      dropped.add(name);
      continue;
    }
    if (values.length === 0) continue;
    const separator = name === 'cookie' ? '; ' : ', ';
    const previous = merged.get(name);
    const joined = values.join(separator);
    merged.set(name, previous === undefined ? joined : `${previous}${separator}${joined}`);
  }

  let size = 0;
  const sizes = new Map<string, number>();
  for (const [name, value] of merged) {
    const bytes = headerLineBytes(name, value);
    sizes.set(name, bytes);
    size += bytes;
  }
  if (size > MAX_STORED_HANDSHAKE_BYTES) {
    const order = [...sizes.entries()].sort(([an, as], [bn, bs]) => {
      const ak = KEPT_LONGEST.has(an) ? 1 : 0;
      const bk = KEPT_LONGEST.has(bn) ? 1 : 0;
      if (ak !== bk) return ak - bk;
      if (as !== bs) return bs - as;
      return an < bn ? -1 : an > bn ? 1 : 0;
    });
    for (const [name, bytes] of order) {
      if (size <= MAX_STORED_HANDSHAKE_BYTES) break;
      merged.delete(name);
      dropped.add(name);
      size -= bytes;
    }
  }

  const headers: Record<string, string> = {};
  for (const [name, value] of merged) headers[name] = value;
  const query = input.query.startsWith('?') ? input.query.slice(1) : input.query;
  return { handshake: { path: input.path, query, headers }, dropped: [...dropped] };
}

/**
 * The subprotocols the client offered in `Sec-WebSocket-Protocol`, in order, without duplicates or blanks.
 *
 * @example
 * offeredSubprotocols({ path: '/', query: '', headers: { 'sec-websocket-protocol': 'chat, superchat' } })
 * // ['chat', 'superchat']
 */
export function offeredSubprotocols(handshake: Handshake): string[] {
  const raw = handshake.headers['sec-websocket-protocol'];
  if (raw === undefined) return [];
  const out: string[] = [];
  for (const part of raw.split(',')) {
    const p = part.trim();
    if (p.length > 0 && !out.includes(p)) out.push(p);
  }
  return out;
}

/**
 * Builds one WebSocket-over-HTTP POST for the backend.
 *
 * - URL: `targetUrl` with `handshake.path` appended (a path of `/` or empty leaves the target path unchanged,
 *   otherwise they are joined with exactly one slash) and `handshake.query` appended to any query the target
 *   already has. A fragment on the target is dropped.
 * - Headers: the stored handshake headers (lower-case), then `Meta-<name>` for every stored meta value,
 *   `Sec-WebSocket-Extensions: grip`, `Accept` and `Content-Type: application/websocket-events`,
 *   `Connection-Id` and `Grip-Sig`. A handshake header with the same name as one of those is left out, so the
 *   server's values always win.
 * - Body: `encodeEvents(events)` (empty for a keep-alive poll).
 *
 * Pure: the caller mints `gripSig` (see `signGripSig`) and sends the request.
 *
 * @example
 * buildBackendRequest({ targetUrl: 'https://api.example/ws', connectionId: 'abc=', handshake, meta: { user: 'alice' },
 *   events: [{ type: 'TEXT', text: 'hi' }], gripSig })
 * // { url: 'https://api.example/ws', headers: { ..., 'Meta-user': 'alice', 'Connection-Id': 'abc=', ... },
 * //   body: bytes of "TEXT 2\r\nhi\r\n" }
 */
export function buildBackendRequest(input: {
  targetUrl: string;
  connectionId: string;
  handshake: Handshake;
  meta: Readonly<Record<string, string>>;
  events: readonly WsEvent[];
  gripSig: string;
}): BackendRequest {
  const own: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.meta)) own[`Meta-${name}`] = value;
  own['Sec-WebSocket-Extensions'] = 'grip';
  own['Accept'] = WEBSOCKET_EVENTS_CONTENT_TYPE;
  own['Content-Type'] = WEBSOCKET_EVENTS_CONTENT_TYPE;
  own['Connection-Id'] = input.connectionId;
  own['Grip-Sig'] = input.gripSig;
  const ownLower = new Set(Object.keys(own).map((n) => n.toLowerCase()));

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.handshake.headers)) {
    if (!ownLower.has(name.toLowerCase())) headers[name] = value;
  }
  Object.assign(headers, own);
  return { url: joinUrl(input.targetUrl, input.handshake.path, input.handshake.query), headers, body: encodeEvents(input.events) };
}

/**
 * Why a client's path could lead a backend request outside `TARGET_URL`'s path, or `null` when it cannot: dot
 * segments in any spelling (`..`, `.%2E`, `%2e%2e`, double-encoded `%252e`), backslashes (raw or `%5C`, which
 * URL parsers treat as `/`), and control characters. WHATWG URL parsing (what `fetch` does) resolves all of
 * these, so `/t` + `/../admin` would reach `/admin`.
 *
 * @example
 * unsafePathReason('/chat/room') // null
 * unsafePathReason('/a/%2e%2E/admin') // 'dot segment'
 */
export function unsafePathReason(path: string): string | null {
  let decoded = path;
  // Decode repeatedly (a bounded number of times): a proxy or backend framework may decode again.
  for (let i = 0; i < 3; i++) {
    const next = decoded.replace(/%(2e|2E|5c|5C|25)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (next === decoded) break;
    decoded = next;
  }
  if (decoded.includes('\\')) return 'backslash';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(decoded)) return 'control character';
  if (decoded.split('/').some((segment) => segment === '.' || segment === '..')) return 'dot segment';
  return null;
}

function joinUrl(targetUrl: string, path: string, query: string): string {
  const hash = targetUrl.indexOf('#');
  const withoutFragment = hash < 0 ? targetUrl : targetUrl.slice(0, hash);
  const q = withoutFragment.indexOf('?');
  const base = q < 0 ? withoutFragment : withoutFragment.slice(0, q);
  const targetQuery = q < 0 ? '' : withoutFragment.slice(q + 1);

  let url = base;
  // A path that could climb out of the target's path is never appended (`$connect` refuses such clients first).
  if (path !== '' && path !== '/' && unsafePathReason(path) === null) {
    url = `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  }
  const extra = query.startsWith('?') ? query.slice(1) : query;
  const joinedQuery = [targetQuery, extra].filter((part) => part.length > 0).join('&');
  return joinedQuery.length > 0 ? `${url}?${joinedQuery}` : url;
}

function headerLineBytes(name: string, value: string): number {
  return name.length + 2 + utf8ByteLength(value) + 2;
}
