import { encodeEvents } from '../domain/protocol/codec.js';
import {
  DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS,
  encodeGripControlMessage,
  MAX_SUBSCRIBE_FILTERS,
  type GripControlMessage,
  type KeepAliveMessage,
} from '../domain/protocol/grip-control.js';
import { WEBSOCKET_EVENTS_CONTENT_TYPE, type WsEvent } from '../domain/protocol/events.js';
import { MAX_MESSAGE_BYTES, MAX_REPLY_BODY_BYTES } from '../domain/protocol/limits.js';
import { DEFAULT_MESSAGE_PREFIX } from '../domain/protocol/events.js';
import { decodeUtf8Strict, utf8ByteLength } from '../domain/protocol/values.js';
import { GripUsageError } from './errors.js';
import type { WebSocketRequest } from './request.js';
import { checkChannel, checkClose, describe } from './validate.js';

export interface WebSocketReplyOptions {
  /**
   * The request this reply answers. Each `PING` event in it is answered with a `PONG` carrying the same payload,
   * first in the reply, as js-grip's `recv()` does (behind Pushpin, client pings reach the backend as `PING`
   * events, and the client gets a pong only if the backend sends one). Leave it out to answer pings yourself.
   */
  readonly request?: Pick<WebSocketRequest, 'events'>;
  /**
   * The message prefix `send`/`sendBinary` add, for replies to requests after the OPEN one. It must be the
   * prefix chosen when the connection was accepted. Default `m:`. `accept({ messagePrefix })` overrides it.
   */
  readonly messagePrefix?: string;
}

export interface AcceptOptions {
  /** The subprotocol to confirm to the client (one it offered in `Sec-WebSocket-Protocol`). */
  readonly subprotocol?: string;
  /**
   * The prefix every message to the client must carry, for the life of the connection. Default `m:`; `''`
   * means none (then a message starting with `c:` cannot be sent, because it would be a control message).
   */
  readonly messagePrefix?: string;
}

export interface KeepAliveOptions {
  /**
   * What to send to the client when the connection is idle (or on every interval). Leave it out to turn
   * keep-alives off.
   */
  readonly content?: string | Uint8Array;
  /** The frame type. Default `text` for string content and `binary` for bytes. */
  readonly messageType?: 'text' | 'binary' | 'ping' | 'pong';
  /** Seconds (a positive integer). Default 55, as Pushpin. */
  readonly timeout?: number;
  /** `idle` (default): after `timeout` seconds without traffic. `interval`: every `timeout` seconds. */
  readonly mode?: 'idle' | 'interval';
}

/**
 * Pushpin's publish filters (`c:{"type":"subscribe",…,"filters":[…]}`), applied per subscriber when an item is
 * published. They compare the connection's filter meta ({@link WebSocketReply.setFilterMeta}) with the item's
 * `meta` (names are exact): `skip-self` drops the item for the connection whose `user` equals the item's `sender`;
 * `skip-users` for each `user` in the item's comma-separated `skip_users`; `require-sub` unless the connection is
 * subscribed to the item's `require_sub` channel; `var-subst` replaces `%(name)s` in the content with the
 * connection's meta `name`; `build-id` is for HTTP streaming. Pushpin ignores names it does not know.
 */
export type SubscribeFilter = 'skip-self' | 'skip-users' | 'require-sub' | 'build-id' | 'var-subst' | (string & {});

export interface SubscribeOptions {
  /**
   * Resume (this server's extension): the id of the last item of this channel the client saw. The server first
   * delivers, in order, every retained item published after it, then live items, with no gap and no duplicate
   * between the two. Pushpin ignores it (the subscription is then simply live).
   */
  readonly since?: string | undefined;
  /**
   * With `since`: the text the client gets instead of a replay when `since` cannot be honoured (unknown, expired,
   * or further behind than the history keeps), delivered as published content is (no message prefix is added);
   * then the subscription continues live. Without it, the subscription just continues live.
   */
  readonly recoveryFailed?: string | undefined;
  /** Publish filters for this subscription, at most 5 (Pushpin closes the client with 1011 beyond that). */
  readonly filters?: readonly SubscribeFilter[] | undefined;
}

