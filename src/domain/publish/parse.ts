/**
 * GRIP publish bodies (`POST /publish/`, `docs/grip-protocol.md` §3), parsed the way Pushpin's
 * `PublishItem`/`PublishFormat` do, with two extensions: an item may target one `connection` instead of a
 * `channel`, and limits that fit API Gateway (128 KB per message).
 */
import { validateChannel } from '../channel.js';
import type { Payload } from '../message.js';
import { decodeBase64, encodeBase64 } from '../protocol/base64.js';
import {
  isConnectionIdShaped,
  isSendableCloseCode,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONNECTION_ID_LENGTH,
  MAX_MESSAGE_BYTES,
  MAX_PUBLISH_BODY_BYTES,
} from '../protocol/limits.js';
import { decodeUtf8Strict, integerLike, isRecord, parseJson, utf8ByteLength } from '../protocol/values.js';
import { err, ok, type Result } from '../result.js';

export type PublishTarget = { kind: 'channel'; channel: string } | { kind: 'connection'; connectionId: string };

export interface ParsedPublishItem {
  target: PublishTarget;
  id: string | null;
  prevId: string | null;
  /** `no-seq: true`: deliver at once, whatever `prev-id` says (Pushpin's). Absent otherwise. */
  noSeq?: true;
  /** What to deliver; `null` when the item has no `ws-message` to act on (then `ignored` says why). */
  payload: Payload | null;
  /** Why `payload` is null, e.g. "no ws-message format"; `null` when there is a payload. */
  ignored: string | null;
  /** The item's `meta` (empty when absent): what publish filters compare with subscribers' filter meta. */
  meta: Record<string, string>;
  /** The `ws-message` send format's `content-filters` (§5.6 of docs/pushpin-semantics.md); `null` when absent. */
  contentFilters: string[] | null;
}

export interface PublishBodyError {
  kind: 'invalid-publish';
  /** A sentence for the 400 body, starting with the field path, e.g. `items[2].formats.ws-message.content-bin: not valid base64`. */
  message: string;
  /** Index into `items`, or `null` when the problem is the body itself. */
  itemIndex: number | null;
  /** The path of the offending field (`items[2].formats.ws-message.content-bin`), or `null` for the body. */
  field: string | null;
}

const FORMAT_NAMES = ['http-response', 'http-stream', 'ws-message'] as const;
const utf8Encoder = new TextEncoder();

/**
 * Parses a publish body into items, in order. All or nothing: the first problem is returned and no item is
 * (the control API answers 400 and enqueues nothing). Never throws.
 *
 * - Body: at most 1,000,000 bytes of UTF-8 JSON, an object with a non-empty `items` array.
 * - Item: exactly one of `channel` (checked with `validateChannel`) or `connection` (our extension: a connection
 *   id); optional string `id` and `prev-id`; optional `meta` (object of strings, for publish filters); the
 *   formats in `formats`, or (legacy) directly on the item. No format at all is an error ("no formats
 *   specified"); formats other than `ws-message` are accepted and not checked, so multi-format publishers work,
 *   and such an item gets `payload: null`.
 * - `ws-message`: `action` `send` (default) | `close` | `refresh` | `hint`. Send: `content-bin` (base64) wins over
 *   `content` (string), as in Pushpin; `type` `text`/`binary` overrides the default (text for `content`, binary
 *   for `content-bin`); `ping`/`pong` give `payload: null`; optional `content-filters`, an array of strings. A message over 131,072 bytes (text as UTF-8, binary
 *   decoded) is an error. Close: `code` 0 or absent means no code, otherwise a sendable close code (1000–1014
 *   except 1004–1006, or 3000–4999), an integer or integer string; `reason` at most 123 UTF-8 bytes.
 *   Refresh gives a `refresh` payload (each subscriber's session asks the backend now); hint gives `payload: null`.
 *
 * Binary payloads are re-encoded as canonical base64, so consumers can decode them with any decoder.
 *
 * @example
 * parsePublishBody('{"items":[{"channel":"room","formats":{"ws-message":{"content":"hi"}}}]}')
 * // { ok: true, value: [{ target: { kind: 'channel', channel: 'room' }, id: null, prevId: null,
 * //   payload: { kind: 'text', text: 'hi' }, ignored: null }] }
 */
export function parsePublishBody(body: Uint8Array | string): Result<ParsedPublishItem[], PublishBodyError> {
  const byteLength = typeof body === 'string' ? utf8ByteLength(body) : body.length;
  if (byteLength > MAX_PUBLISH_BODY_BYTES) {
    return bodyError(`publish body is ${byteLength} bytes, more than the limit of ${MAX_PUBLISH_BODY_BYTES}`);
  }
  const text = typeof body === 'string' ? body : decodeUtf8Strict(body);
  if (text === null) return bodyError('publish body is not valid UTF-8');
  const parsed = parseJson(text);
  if (!parsed.ok) return bodyError(`publish body is not valid JSON: ${parsed.error}`);
  const json = parsed.value;
  if (!isRecord(json)) return bodyError('publish body must be a JSON object with an "items" array');
  const items = json['items'];
  if (items === undefined) return err({ kind: 'invalid-publish', message: 'items: required', itemIndex: null, field: 'items' });
  if (!Array.isArray(items)) return err({ kind: 'invalid-publish', message: 'items: must be an array', itemIndex: null, field: 'items' });
  if (items.length === 0) return err({ kind: 'invalid-publish', message: 'items: must not be empty', itemIndex: null, field: 'items' });

  const out: ParsedPublishItem[] = [];
  for (let index = 0; index < items.length; index++) {
    const parsed = parseItem(items[index], index);
    if (!parsed.ok) return parsed;
    out.push(parsed.value);
  }
  return ok(out);
}

