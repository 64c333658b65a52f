/**
 * GRIP publish items (`docs/grip-protocol.md` §3) in their exact wire shape, with builders. An item targets
 * a channel (Pushpin's format) or, as this server's extension, one connection by id. The builders only shape
 * the JSON; `ControlClient.publishItems` checks every item with the server's own parser before sending.
 */
import { encodeBase64 } from '../domain/protocol/base64.js';
import { GripUsageError } from './errors.js';

/** The `ws-message` format: a text message, a binary one (base64), a close, or a refresh. */
export type WsMessageFormat =
  | { readonly content: string }
  | { readonly 'content-bin': string }
  | { readonly action: 'close'; readonly code?: number; readonly reason?: string }
  | { readonly action: 'refresh' };

interface ItemBase {
  /** An id for this message; Pushpin orders the messages of a channel by `id`/`prev-id`. */
  readonly id?: string;
  readonly 'prev-id'?: string;
  /** Values publish filters compare with subscribers' filter meta (e.g. `sender` for `skip-self`). */
  readonly meta?: Readonly<Record<string, string>>;
  readonly formats: { readonly 'ws-message': WsMessageFormat };
}

/** One publish item, as JSON on the wire: exactly one of `channel` or `connection` (our extension). */
export type PublishItem =
  | (ItemBase & { readonly channel: string; readonly connection?: never })
  | (ItemBase & { readonly connection: string; readonly channel?: never });

export interface ItemOptions {
  /**
   * The item's id. Like Pushpin (`id_cache_ttl`), this server drops an item whose id the channel saw within
   * `idCacheTtlSeconds` (default 60 s), so retrying a publish with the same id cannot deliver it twice.
   */
  readonly id?: string;
  /** The id of the item before this one: Pushpin holds this item until that one was delivered (at most ~5 s). */
  readonly prevId?: string;
  /**
   * The item's `meta`, for publish filters: e.g. `{ sender: 'alice' }` with subscribers that set filter meta
   * `user` and subscribed with the `skip-self` filter.
   */
  readonly meta?: Readonly<Record<string, string>>;
}

export interface CloseOptions {
  /** The close code the clients get (default: none, which they see as 1005). */
  readonly code?: number;
  /** The close reason, at most 123 UTF-8 bytes. */
  readonly reason?: string;
}

/**
 * An item that sends `text` to every connection subscribed to `channel`.
 *
 * @example
 * await control.publishItems([textItem('room:1', 'hello', { id: 'm2', prevId: 'm1' })]);
 */
export function textItem(channel: string, text: string, options: ItemOptions = {}): PublishItem {
  return { channel, ...ids(options), formats: { 'ws-message': { content: text } } };
}

/**
 * An item that sends `data` as a binary message to every connection subscribed to `channel`.
 *
 * @example
 * await control.publishItems([binaryItem('sensors', new Uint8Array([1, 2, 3]))]);
 */
export function binaryItem(channel: string, data: Uint8Array, options: ItemOptions = {}): PublishItem {
  return { channel, ...ids(options), formats: { 'ws-message': { 'content-bin': base64Of(data) } } };
}

/**
 * An item that closes every connection subscribed to `channel`, with an optional code and reason.
 *
 * @example
 * await control.publishItems([closeItem('room:1', { code: 4000, reason: 'room closed' })]);
 */
export function closeItem(channel: string, options: CloseOptions & ItemOptions = {}): PublishItem {
  return { channel, ...ids(options), formats: { 'ws-message': closeFormat(options) } };
}

/**
 * An item that makes every connection subscribed to `channel` send a request to the backend now (an empty one when
 * the client sent nothing), as Pushpin's `refresh` action does: the backend answers each with what it has.
 *
 * @example
 * await control.publishItems([refreshItem('room:1')]);
 */
export function refreshItem(channel: string): PublishItem {
  return { channel, formats: { 'ws-message': { action: 'refresh' } } };
}

/**
 * An item (this server's extension) that sends `text` to one connection, by its `Connection-Id`.
 *
 * @example
 * await control.publishItems([connectionTextItem(ws.connectionId, 'just for you')]);
 */
export function connectionTextItem(connectionId: string, text: string, options: ItemOptions = {}): PublishItem {
  return { connection: connectionId, ...ids(options), formats: { 'ws-message': { content: text } } };
}

/**
 * An item (this server's extension) that closes one connection, by its `Connection-Id`.
 *
 * @example
 * await control.publishItems([connectionCloseItem(ws.connectionId, { code: 4003, reason: 'banned' })]);
 */
export function connectionCloseItem(connectionId: string, options: CloseOptions & ItemOptions = {}): PublishItem {
  return { connection: connectionId, ...ids(options), formats: { 'ws-message': closeFormat(options) } };
}

function ids(options: ItemOptions): { id?: string; 'prev-id'?: string; meta?: Readonly<Record<string, string>> } {
  return {
    ...(options.id !== undefined ? { id: options.id } : {}),
    ...(options.prevId !== undefined ? { 'prev-id': options.prevId } : {}),
    ...(options.meta !== undefined ? { meta: { ...options.meta } } : {}),
  };
}

function closeFormat(options: CloseOptions): WsMessageFormat {
  return {
    action: 'close',
    ...(options.code !== undefined ? { code: options.code } : {}),
    ...(options.reason !== undefined ? { reason: options.reason } : {}),
  };
}

function base64Of(data: Uint8Array): string {
  // Checked here because JSON.stringify would silently turn a wrong value into an object of indices.
  if (!(data instanceof Uint8Array)) throw new GripUsageError('invalid-item', 'binary content must be a Uint8Array');
  return encodeBase64(data);
}