/** The wire form of a subscribe control message, with this server's resume fields. */
interface SubscribeWire {
  readonly type: 'subscribe';
  readonly channel: string;
  readonly since?: string;
  readonly 'recovery-failed'?: string;
  readonly filters?: readonly string[];
}

/** Something queued for the reply; messages get their prefix only when the reply is built. */
type Queued =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'binary'; readonly data: Uint8Array }
  | { readonly kind: 'ping' | 'pong'; readonly data: Uint8Array }
  | { readonly kind: 'control'; readonly message: GripControlMessage }
  | { readonly kind: 'subscribe'; readonly message: SubscribeWire };

const utf8 = new TextEncoder();
/** RFC 9110 token characters: what a header name or a subprotocol may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII, space and tab, not at either end: header values that survive every HTTP stack unchanged. */
const HEADER_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?$/;
/** What a quoted-string parameter can hold without escapes. */
const PREFIX = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const MAX_KEEP_ALIVE_TIMEOUT = 2_147_483_647;
/** A ping or pong payload: a control frame carries at most 125 bytes (RFC 6455 §5.5). */
const MAX_CONTROL_FRAME_PAYLOAD = 125;

/**
 * Builds the reply to one WebSocket-over-HTTP request: a `Response` with status 200,
 * `Content-Type: application/websocket-events`, and the events in this order: `OPEN` first (if `accept()` was
 * called), then a `PONG` for each `PING` of the `request` option, then every message and control message in call
 * order, then `CLOSE` or `DISCONNECT` last (if `close()` or `drop()` was called; the later of the two wins). Like
 * js-grip's `WebSocketContext`, but typed and producing a Fetch `Response`.
 *
 * Every method checks its arguments and throws a {@link GripUsageError} on a bad one (an invalid channel, a
 * close code that cannot be sent...): those are bugs in the caller, not conditions to handle.
 *
 * @example
 * const reply = new WebSocketReply({ request: ws });
 * if (ws.isOpening) reply.accept();
 * reply.subscribe('room:lobby').send('welcome');
 * return reply.toResponse();
 */
export class WebSocketReply {
  #accepted: { subprotocol: string | null; messagePrefix: string } | null = null;
  #messagePrefix: string;
  readonly #queued: Queued[] = [];
  #terminal: WsEvent | null = null;
  readonly #meta = new Map<string, string>();
  #pollInterval: number | null = null;

  /**
   * @example
   * // A later request on a connection accepted with accept({ messagePrefix: '' }):
   * const reply = new WebSocketReply({ messagePrefix: '' });
   */
  constructor(options: WebSocketReplyOptions = {}) {
    this.#messagePrefix = checkPrefix(options.messagePrefix ?? DEFAULT_MESSAGE_PREFIX);
    for (const event of options.request?.events ?? []) {
      if (event.type === 'PING') this.#queued.push({ kind: 'pong', data: event.data.slice() });
    }
  }

  /**
   * Accepts the connection (answers an OPEN request) and turns GRIP mode on: the reply starts with `OPEN` and
   * carries `Sec-WebSocket-Extensions: grip` (with `; message-prefix="…"` unless the prefix is `m:`), and
   * `Sec-WebSocket-Protocol` when a subprotocol is chosen. Calling it again replaces the options.
   *
   * @example
   * reply.accept({ subprotocol: 'chat.v1' });
   */
  accept(options: AcceptOptions = {}): this {
    const subprotocol = options.subprotocol ?? null;
    if (subprotocol !== null && (typeof subprotocol !== 'string' || !TOKEN.test(subprotocol))) {
      throw new GripUsageError('invalid-subprotocol', `invalid subprotocol ${describe(subprotocol)}: must be an HTTP token`);
    }
    const messagePrefix = checkPrefix(options.messagePrefix ?? DEFAULT_MESSAGE_PREFIX);
    this.#accepted = { subprotocol, messagePrefix };
    this.#messagePrefix = messagePrefix;
    return this;
  }

