/**
 * The backend's reply to one WebSocket-over-HTTP request, turned into one decision value
 * (`docs/grip-protocol.md` §1.3–1.4, §2, §7). Pure and total: the session logic executes the decision.
 */
import type { GripMode } from '../connection.js';
import { binaryMessage, textMessage, type Message } from '../message.js';
import { decodeEvents } from './codec.js';
import { parseGripControlMessage, type GripControlMessage } from './grip-control.js';
import { DEFAULT_MESSAGE_PREFIX, WEBSOCKET_EVENTS_CONTENT_TYPE, type WsEvent } from './events.js';
import { listTokens, lowerCaseHeaders, splitOutsideQuotes, unquote } from './headers.js';
import { isSendableCloseCode, MAX_CLOSE_REASON_BYTES, MAX_REJECT_BODY_BYTES, MAX_REPLY_BODY_BYTES } from './limits.js';
import { truncateUtf8 } from './values.js';

/** One thing to do for the connection, in the order the backend's events came. */
export type SessionAction =
  /** Send to the client. In GRIP mode the message prefix is already stripped. */
  | { kind: 'send'; message: Message }
  | { kind: 'control'; message: GripControlMessage }
  /**
   * The backend sent CLOSE: close the client cleanly. `code` is always sendable (see `isSendableCloseCode`) or
   * `null` for "no code". js-grip's `close()` without an argument sends code 0, which is mapped to 1000; any
   * other unsendable code becomes `null` (noted in `ignored`). `reason` is at most 123 UTF-8 bytes (longer ones
   * are cut at a character boundary, noted in `ignored`) and empty when `code` is `null`.
   */
  | { kind: 'close'; code: number | null; reason: string }
  /** The backend sent DISCONNECT, or a second OPEN: drop the client without a close handshake. */
  | { kind: 'drop' };

/** What the reply to the OPEN request is checked against. */
export interface OpenReplyContext {
  /** The client's `Sec-WebSocket-Protocol` offers (`offeredSubprotocols`): the backend may choose one of them. */
  readonly offeredSubprotocols: readonly string[];
  /** A `Keep-Alive-Interval` an earlier (deferring) OPEN reply set: an empty reply without the header defers again. */
  readonly pollInterval?: number;
}

/** A valid reply's effects on the connection: meta changes and actions, with what was ignored and why. */
interface ReplyEffects {
  metaChanges: Record<string, string | null>;
  actions: SessionAction[];
  ignored: string[];
  /** `Keep-Alive-Interval` (see {@link PollInterval}). */
  pollInterval: PollInterval;
}

/**
 * What a reply's `Keep-Alive-Interval` header asks for: poll the backend every `seconds` (an integer > 0, as sent:
 * the session raises it to Pushpin's 20 s minimum), `null` to stop (0, negative or not an integer), or `undefined`
 * when the reply has no such header (the setting stays as it was).
 */
export type PollInterval = number | null | undefined;

/** A reply that breaks the protocol. */
type Invalid = { kind: 'invalid'; reason: string };

export type OpenReplyDecision =
  /** The OPEN reply accepted the connection. `clientHeaders` go on the handshake response (e.g. Set-Cookie). */
  | ({ kind: 'accept'; subprotocol: string | null; grip: GripMode; clientHeaders: Record<string, string> } & ReplyEffects)
  /** The OPEN reply refused the connection: answer the client's handshake with this status, headers and body. */
  | { kind: 'reject'; status: number; headers: Record<string, string>; body: Uint8Array; reason: string }
  /**
   * An empty OPEN reply that sets `Keep-Alive-Interval`: the backend defers its answer, and the OPEN is asked
   * again after the interval (Pushpin keeps the handshake pending meanwhile).
   */
  | { kind: 'defer'; intervalSeconds: number; metaChanges: Record<string, string | null> }
  /** The client gets a 502. */
  | Invalid;

export type SessionReplyDecision =
  /** A valid reply to a later request. */
  | ({ kind: 'update' } & ReplyEffects)
  /** The client is closed with 1011 (Pushpin tears the connection down). */
  | Invalid;