/** Thrown-free failure carrier inside one item: the field path and what is wrong with it. */
type ItemResult<T> = Result<T, PublishBodyError>;

function parseItem(raw: unknown, index: number): ItemResult<ParsedPublishItem> {
  const at = `items[${index}]`;
  const fail = (field: string, problem: string): ItemResult<never> => itemError(index, field === '' ? at : `${at}.${field}`, problem);
  if (!isRecord(raw)) return fail('', 'must be an object');

  const target = parseTarget(raw, fail);
  if (!target.ok) return target;

  const id = optionalString(raw, 'id', fail);
  if (!id.ok) return id;
  const prevId = optionalString(raw, 'prev-id', fail);
  if (!prevId.ok) return prevId;

  const rawMeta = raw['meta'];
  const meta: Record<string, string> = {};
  if (rawMeta !== undefined && rawMeta !== null) {
    if (!isRecord(rawMeta)) return fail('meta', 'must be an object of strings');
    for (const [key, value] of Object.entries(rawMeta)) {
      if (typeof value !== 'string') return fail(`meta.${key}`, 'must be a string');
      meta[key] = value;
    }
  }

  let formats: Record<string, unknown>;
  let formatsPath: string;
  const rawFormats = raw['formats'];
  if (rawFormats !== undefined && rawFormats !== null) {
    if (!isRecord(rawFormats)) return fail('formats', 'must be an object');
    formats = rawFormats;
    formatsPath = 'formats';
  } else {
    // Legacy form: the format objects sit directly on the item.
    formats = {};
    for (const name of FORMAT_NAMES) if (raw[name] !== undefined) formats[name] = raw[name];
    formatsPath = '';
  }
  if (Object.keys(formats).length === 0) return fail('formats', 'no formats specified');

  // Pushpin reads `no-seq` as a boolean; anything else means "sequence it".
  const base = {
    target: target.value,
    id: id.value,
    prevId: prevId.value,
    ...(raw['no-seq'] === true ? { noSeq: true as const } : {}),
    meta,
  };
  const ws = formats['ws-message'];
  if (ws === undefined) return ok({ ...base, payload: null, ignored: 'no ws-message format', contentFilters: null });
  const wsPath = formatsPath === '' ? 'ws-message' : `${formatsPath}.ws-message`;
  const payload = parseWsMessage(ws, (field, problem) => fail(field === '' ? wsPath : `${wsPath}.${field}`, problem));
  if (!payload.ok) return payload;
  return ok({ ...base, ...payload.value });
}

type Fail = (field: string, problem: string) => ItemResult<never>;

function parseTarget(raw: Record<string, unknown>, fail: Fail): ItemResult<PublishTarget> {
  const hasChannel = raw['channel'] !== undefined;
  const hasConnection = raw['connection'] !== undefined;
  if (hasChannel && hasConnection) return fail('connection', 'give either "channel" or "connection", not both');
  if (hasConnection) {
    const id = raw['connection'];
    if (typeof id !== 'string' || id.length === 0) return fail('connection', 'must be a non-empty connection id string');
    // Checked here so it is the publisher's 400 naming the item, rather than a delivery the worker finds rejected.
    if (!isConnectionIdShaped(id)) {
      return fail(
        'connection',
        `must be an API Gateway connection id: 1 to ${MAX_CONNECTION_ID_LENGTH} base64 characters, e.g. "L0SM9cOFvHcCIhw="`,
      );
    }
    return ok({ kind: 'connection', connectionId: id });
  }
  if (!hasChannel) return fail('channel', 'required (or "connection")');
  const channel = validateChannel(raw['channel']);
  if (!channel.ok) return fail('channel', channel.error.message);
  return ok({ kind: 'channel', channel: channel.value });
}

function optionalString(raw: Record<string, unknown>, key: string, fail: Fail): ItemResult<string | null> {
  const value = raw[key];
  if (value === undefined || value === null) return ok(null);
  if (typeof value !== 'string') return fail(key, 'must be a string');
  return ok(value);
}

type WsMessageParse = { payload: Payload | null; ignored: string | null; contentFilters: string[] | null };

