import { err, ok, type Result } from '../result.js';
import { WS_EVENT_TYPES, type WsEvent, type WsEventType } from './events.js';

/**
 * Why a body could not be decoded: `offset` is the byte where the problem was found, `reason` a stable code,
 * `message` a sentence for logs.
 */
export interface DecodeError {
  readonly kind: 'decode';
  readonly reason: 'missing-crlf' | 'unknown-event' | 'bad-length' | 'truncated' | 'missing-content-crlf';
  readonly offset: number;
  readonly message: string;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
/** Longest event line we accept: the longest type name, a space and 8 hex digits. Longer means garbage. */
const MAX_LINE = 32;
/** 8 hex digits is 4 GiB; bodies are capped far below that (1 MB), so more digits are never legitimate. */
const MAX_HEX_DIGITS = 8;

const utf8Encoder = new TextEncoder();
// Lenient on purpose: invalid UTF-8 in a TEXT or CLOSE reason becomes U+FFFD instead of failing the whole body,
// the way a browser would show it. The framing itself is checked strictly.
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

const EVENT_NAMES: ReadonlySet<string> = new Set(WS_EVENT_TYPES);
const isEventType = (name: string): name is WsEventType => EVENT_NAMES.has(name);

/**
 * Encodes events as an `application/websocket-events` body: `NAME SP hexlen CRLF content CRLF`, or `NAME CRLF`
 * for an event without content. Lengths are byte counts in lower-case hex, as Pushpin writes them.
 *
 * A CLOSE with a code is written as the 2-byte big-endian code followed by the UTF-8 reason; a CLOSE with
 * `code: null` is written without content. PING and PONG carry their payload only when it is non-empty.
 *
 * @example
 * encodeEvents([{ type: 'TEXT', text: 'hello' }]) // bytes of "TEXT 5\r\nhello\r\n"
 */
export function encodeEvents(events: readonly WsEvent[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const event of events) {
    const content = eventContent(event);
    const head = content === null ? `${event.type}\r\n` : `${event.type} ${content.length.toString(16)}\r\n`;
    const headBytes = utf8Encoder.encode(head);
    parts.push(headBytes);
    total += headBytes.length;
    if (content !== null) {
      parts.push(content, CRLF_BYTES);
      total += content.length + 2;
    }
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const CRLF_BYTES = new Uint8Array([CR, LF]);

function eventContent(event: WsEvent): Uint8Array | null {
  switch (event.type) {
    case 'OPEN':
    case 'DISCONNECT':
      return null;
    case 'TEXT':
      return utf8Encoder.encode(event.text);
    case 'BINARY':
      return event.data;
    case 'PING':
    case 'PONG':
      return event.data.length > 0 ? event.data : null;
    case 'CLOSE': {
      if (event.code === null) return null;
      const reason = utf8Encoder.encode(event.reason);
      const out = new Uint8Array(2 + reason.length);
      out[0] = (event.code >> 8) & 0xff;
      out[1] = event.code & 0xff;
      out.set(reason, 2);
      return out;
    }
  }
}

/**
 * Decodes an `application/websocket-events` body. Total: for any input it returns either every event or the
 * first framing problem with its byte offset; it never throws. Hex lengths may be upper- or lower-case.
 * Content on OPEN and DISCONNECT is allowed and ignored (the protocol permits it). A CLOSE with fewer than two
 * content bytes has no code. An empty body decodes to no events.
 *
 * @example
 * decodeEvents(new TextEncoder().encode('OPEN\r\nTEXT 2\r\nhi\r\n'))
 * // { ok: true, value: [{ type: 'OPEN' }, { type: 'TEXT', text: 'hi' }] }
 */
export function decodeEvents(body: Uint8Array): Result<WsEvent[], DecodeError> {
  const events: WsEvent[] = [];
  let at = 0;
  while (at < body.length) {
    const lineEnd = findCrlf(body, at, MAX_LINE);
    if (lineEnd < 0) {
      return fail('missing-crlf', at, 'event line is not terminated by CRLF within 32 bytes');
    }
    let nameEnd = at;
    while (nameEnd < lineEnd && body[nameEnd] !== SP) nameEnd++;
    const type = asciiString(body, at, nameEnd);
    if (!isEventType(type)) {
      return fail('unknown-event', at, `unknown event type ${JSON.stringify(type)}`);
    }
    if (nameEnd === lineEnd) {
      events.push(emptyEvent(type));
      at = lineEnd + 2;
      continue;
    }
    const length = parseHex(body, nameEnd + 1, lineEnd);
    if (length === null) {
      return fail('bad-length', nameEnd + 1, `length of ${type} is not a hex number of 1 to 8 digits`);
    }
    const contentStart = lineEnd + 2;
    const contentEnd = contentStart + length;
    if (contentEnd > body.length) {
      return fail('truncated', contentStart, `${type} declares ${length} content bytes but only ${body.length - contentStart} remain`);
    }
    if (contentEnd + 2 > body.length || body[contentEnd] !== CR || body[contentEnd + 1] !== LF) {
      return fail('missing-content-crlf', contentEnd, `${type} content is not followed by CRLF`);
    }
    events.push(eventWithContent(type, body.subarray(contentStart, contentEnd)));
    at = contentEnd + 2;
  }
  return ok(events);
}

function fail(reason: DecodeError['reason'], offset: number, message: string): Result<never, DecodeError> {
  return err({ kind: 'decode', reason, offset, message: `${message} (at byte ${offset})` });
}

function findCrlf(body: Uint8Array, from: number, maxLine: number): number {
  const limit = Math.min(body.length - 1, from + maxLine);
  for (let i = from; i < limit; i++) {
    if (body[i] === CR && body[i + 1] === LF) return i;
  }
  return -1;
}

function asciiString(body: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(body[i] ?? 0);
  return s;
}

function parseHex(body: Uint8Array, from: number, to: number): number | null {
  const digits = to - from;
  if (digits < 1 || digits > MAX_HEX_DIGITS) return null;
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = body[i] ?? 0;
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
    else return null;
    value = value * 16 + d;
  }
  return value;
}

function emptyEvent(type: WsEventType): WsEvent {
  return eventWithContent(type, new Uint8Array(0));
}

function eventWithContent(type: WsEventType, content: Uint8Array): WsEvent {
  switch (type) {
    case 'OPEN':
      return { type };
    case 'DISCONNECT':
      return { type };
    case 'TEXT':
      return { type, text: utf8Decoder.decode(content) };
    case 'BINARY':
    case 'PING':
    case 'PONG':
      // Copy so the event does not pin (or alias) the whole request body.
      return { type, data: content.slice() };
    case 'CLOSE':
      if (content.length < 2) return { type, code: null, reason: '' };
      return {
        type,
        code: ((content[0] ?? 0) << 8) | (content[1] ?? 0),
        reason: utf8Decoder.decode(content.subarray(2)),
      };
  }
}