export interface ReplyResponse {
  readonly status: number;
  /** Lower-case header name → value (`BackendResponse` in ports.ts). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** Headers that describe one HTTP hop or the encoding of the body we already decoded; never passed on. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'content-encoding',
]);

/** Not copied to the 101: protocol headers for us, or ones the gateway itself sets on the handshake response. */
const NOT_FOR_CLIENT_ON_ACCEPT: ReadonlySet<string> = new Set([
  'content-type',
  'keep-alive-interval',
  'content-bytes-accepted',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'sec-websocket-accept',
]);

const SET_META_PREFIX = 'set-meta-';
const CONTROL_PREFIX = 'c:';
const utf8Encoder = new TextEncoder();

/**
 * Interprets the backend's reply to the OPEN request (`$connect`). Total: never throws.
 *
 * - The reply counts only with status exactly 200 and `Content-Type` exactly `application/websocket-events`
 *   (media type compared case-insensitively, parameters such as `; charset=` fail, like Pushpin).
 * - Body over 1,000,000 bytes → `invalid`.
 * - A reply that does not count is `reject` with the backend's status, headers (minus hop-by-hop, length and
 *   encoding headers) and body (cut to 100,000 bytes); a status that would not reach the client as a refusal
 *   (anything outside 300–599, e.g. a 204, which API Gateway would treat as success) becomes 502.
 * - A counting reply whose body does not decode, is empty, or does not start with OPEN is `invalid`; so is a
 *   `Sec-WebSocket-Protocol` the client did not offer. `Sec-WebSocket-Extensions: grip[; message-prefix=…]`
 *   sets GRIP mode (read only here); the events after OPEN become actions under that mode.
 * - `Set-Meta-<Name>` → `metaChanges[<name lower-case>]`, an empty value → `null`; events after CLOSE,
 *   DISCONNECT or a second OPEN are ignored; everything ignored is listed with its reason in `ignored`.
 *
 * @example
 * interpretOpenReply(
 *   { status: 200, headers: { 'content-type': 'application/websocket-events', 'sec-websocket-extensions': 'grip' },
 *     body: new TextEncoder().encode('OPEN\r\nTEXT 7\r\nm:hello\r\n') },
 *   { offeredSubprotocols: [] },
 * ) // { kind: 'accept', grip: { enabled: true, messagePrefix: 'm:' },
 *   //   actions: [{ kind: 'send', message: { kind: 'text', text: 'hello' } }], ... }
 */
export function interpretOpenReply(response: ReplyResponse, context: OpenReplyContext): OpenReplyDecision {
  const read = readReply(response);
  if (read.kind === 'invalid') return read;
  if (read.kind === 'not-counting') return reject(response, read.headers, read.reason);
  const { headers, events, metaChanges, ignored, pollInterval } = read;
  const first = events[0];
  if (first === undefined) {
    // A reply without the header keeps the interval an earlier deferring reply set; one that turns it off ends it.
    const interval = pollInterval === undefined ? context.pollInterval : pollInterval;
    if (typeof interval === 'number') return { kind: 'defer', intervalSeconds: interval, metaChanges };
    return invalid('backend accepted with an empty body: the first event must be OPEN (or the reply must set Keep-Alive-Interval)');
  }
  if (first.type !== 'OPEN') return invalid(`backend reply to OPEN starts with ${first.type}; the first event must be OPEN`);

  const subprotocol = chosenSubprotocol(headers['sec-websocket-protocol']);
  if (subprotocol !== null && !context.offeredSubprotocols.includes(subprotocol)) {
    const offered = context.offeredSubprotocols.length > 0 ? context.offeredSubprotocols.map((p) => JSON.stringify(p)).join(', ') : 'none';
    return invalid(`backend chose subprotocol ${JSON.stringify(subprotocol)}, which the client did not offer (offered: ${offered})`);
  }
  const grip = parseGripExtension(headers['sec-websocket-extensions']) ?? { enabled: false as const };
  const actions = eventsToActions(events, 1, grip, ignored);
  return { kind: 'accept', subprotocol, grip, clientHeaders: clientHeadersOf(headers), metaChanges, actions, ignored, pollInterval };
}

/**
 * Interprets the backend's reply to a later request (a client message, a close), under the connection's GRIP
 * mode. Total: never throws. The same rules as {@link interpretOpenReply} decide whether the reply counts and
 * what its headers and events mean, except that a reply that does not count, or does not decode, is `invalid`
 * (there is no handshake left to refuse), and every event is an action (no leading OPEN).
 *
 * @example
 * interpretSessionReply(reply('TEXT 4\r\nm:hi\r\n'), { enabled: true, messagePrefix: 'm:' })
 * // { kind: 'update', metaChanges: {}, actions: [{ kind: 'send', message: { kind: 'text', text: 'hi' } }], ignored: [] }
 */
export function interpretSessionReply(response: ReplyResponse, grip: GripMode): SessionReplyDecision {
  const read = readReply(response);
  if (read.kind === 'invalid') return read;
  if (read.kind === 'not-counting') return invalid(read.reason);
  const { events, metaChanges, ignored, pollInterval } = read;
  return { kind: 'update', metaChanges, actions: eventsToActions(events, 0, grip, ignored), ignored, pollInterval };
}

type ReadReply =
  | Invalid
  | { kind: 'not-counting'; reason: string; headers: Record<string, string> }
  | {
      kind: 'read';
      headers: Record<string, string>;
      events: readonly WsEvent[];
      metaChanges: Record<string, string | null>;
      ignored: string[];
      pollInterval: PollInterval;
    };

/** What both phases check first: the size limit, whether the reply counts, its events and its headers. */
function readReply(response: ReplyResponse): ReadReply {
  if (response.body.length > MAX_REPLY_BODY_BYTES) {
    return invalid(`backend reply body is ${response.body.length} bytes, more than the limit of ${MAX_REPLY_BODY_BYTES}`);
  }
  const headers = lowerCaseHeaders(response.headers);
  const notCounting = whyNotCounting(response.status, headers['content-type']);
  if (notCounting !== null) return { kind: 'not-counting', reason: notCounting, headers };

  const decoded = decodeEvents(response.body);
  if (!decoded.ok) return invalid(`backend reply body is not valid application/websocket-events: ${decoded.error.message}`);

  const ignored: string[] = [];
  const metaChanges = readMetaChanges(headers, ignored);
  if (headers['content-bytes-accepted'] !== undefined) {
    ignored.push('Content-Bytes-Accepted header ignored: every request is treated as consumed in full');
  }
  const pollInterval = readPollInterval(headers['keep-alive-interval']);
  return { kind: 'read', headers, events: decoded.value, metaChanges, ignored, pollInterval };
}

/** `Keep-Alive-Interval` as Pushpin reads it (`QByteArray::toInt`): an integer > 0 turns polling on, anything else off. */
function readPollInterval(value: string | undefined): PollInterval {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!/^[+-]?\d+$/.test(trimmed)) return null;
  const n = Number(trimmed);
  return n > 0 && n <= 2_147_483_647 ? n : null;
}