function parseWsMessage(raw: unknown, fail: Fail): ItemResult<WsMessageParse> {
  if (!isRecord(raw)) return fail('', 'must be an object');
  const action = raw['action'];
  if (action !== undefined && action !== null && typeof action !== 'string') return fail('action', 'must be a string');
  switch (action ?? 'send') {
    case 'send': {
      const send = parseSend(raw, fail);
      if (!send.ok) return send;
      const contentFilters = parseContentFilters(raw['content-filters'], fail);
      return contentFilters.ok ? ok({ ...send.value, contentFilters: contentFilters.value }) : contentFilters;
    }
    case 'close': {
      const close = parseClose(raw, fail);
      return close.ok ? ok({ ...close.value, contentFilters: null }) : close;
    }
    case 'refresh':
      return ok({ payload: { kind: 'refresh' }, ignored: null, contentFilters: null });
    case 'hint':
      return ok({ payload: null, ignored: 'action hint is not supported', contentFilters: null });
    default:
      return fail('action', `unknown value ${JSON.stringify(action)}; expected send, close, refresh or hint`);
  }
}

function parseSend(raw: Record<string, unknown>, fail: Fail): ItemResult<{ payload: Payload | null; ignored: string | null }> {
  const type = raw['type'];
  if (type !== undefined && type !== null && type !== 'text' && type !== 'binary' && type !== 'ping' && type !== 'pong') {
    return fail('type', `unknown value ${JSON.stringify(type)}; expected text, binary, ping or pong`);
  }

  let bytes: Uint8Array | null = null;
  let text: string | null = null;
  let field: 'content' | 'content-bin';
  if (raw['content-bin'] !== undefined) {
    field = 'content-bin';
    const bin = raw['content-bin'];
    if (typeof bin !== 'string') return fail(field, 'must be a base64 string');
    bytes = decodeBase64(bin);
    if (bytes === null) return fail(field, 'not valid base64');
  } else if (raw['content'] !== undefined) {
    field = 'content';
    const content = raw['content'];
    if (typeof content !== 'string') return fail(field, 'must be a string');
    text = content;
  } else {
    if (type === 'ping' || type === 'pong') return ok({ payload: null, ignored: `message type ${type} is not supported` });
    return fail('content', 'required: give "content" (text) or "content-bin" (base64)');
  }

  const kind = type ?? (bytes !== null ? 'binary' : 'text');
  if (kind === 'ping' || kind === 'pong') return ok({ payload: null, ignored: `message type ${kind} is not supported` });

  const size = bytes !== null ? bytes.length : utf8ByteLength(text ?? '');
  if (size > MAX_MESSAGE_BYTES) return fail(field, `message is ${size} bytes, more than the limit of ${MAX_MESSAGE_BYTES}`);

  if (kind === 'text') {
    text ??= decodeUtf8Strict(bytes ?? new Uint8Array(0));
    if (text === null) return fail(field, 'is not UTF-8, but "type" is text');
    return ok({ payload: { kind: 'text', text }, ignored: null });
  }
  return ok({ payload: { kind: 'binary', base64: encodeBase64(bytes ?? utf8Encoder.encode(text ?? '')) }, ignored: null });
}

function parseContentFilters(raw: unknown, fail: Fail): ItemResult<string[] | null> {
  if (raw === undefined || raw === null) return ok(null);
  if (!Array.isArray(raw)) return fail('content-filters', 'must be an array of filter names');
  const names: string[] = [];
  for (const name of raw) {
    if (typeof name !== 'string') return fail('content-filters', 'contains an element that is not a string');
    names.push(name);
  }
  return ok(names);
}

function parseClose(raw: Record<string, unknown>, fail: Fail): ItemResult<{ payload: Payload | null; ignored: string | null }> {
  let code: number | undefined;
  const rawCode = raw['code'];
  if (rawCode !== undefined && rawCode !== null) {
    const n = integerLike(rawCode);
    if (n === null) return fail('code', 'must be an integer');
    if (n !== 0) {
      if (!isSendableCloseCode(n))
        return fail('code', `${n} is not a close code that can be sent (1000-1014 except 1004-1006, or 3000-4999; 0 for none)`);
      code = n;
    }
  }
  let reason: string | undefined;
  const rawReason = raw['reason'];
  if (rawReason !== undefined && rawReason !== null) {
    if (typeof rawReason !== 'string') return fail('reason', 'must be a string');
    const bytes = utf8ByteLength(rawReason);
    if (bytes > MAX_CLOSE_REASON_BYTES)
      return fail('reason', `is ${bytes} bytes of UTF-8, more than the limit of ${MAX_CLOSE_REASON_BYTES}`);
    if (rawReason.length > 0) reason = rawReason;
  }
  const payload: Payload = {
    kind: 'close',
    ...(code !== undefined ? { code } : {}),
    ...(reason !== undefined ? { reason } : {}),
  };
  return ok({ payload, ignored: null });
}

function bodyError(message: string): Result<never, PublishBodyError> {
  return err({ kind: 'invalid-publish', message, itemIndex: null, field: null });
}

function itemError(itemIndex: number, field: string, problem: string): Result<never, PublishBodyError> {
  return err({ kind: 'invalid-publish', message: `${field}: ${problem}`, itemIndex, field });
}
