/**
 * GRIP control messages: the JSON a backend sends in a TEXT event as `c:<json>` once GRIP mode is on
 * (`docs/grip-protocol.md` §2). Parsing mirrors Pushpin's `WsControlMessage::fromVariant`: any key order and
 * whitespace, unknown keys ignored, and anything invalid becomes an "ignored, because …" value, never an
 * exception, because Pushpin logs and ignores bad control messages without telling the backend.
 */
import { validateChannel } from '../channel.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { MAX_HISTORY_ID_BYTES } from '../history.js';
import { MAX_MESSAGE_BYTES } from './limits.js';
import { decodeUtf8Strict, integerLike, isRecord, parseJson, utf8ByteLength } from './values.js';

/** The message a keep-alive sends to the client. */
export type KeepAliveMessage =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; data: Uint8Array }
  | { kind: 'ping'; data: Uint8Array }
  | { kind: 'pong'; data: Uint8Array };

export type GripControlMessage =
  | {
      type: 'subscribe';
      channel: string;
      filters: string[];
      /** This server's extension: resume after this item id (see `domain/history.ts`). */
      since?: string;
      /** With `since`: the text sent instead of a replay when `since` cannot be honoured. */
      recoveryFailed?: string;
    }
  | { type: 'unsubscribe'; channel: string }
  | { type: 'detach' }
  | {
      type: 'keep-alive';
      /** `null` turns keep-alives off (the message had no `content`/`content-bin`). */
      message: KeepAliveMessage | null;
      /** Always > 0: a missing or zero `timeout` becomes Pushpin's default of 55 s. */
      timeoutSeconds: number;
      mode: 'idle' | 'interval';
    }
  /** Subscriber meta for publish filters; `value: null` deletes it. Not the same as `Set-Meta-*` headers. */
  | { type: 'set-meta'; name: string; value: string | null };

export type GripControlParse = { kind: 'control'; message: GripControlMessage } | { kind: 'ignored'; reason: string };

/** Pushpin's `DEFAULT_WS_KEEPALIVE_TIMEOUT`. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS = 55;
/** More filters than this on one `subscribe` make upstream Pushpin (`MESSAGEFILTERSTACK_SIZE_MAX`) close the client with 1011. */
export const MAX_SUBSCRIBE_FILTERS = 5;
/** Qt's `toInt` range: larger timeouts do not convert in Pushpin either. */
const MAX_TIMEOUT_SECONDS = 2_147_483_647;

/** Types Pushpin knows but this server does not act on; named in the ignore reason so logs say why. */
const UNSUPPORTED_TYPES: ReadonlySet<string> = new Set(['session', 'send-delayed', 'flush-delayed']);

const utf8Encoder = new TextEncoder();

/**
 * Parses the JSON of a control message (the text after `c:`). Total: never throws. Any key order and
 * whitespace; unknown keys are ignored. Rules follow Pushpin:
 * - `subscribe`/`unsubscribe` need `channel` (checked with `validateChannel`); `filters` is an optional array of
 *   strings, kept whatever their number: more than `MAX_SUBSCRIBE_FILTERS` closes the client with 1011 (as
 *   upstream Pushpin does), which the session logic decides, not the parser. This server's resume extension:
 *   `since` (a non-empty item id of at most 1,024 bytes) and, with it, `recovery-failed` (a text of at most one
 *   message); `recovery-failed` without `since` is ignored (there is nothing to fail).
 * - `keep-alive`: `content-bin` (base64) wins over `content`; `message-type` defaults to `text` even with
 *   `content-bin` (Pushpin's behaviour); no content turns keep-alives off; `timeout` is a non-negative integer
 *   or an integer string such as `"30"`, and 0 or absent means 55; `mode` is `interval` or else `idle`.
 * - `set-meta` needs a non-empty `name`; a missing or `null` `value` deletes.
 * - `session`, `send-delayed`, `flush-delayed`, unknown types, bad JSON, non-objects and invalid fields are
 *   `{ kind: 'ignored', reason }` with a reason naming the field.
 *
 * @example
 * parseGripControlMessage('{"channel":"room","type":"subscribe"}')
 * // { kind: 'control', message: { type: 'subscribe', channel: 'room', filters: [] } }
 */