  /**
   * Sends a text message to this connection, with the message prefix in front (GRIP mode drops messages
   * without it).
   *
   * @example
   * reply.send(JSON.stringify({ type: 'welcome' }));
   */
  send(text: string): this {
    if (typeof text !== 'string') throw new GripUsageError('invalid-argument', 'send() takes a string; use sendBinary() for bytes');
    this.#queued.push({ kind: 'text', text });
    return this;
  }

  /**
   * Sends a binary message to this connection, with the message prefix's bytes in front.
   *
   * @example
   * reply.sendBinary(new Uint8Array([1, 2, 3]));
   */
  sendBinary(data: Uint8Array): this {
    if (!(data instanceof Uint8Array)) throw new GripUsageError('invalid-argument', 'sendBinary() takes a Uint8Array');
    this.#queued.push({ kind: 'binary', data: data.slice() });
    return this;
  }

  /**
   * Subscribes this connection to a channel: messages published to it reach the client. `since` resumes from the
   * last item the client saw and `recoveryFailed` says what to send when that is impossible (this server's
   * extension; see {@link SubscribeOptions}); `filters` are Pushpin's publish filters. Throws a
   * {@link GripUsageError} for an invalid channel, an empty `since`, more than 5 filters or a `recoveryFailed`
   * text over 131,072 bytes.
   *
   * @example
   * reply.subscribe('room:lobby');
   * // c:{"type":"subscribe","channel":"room:lobby","since":"m-41","recovery-failed":"{\"type\":\"reload\"}","filters":["skip-self"]}
   * reply.subscribe('room:lobby', { since: 'm-41', recoveryFailed: '{"type":"reload"}', filters: ['skip-self'] });
   */
  subscribe(channel: string, options: SubscribeOptions = {}): this {
    const message: SubscribeWire = {
      type: 'subscribe',
      channel: checkChannel(channel),
      ...(options.since !== undefined ? { since: checkSince(options.since) } : {}),
      ...(options.recoveryFailed !== undefined ? { 'recovery-failed': checkRecoveryFailed(options.recoveryFailed) } : {}),
      ...(options.filters !== undefined && options.filters.length > 0 ? { filters: checkFilters(options.filters) } : {}),
    };
    this.#queued.push({ kind: 'subscribe', message });
    return this;
  }

  /**
   * Sets (or, with `null`, removes) this connection's filter meta, which publish filters compare with an item's
   * `meta` (e.g. `user` for `skip-self`): `c:{"type":"set-meta","name":…,"value":…}`. Pushpin keeps it apart from
   * {@link WebSocketReply.setMeta}'s `Set-Meta-*` values, which only come back to the backend.
   *
   * @example
   * reply.setFilterMeta('user', 'alice').subscribe('room:lobby', { filters: ['skip-self'] });
   * await control.publish('room:lobby', 'hi', { meta: { sender: 'alice' } }); // every subscriber but alice
   */
  setFilterMeta(name: string, value: string | null): this {
    if (typeof name !== 'string' || name === '')
      throw new GripUsageError('invalid-meta-name', 'filter meta name must be a non-empty string');
    if (value !== null && typeof value !== 'string')
      throw new GripUsageError('invalid-meta-value', 'filter meta value must be a string or null');
    return this.#control({ type: 'set-meta', name, value });
  }

  /**
   * Unsubscribes this connection from a channel.
   *
   * @example
   * reply.unsubscribe('room:lobby');
   */
  unsubscribe(channel: string): this {
    return this.#control({ type: 'unsubscribe', channel: checkChannel(channel) });
  }

  /**
   * Detaches the backend from this connection, as Pushpin does: the backend gets one last request, a `CLOSE` without
   * a code; the client's later frames are read and discarded; the client stays connected with its subscriptions
   * and keeps receiving what is published (a push-only connection); when it finally closes, the proxy answers the
   * close itself and the backend hears nothing more. This server does the same, locally and on AWS.
   *
   * @example
   * reply.accept().subscribe('news').detach();
   */
  detach(): this {
    return this.#control({ type: 'detach' });
  }