/**
 * Reads the `grip` extension from a `Sec-WebSocket-Extensions` value (which may list several extensions).
 * Returns `null` when there is no `grip` extension. `message-prefix` may be quoted or a bare token, and may be
 * empty; without it the prefix is `m:`.
 *
 * @example
 * parseGripExtension('grip; message-prefix=""') // { enabled: true, messagePrefix: '' }
 * parseGripExtension('permessage-deflate')      // null
 */
export function parseGripExtension(headerValue: string | undefined): GripMode | null {
  if (headerValue === undefined) return null;
  for (const extension of splitOutsideQuotes(headerValue, ',')) {
    const [name, ...params] = splitOutsideQuotes(extension, ';');
    if (name === undefined || name.trim().toLowerCase() !== 'grip') continue;
    let messagePrefix = DEFAULT_MESSAGE_PREFIX;
    for (const param of params) {
      const eq = param.indexOf('=');
      const key = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
      if (key !== 'message-prefix') continue;
      messagePrefix = eq < 0 ? '' : unquote(param.slice(eq + 1).trim());
    }
    return { enabled: true, messagePrefix };
  }
  return null;
}

function whyNotCounting(status: number, contentType: string | undefined): string | null {
  if (status !== 200) return `backend answered with status ${status}`;
  if (contentType === undefined) return `backend answered 200 without a Content-Type; expected exactly ${WEBSOCKET_EVENTS_CONTENT_TYPE}`;
  if (contentType.trim().toLowerCase() !== WEBSOCKET_EVENTS_CONTENT_TYPE) {
    return `backend answered 200 with Content-Type ${JSON.stringify(contentType)}; expected exactly ${WEBSOCKET_EVENTS_CONTENT_TYPE}`;
  }
  return null;
}

function reject(response: ReplyResponse, headers: Record<string, string>, reason: string): OpenReplyDecision {
  const passOn: Record<string, string> = {};
  const connectionTokens = listTokens(headers['connection']);
  for (const [name, value] of Object.entries(headers)) {
    if (HOP_BY_HOP.has(name) || connectionTokens.has(name)) continue;
    passOn[name] = value;
  }
  // API Gateway treats any 2xx from $connect as success and a 1xx cannot end a handshake, so only 3xx–5xx
  // can carry a refusal to the client.
  const refusable = Number.isInteger(response.status) && response.status >= 300 && response.status <= 599;
  const status = refusable ? response.status : 502;
  const body = response.body.length > MAX_REJECT_BODY_BYTES ? response.body.slice(0, MAX_REJECT_BODY_BYTES) : response.body.slice();
  return { kind: 'reject', status, headers: passOn, body, reason: refusable ? reason : `${reason}; refused with 502 instead` };
}