export function parseGripControlMessage(json: string): GripControlParse {
  const result = parseJson(json);
  if (!result.ok) return ignored(`control message is not valid JSON: ${result.error}`);
  const parsed = result.value;
  if (!isRecord(parsed)) return ignored('control message is not a JSON object');
  const type = parsed['type'];
  if (type === undefined) return ignored("control message has no 'type'");
  if (typeof type !== 'string') return ignored("control message 'type' must be a string");
  switch (type) {
    case 'subscribe':
    case 'unsubscribe':
      return parseSubscription(type, parsed);
    case 'detach':
      return control({ type: 'detach' });
    case 'keep-alive':
      return parseKeepAlive(parsed);
    case 'set-meta':
      return parseSetMeta(parsed);
    default:
      if (UNSUPPORTED_TYPES.has(type)) return ignored(`control message type ${JSON.stringify(type)} is not supported by this server`);
      return ignored(`control message 'type' has unknown value ${JSON.stringify(type)}`);
  }
}

function parseSubscription(type: 'subscribe' | 'unsubscribe', obj: Record<string, unknown>): GripControlParse {
  const channel = validateChannel(obj['channel']);
  if (!channel.ok) return ignored(`${type} control message 'channel' is invalid: ${channel.error.message}`);
  if (type === 'unsubscribe') return control({ type, channel: channel.value });
  const rawFilters = obj['filters'];
  const filters: string[] = [];
  if (rawFilters !== undefined && rawFilters !== null) {
    if (!Array.isArray(rawFilters)) return ignored("subscribe control message 'filters' must be an array of strings");
    for (const f of rawFilters) {
      if (typeof f !== 'string') return ignored("subscribe control message 'filters' contains a value that is not a string");
      filters.push(f);
    }
  }
  const since = obj['since'];
  if (since !== undefined && since !== null) {
    if (typeof since !== 'string' || since === '') return ignored("subscribe control message 'since' must be a non-empty item id");
    if (utf8ByteLength(since) > MAX_HISTORY_ID_BYTES) {
      return ignored(`subscribe control message 'since' is over ${MAX_HISTORY_ID_BYTES} bytes, longer than any retained id`);
    }
  }
  const recovery = obj['recovery-failed'];
  if (recovery !== undefined && recovery !== null) {
    if (typeof recovery !== 'string') return ignored("subscribe control message 'recovery-failed' must be a string");
    if (utf8ByteLength(recovery) > MAX_MESSAGE_BYTES) {
      return ignored(`subscribe control message 'recovery-failed' is over ${MAX_MESSAGE_BYTES} bytes, the largest message`);
    }
  }
  return control({
    type,
    channel: channel.value,
    filters,
    ...(typeof since === 'string' ? { since } : {}),
    ...(typeof since === 'string' && typeof recovery === 'string' ? { recoveryFailed: recovery } : {}),
  });
}