  /**
   * Sends the client a ping frame (`PING` event), with an optional payload of at most 125 bytes. Pushpin sends it
   * as a real ping; this server cannot send control frames on AWS and drops it there with a log line.
   *
   * @example
   * reply.ping(new TextEncoder().encode('are you there?'));
   */
  ping(data: Uint8Array = new Uint8Array(0)): this {
    this.#queued.push({ kind: 'ping', data: checkControlPayload('ping', data) });
    return this;
  }

  /**
   * Sends the client a pong frame (`PONG` event), with an optional payload of at most 125 bytes. Replies built
   * with `{ request }` already answer each `PING` with a `PONG`.
   *
   * @example
   * reply.pong();
   */
  pong(data: Uint8Array = new Uint8Array(0)): this {
    this.#queued.push({ kind: 'pong', data: checkControlPayload('pong', data) });
    return this;
  }

  /**
   * Asks the server to send `content` to the client after `timeout` idle seconds (or every `timeout` seconds in
   * `interval` mode), e.g. to keep proxies from closing a quiet connection. Without `content` it turns
   * keep-alives off.
   *
   * @example
   * reply.keepAlive({ content: '{"type":"ping"}', timeout: 30 });
   */
  keepAlive(options: KeepAliveOptions = {}): this {
    const timeout = options.timeout ?? DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS;
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_KEEP_ALIVE_TIMEOUT) {
      throw new GripUsageError('invalid-keep-alive', `keep-alive timeout must be a positive integer of seconds, got ${describe(timeout)}`);
    }
    const mode = options.mode ?? 'idle';
    if (mode !== 'idle' && mode !== 'interval') {
      throw new GripUsageError('invalid-keep-alive', `keep-alive mode must be 'idle' or 'interval', got ${describe(mode)}`);
    }
    return this.#control({ type: 'keep-alive', message: keepAliveMessage(options), timeoutSeconds: timeout, mode });
  }

  /**
   * Asks the server to poll the backend (`Keep-Alive-Interval`): an empty request (no events) comes after
   * `seconds` without any request on this connection, so the backend can send without waiting for the client.
   * GRIP proxies raise it to 20 s at least; `0` turns polling off. It lasts until a later reply changes it. An
   * OPEN reply that only sets this (no `accept()`) defers the handshake: the OPEN is asked again after the interval.
   *
   * @example
   * return new WebSocketReply().accept().pollEvery(30).toResponse();
   */
  pollEvery(seconds: number): this {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_KEEP_ALIVE_TIMEOUT) {
      throw new GripUsageError('invalid-keep-alive', `poll interval must be a whole number of seconds ≥ 0, got ${describe(seconds)}`);
    }
    this.#pollInterval = seconds;
    return this;
  }

  /**
   * Closes the connection cleanly with a close code (default 1000) and a reason of at most 123 UTF-8 bytes.
   * The `CLOSE` goes after every other event of this reply; a later `close()` or `drop()` replaces it.
   *
   * @example
   * reply.close(4001, 'not allowed');
   */
  close(code = 1000, reason = ''): this {
    checkClose(code, reason);
    this.#terminal = { type: 'CLOSE', code, reason };
    return this;
  }

  /**
   * Drops the connection without a close handshake (`DISCONNECT`; the client sees 1006). Goes after every
   * other event of this reply; a later `close()` or `drop()` replaces it.
   *
   * @example
   * reply.drop();
   */
  drop(): this {
    this.#terminal = { type: 'DISCONNECT' };
    return this;
  }

  /**
   * Stores a value on the connection (`Set-Meta-<name>`); every later request carries it as `Meta-<name>`
   * (read it from `WebSocketRequest.meta[name]`). Names are header tokens and are lower-cased; values are
   * printable ASCII without leading or trailing spaces (encode anything else, e.g. with `encodeURIComponent`).
   *
   * @example
   * reply.setMeta('user', 'alice');
   */
  setMeta(name: string, value: string): this {
    if (typeof value !== 'string' || !HEADER_VALUE.test(value) || value === '') {
      throw new GripUsageError(
        'invalid-meta-value',
        `invalid value for meta ${describe(name)}: must be non-empty printable ASCII without leading or trailing spaces (use deleteMeta to remove)`,
      );
    }
    this.#meta.set(checkMetaName(name), value);
    return this;
  }

  /**
   * Removes a value stored with {@link WebSocketReply.setMeta} (`Set-Meta-<name>` with an empty value).
   *
   * @example
   * reply.deleteMeta('user');
   */
  deleteMeta(name: string): this {
    this.#meta.set(checkMetaName(name), '');
    return this;
  }

  /**
   * Rejects the connection (answers an OPEN request): the client gets this status, headers and body as its
   * handshake response instead of `101 Switching Protocols`. Anything else queued on this reply is discarded.
   * Pushpin cuts the body to 100,000 bytes.
   *
   * @example
   * if (!user) return reply.reject(401, 'sign in first', { 'WWW-Authenticate': 'Bearer' });
   */
  reject(status: number, body?: string | Uint8Array<ArrayBuffer>, headers?: HeadersInit): Response {
    if (!Number.isInteger(status) || status < 300 || status > 599) {
      throw new GripUsageError('invalid-status', `reject status must be an integer from 300 to 599, got ${describe(status)}`);
    }
    return new Response(body ?? null, { status, ...(headers !== undefined ? { headers } : {}) });
  }

  /**
   * Builds the `Response`. Can be called more than once; each call reflects the calls made so far. Throws a
   * {@link GripUsageError}: `message-too-large` if the body would exceed 1,000,000 bytes, which Pushpin refuses;
   * `invalid-message-prefix` if the prefix is `''` and a text message starts with `c:`.
   *
   * @example
   * return new WebSocketReply().accept().send('hi').toResponse();
   */
  toResponse(): Response {
    const prefix = this.#messagePrefix;
    const events: WsEvent[] = [];
    if (this.#accepted) events.push({ type: 'OPEN' });
    for (const item of this.#queued) events.push(toEvent(item, prefix));
    if (this.#terminal) events.push(this.#terminal);
    const body = encodeEvents(events);
    if (body.length > MAX_REPLY_BODY_BYTES) {
      throw new GripUsageError(
        'message-too-large',
        `reply body is ${body.length} bytes, more than the ${MAX_REPLY_BODY_BYTES} a GRIP proxy accepts`,
      );
    }
    const headers = new Headers({ 'Content-Type': WEBSOCKET_EVENTS_CONTENT_TYPE });
    if (this.#accepted) {
      const { messagePrefix, subprotocol } = this.#accepted;
      headers.set(
        'Sec-WebSocket-Extensions',
        messagePrefix === DEFAULT_MESSAGE_PREFIX ? 'grip' : `grip; message-prefix="${messagePrefix}"`,
      );
      if (subprotocol !== null) headers.set('Sec-WebSocket-Protocol', subprotocol);
    }
    for (const [name, value] of this.#meta) headers.set(`Set-Meta-${name}`, value);
    if (this.#pollInterval !== null) headers.set('Keep-Alive-Interval', String(this.#pollInterval));
    return new Response(new Uint8Array(body), { status: 200, headers });
  }

  #control(message: GripControlMessage): this {
    this.#queued.push({ kind: 'control', message });
    return this;
  }
}

function toEvent(item: Queued, prefix: string): WsEvent {
  switch (item.kind) {
    case 'control':
      return { type: 'TEXT', text: `c:${encodeGripControlMessage(item.message)}` };
    case 'subscribe':
      return { type: 'TEXT', text: `c:${JSON.stringify(item.message)}` };
    case 'ping':
      return { type: 'PING', data: item.data };
    case 'pong':
      return { type: 'PONG', data: item.data };
    case 'text':
      // With an empty prefix the proxy would take this message for a control message.
      if (item.text.startsWith('c:') && prefix === '') {
        throw new GripUsageError('invalid-message-prefix', 'with an empty message prefix, a text message cannot start with "c:"');
      }
      return { type: 'TEXT', text: prefix + item.text };
    case 'binary': {
      const prefixBytes = utf8.encode(prefix);
      const data = new Uint8Array(prefixBytes.length + item.data.length);
      data.set(prefixBytes);
      data.set(item.data, prefixBytes.length);
      return { type: 'BINARY', data };
    }
  }
}

function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new GripUsageError('invalid-message-prefix', `invalid message prefix ${describe(prefix)}: printable ASCII without '"' or '\\'`);
  }
  if (prefix.startsWith('c:')) {
    throw new GripUsageError('invalid-message-prefix', 'a message prefix must not start with "c:", the control-message prefix');
  }
  return prefix;
}

function checkSince(since: unknown): string {
  if (typeof since !== 'string' || since === '')
    throw new GripUsageError('invalid-argument', 'subscribe: since must be a non-empty item id');
  return since;
}

function checkRecoveryFailed(text: unknown): string {
  if (typeof text !== 'string') throw new GripUsageError('invalid-argument', 'subscribe: recoveryFailed must be a string');
  if (utf8ByteLength(text) > MAX_MESSAGE_BYTES) {
    throw new GripUsageError('message-too-large', `subscribe: recoveryFailed is over ${MAX_MESSAGE_BYTES} bytes, the largest message`);
  }
  return text;
}

function checkFilters(filters: readonly unknown[]): string[] {
  if (!Array.isArray(filters)) throw new GripUsageError('invalid-argument', 'subscribe: filters must be an array of filter names');
  if (filters.length > MAX_SUBSCRIBE_FILTERS) {
    throw new GripUsageError(
      'invalid-argument',
      `subscribe: ${filters.length} filters, more than the ${MAX_SUBSCRIBE_FILTERS} Pushpin allows (it would close the client with 1011)`,
    );
  }
  return filters.map((filter) => {
    if (typeof filter !== 'string' || filter === '')
      throw new GripUsageError('invalid-argument', `subscribe: invalid filter ${describe(filter)}`);
    return filter;
  });
}

function checkControlPayload(kind: 'ping' | 'pong', data: unknown): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new GripUsageError('invalid-argument', `${kind}() takes a Uint8Array`);
  if (data.length > MAX_CONTROL_FRAME_PAYLOAD) {
    throw new GripUsageError('invalid-argument', `${kind} payload is ${data.length} bytes; a control frame carries at most 125`);
  }
  return data.slice();
}

function checkMetaName(name: unknown): string {
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    throw new GripUsageError('invalid-meta-name', `invalid meta name ${describe(name)}: must be an HTTP header token`);
  }
  return name.toLowerCase();
}

function keepAliveMessage(options: KeepAliveOptions): KeepAliveMessage | null {
  const { content } = options;
  if (content === undefined) return null;
  if (typeof content !== 'string' && !(content instanceof Uint8Array)) {
    throw new GripUsageError('invalid-keep-alive', 'keep-alive content must be a string or a Uint8Array');
  }
  const type = options.messageType ?? (typeof content === 'string' ? 'text' : 'binary');
  switch (type) {
    case 'text': {
      const text = typeof content === 'string' ? content : decodeUtf8Strict(content);
      if (text === null) throw new GripUsageError('invalid-keep-alive', 'keep-alive content of type text must be valid UTF-8');
      return { kind: 'text', text };
    }
    case 'binary':
    case 'ping':
    case 'pong':
      return { kind: type, data: typeof content === 'string' ? utf8.encode(content) : content.slice() };
    default:
      throw new GripUsageError('invalid-keep-alive', `keep-alive messageType must be text, binary, ping or pong, got ${describe(type)}`);
  }
}