function readMetaChanges(headers: Record<string, string>, ignored: string[]): Record<string, string | null> {
  const changes: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(SET_META_PREFIX)) continue;
    const metaName = name.slice(SET_META_PREFIX.length);
    if (metaName.length === 0) {
      ignored.push('Set-Meta- header without a name ignored');
      continue;
    }
    const trimmed = value.trim();
    changes[metaName] = trimmed.length === 0 ? null : trimmed;
  }
  return changes;
}

function clientHeadersOf(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const connectionTokens = listTokens(headers['connection']);
  for (const [name, value] of Object.entries(headers)) {
    if (HOP_BY_HOP.has(name) || connectionTokens.has(name) || NOT_FOR_CLIENT_ON_ACCEPT.has(name) || name.startsWith(SET_META_PREFIX)) {
      continue;
    }
    out[name] = value;
  }
  return out;
}

function chosenSubprotocol(value: string | undefined): string | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  return trimmed.length === 0 ? null : trimmed;
}

/**
 * Turns the events from index `from` on into actions. GRIP mode: a TEXT starting `c:` is a control message;
 * other TEXT/BINARY must start with the prefix, which is stripped, or they are dropped (Pushpin drops them
 * silently; we say why in `ignored`). Without GRIP, TEXT/BINARY go out verbatim.
 */
function eventsToActions(events: readonly WsEvent[], from: number, grip: GripMode, ignored: string[]): SessionAction[] {
  const actions: SessionAction[] = [];
  const prefixBytes = grip.enabled ? utf8Encoder.encode(grip.messagePrefix) : new Uint8Array(0);
  let endedBy: string | null = null;
  for (let i = from; i < events.length; i++) {
    const event = events[i];
    if (event === undefined) continue;
    if (endedBy !== null) {
      ignored.push(`event ${i} (${event.type}) after ${endedBy} ignored`);
      continue;
    }
    switch (event.type) {
      case 'TEXT':
        if (!grip.enabled) {
          actions.push({ kind: 'send', message: textMessage(event.text) });
        } else if (event.text.startsWith(CONTROL_PREFIX)) {
          const parsed = parseGripControlMessage(event.text.slice(CONTROL_PREFIX.length));
          if (parsed.kind === 'control') actions.push({ kind: 'control', message: parsed.message });
          else ignored.push(`event ${i} (TEXT): ${parsed.reason}`);
        } else if (event.text.startsWith(grip.messagePrefix)) {
          actions.push({ kind: 'send', message: textMessage(event.text.slice(grip.messagePrefix.length)) });
        } else {
          ignored.push(`event ${i} (TEXT) dropped: it does not start with the message prefix ${JSON.stringify(grip.messagePrefix)}`);
        }
        break;
      case 'BINARY':
        if (!grip.enabled) {
          actions.push({ kind: 'send', message: binaryMessage(event.data) });
        } else if (startsWith(event.data, prefixBytes)) {
          actions.push({ kind: 'send', message: binaryMessage(event.data.subarray(prefixBytes.length)) });
        } else {
          ignored.push(`event ${i} (BINARY) dropped: it does not start with the message prefix ${JSON.stringify(grip.messagePrefix)}`);
        }
        break;
      case 'PING':
      case 'PONG':
        ignored.push(`event ${i} (${event.type}) ignored: the gateway cannot send control frames to the client`);
        break;
      case 'CLOSE':
        actions.push(closeAction(event.code, event.reason, i, ignored));
        endedBy = 'CLOSE';
        break;
      case 'DISCONNECT':
        actions.push({ kind: 'drop' });
        endedBy = 'DISCONNECT';
        break;
      case 'OPEN':
        // Pushpin treats an OPEN after the accept as a disconnect.
        actions.push({ kind: 'drop' });
        endedBy = 'a second OPEN';
        break;
    }
  }
  return actions;
}

function closeAction(code: number | null, rawReason: string, index: number, ignored: string[]): SessionAction {
  if (code === null) return { kind: 'close', code: null, reason: '' };
  const reason = truncateUtf8(rawReason, MAX_CLOSE_REASON_BYTES);
  if (reason.length < rawReason.length) {
    ignored.push(`event ${index} (CLOSE): close reason cut to ${MAX_CLOSE_REASON_BYTES} bytes, the most a close frame can carry`);
  }
  // js-grip's close() defaults to code 0, which is not a close code; it means "a normal close".
  if (code === 0) return { kind: 'close', code: 1000, reason };
  if (isSendableCloseCode(code)) return { kind: 'close', code, reason };
  ignored.push(`event ${index} (CLOSE): close code ${code} cannot be sent to a client; closing without a code`);
  return { kind: 'close', code: null, reason: '' };
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

const invalid = (reason: string): Invalid => ({ kind: 'invalid', reason });