function parseKeepAlive(obj: Record<string, unknown>): GripControlParse {
  const rawType = obj['message-type'];
  let messageType: KeepAliveMessage['kind'] = 'text';
  if (rawType !== undefined && rawType !== null) {
    if (rawType !== 'text' && rawType !== 'binary' && rawType !== 'ping' && rawType !== 'pong') {
      return ignored(`keep-alive control message 'message-type' has unknown value ${safeJson(rawType)}`);
    }
    messageType = rawType;
  }

  let content: Uint8Array | null = null;
  let textContent: string | null = null;
  if (obj['content-bin'] !== undefined) {
    const bin = obj['content-bin'];
    if (typeof bin !== 'string') return ignored("keep-alive control message 'content-bin' must be a base64 string");
    content = decodeBase64(bin);
    if (content === null) return ignored("keep-alive control message 'content-bin' is not valid base64");
  } else if (obj['content'] !== undefined) {
    const text = obj['content'];
    if (typeof text !== 'string') return ignored("keep-alive control message 'content' must be a string");
    textContent = text;
  }

  let timeoutSeconds = DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS;
  if (obj['timeout'] !== undefined) {
    const timeout = integerLike(obj['timeout']);
    if (timeout === null || timeout < 0 || timeout > MAX_TIMEOUT_SECONDS) {
      return ignored(`keep-alive control message 'timeout' must be a non-negative integer, got ${safeJson(obj['timeout'])}`);
    }
    if (timeout > 0) timeoutSeconds = timeout;
  }

  const rawMode = obj['mode'];
  if (rawMode !== undefined && rawMode !== null && typeof rawMode !== 'string') {
    return ignored("keep-alive control message 'mode' must be a string");
  }
  // Pushpin treats every mode other than "interval" as idle.
  const mode = rawMode === 'interval' ? 'interval' : 'idle';

  let message: KeepAliveMessage | null = null;
  if (content !== null || textContent !== null) {
    if (messageType === 'text') {
      let text = textContent;
      if (text === null) {
        text = decodeUtf8Strict(content ?? new Uint8Array(0));
        if (text === null) return ignored("keep-alive control message 'content-bin' is not UTF-8, but 'message-type' is text");
      }
      message = { kind: 'text', text };
    } else {
      message = { kind: messageType, data: content ?? utf8Encoder.encode(textContent ?? '') };
    }
  }
  return control({ type: 'keep-alive', message, timeoutSeconds, mode });
}

function parseSetMeta(obj: Record<string, unknown>): GripControlParse {
  const name = obj['name'];
  if (typeof name !== 'string' || name.length === 0) return ignored("set-meta control message 'name' must be a non-empty string");
  const value = obj['value'];
  if (value === undefined || value === null) return control({ type: 'set-meta', name, value: null });
  if (typeof value !== 'string') return ignored("set-meta control message 'value' must be a string");
  return control({ type: 'set-meta', name, value });
}

/**
 * Encodes a control message as the JSON that follows `c:`, in a form Pushpin and {@link parseGripControlMessage}
 * both accept: `parseGripControlMessage(encodeGripControlMessage(m))` gives back `m` (for a keep-alive, a
 * `timeoutSeconds` of 0 comes back as 55). Empty `filters` are left out; binary keep-alive content travels as
 * base64 `content-bin` with an explicit `message-type`.
 *
 * @example
 * `c:${encodeGripControlMessage({ type: 'subscribe', channel: 'room', filters: [] })}`
 * // 'c:{"type":"subscribe","channel":"room"}'
 */
export function encodeGripControlMessage(message: GripControlMessage): string {
  switch (message.type) {
    case 'subscribe':
      return JSON.stringify(
        message.filters.length > 0
          ? { type: message.type, channel: message.channel, filters: message.filters }
          : { type: message.type, channel: message.channel },
      );
    case 'unsubscribe':
      return JSON.stringify({ type: message.type, channel: message.channel });
    case 'detach':
      return JSON.stringify({ type: message.type });
    case 'set-meta':
      return JSON.stringify(
        message.value === null
          ? { type: message.type, name: message.name }
          : { type: message.type, name: message.name, value: message.value },
      );
    case 'keep-alive': {
      const out: Record<string, unknown> = { type: message.type };
      const m = message.message;
      if (m !== null) {
        if (m.kind === 'text') out['content'] = m.text;
        else out['content-bin'] = encodeBase64(m.data);
        out['message-type'] = m.kind;
      }
      out['timeout'] = message.timeoutSeconds;
      out['mode'] = message.mode;
      return JSON.stringify(out);
    }
  }
}

function safeJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

const control = (message: GripControlMessage): GripControlParse => ({ kind: 'control', message });
const ignored = (reason: string): GripControlParse => ({ kind: 'ignored', reason });
