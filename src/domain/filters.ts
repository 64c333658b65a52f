/**
 * Pushpin's publish filters (`docs/pushpin-semantics.md` §5; upstream `src/handler/filter.cpp`,
 * `WsSession::processPublishQueue`): per subscriber and per item, the filter names that subscriber gave when it
 * subscribed to the channel decide from its filter meta (`set-meta`) and the item's `meta` whether it gets the
 * item, and content filters rewrite the content. Pure: fan-out calls {@link filterDelivery} with what the channel
 * index carries about the subscriber, never with a read per subscriber.
 */
import { decodeBase64, encodeBase64 } from './protocol/base64.js';
import { isMessage, type Message, type Payload } from './message.js';
import { err, ok, type Result } from './result.js';

export { MAX_SUBSCRIBE_FILTERS } from './protocol/grip-control.js';

/** The filters Pushpin knows (`Filter::names`); other names are accepted and skipped at delivery, as Pushpin does. */
export const FILTER_NAMES = ['skip-self', 'skip-users', 'require-sub', 'build-id', 'var-subst'] as const;
export type FilterName = (typeof FILTER_NAMES)[number];

/** Filters whose target includes the message content (`Filter::targets(...) & MessageContent`). */
const CONTENT_FILTERS: ReadonlySet<string> = new Set(['build-id', 'var-subst']);
const KNOWN: ReadonlySet<string> = new Set(FILTER_NAMES);

export const isKnownFilter = (name: string): name is FilterName => KNOWN.has(name);

/** What a subscription carries for its filters (the subscription item and its channel-index entry hold it). */
export interface SubscriberFilters {
  /** The filter names given with `subscribe`, in order (unknown names included: they are skipped here). */
  readonly names: readonly string[];
  /** The connection's filter meta (`set-meta`), as it was when the subscription was last written. */
  readonly meta: Readonly<Record<string, string>>;
  /** The connection's channels: carried only when `names` has `require-sub`, which needs them. */
  readonly channels?: readonly string[];
}

/** What a publish item brings to the filters. */
export interface ItemFilterInput {
  /** The item's `meta` (empty when it had none). */
  readonly meta: Readonly<Record<string, string>>;
  /** The `ws-message` format's `content-filters`; `null` when the item did not give the field. */
  readonly contentFilters: readonly string[] | null;
}

export type FilterDecision =
  | { readonly kind: 'send'; readonly payload: Payload }
  /** A filter (or a content-filter mismatch) said this subscriber does not get the item. */
  | { readonly kind: 'drop'; readonly reason: string }
  /** A filter failed (e.g. `var-subst` met an unknown variable): the subscriber does not get the item. */
  | { readonly kind: 'error'; readonly reason: string };

/** The subscriber's content filters, in order: what an item's `content-filters` must equal. */
export function contentFiltersOf(names: readonly string[]): string[] {
  return names.filter((name) => CONTENT_FILTERS.has(name));
}

/**
 * Decides one delivery, as upstream Pushpin's `WsSession::processPublishQueue` does: when the item names
 * `content-filters`, the subscriber's content filters must equal them (else the item is dropped for it); then
 * the filters run in order, each deciding send/drop and passing the (possibly rewritten) content on. The first
 * drop or error ends it. Unknown names are skipped. A close payload is never rewritten. Returns the payload
 * unchanged (the same object) when nothing rewrote it, so callers can tell who needs their own copy.
 *
 * @example
 * filterDelivery({ names: ['skip-self'], meta: { user: 'alice' } }, { meta: { sender: 'alice' }, contentFilters: null }, text)
 * // { kind: 'drop', reason: 'skip-self: sender is this user' }
 */
export function filterDelivery(subscriber: SubscriberFilters | undefined, item: ItemFilterInput, payload: Payload): FilterDecision {
  const names = subscriber?.names ?? [];
  if (item.contentFilters !== null) {
    const mine = contentFiltersOf(names);
    if (mine.length !== item.contentFilters.length || mine.some((name, i) => name !== item.contentFilters?.[i])) {
      return {
        kind: 'drop',
        reason: `content filter mismatch: subscription=${mine.join(',')} message=${item.contentFilters.join(',')}`,
      };
    }
  }
  if (subscriber === undefined || names.length === 0) return { kind: 'send', payload };
  let content: Payload = payload;
  for (const name of names) {
    if (!isKnownFilter(name)) continue;
    const drop = deliveryFilter(name, subscriber, item.meta);
    if (drop !== null) return { kind: 'drop', reason: `${name}: ${drop}` };
    if (!CONTENT_FILTERS.has(name) || !isMessage(content)) continue;
    const meta = subscriber.meta;
    const rewritten = rewrite(content, (text, bytes) => (name === 'var-subst' ? varSubst(text, meta, bytes) : buildId(text, meta, bytes)));
    if (!rewritten.ok) return { kind: 'error', reason: `${name}: ${rewritten.error}` };
    content = rewritten.value;
  }
  return { kind: 'send', payload: content };
}

/** The delivery filters' rules (`sendAction`): a reason to drop, or `null` to send. */
function deliveryFilter(name: FilterName, subscriber: SubscriberFilters, itemMeta: Readonly<Record<string, string>>): string | null {
  const user = subscriber.meta['user'] ?? '';
  switch (name) {
    case 'skip-self': {
      const sender = itemMeta['sender'] ?? '';
      return user !== '' && sender !== '' && sender === user ? 'sender is this user' : null;
    }
    case 'skip-users': {
      const skip = (itemMeta['skip_users'] ?? '')
        .split(',')
        .map((s) => s.trim()) // QString::trimmed
        .filter((s) => s !== '');
      return user !== '' && skip.includes(user) ? 'this user is in skip_users' : null;
    }
    case 'require-sub': {
      const required = itemMeta['require_sub'] ?? '';
      return required !== '' && !(subscriber.channels ?? []).includes(required) ? `not subscribed to ${JSON.stringify(required)}` : null;
    }
    default:
      return null;
  }
}

/**
 * Rewrites a message's content with `process`. Pushpin's filters work on bytes: binary content is processed
 * as one character per byte (latin1), so `%` directives are found the same way; text is processed as it is
 * (the directive characters are ASCII, which UTF-8 never uses inside a multi-byte character).
 */
function rewrite(message: Message, process: (text: string, bytes: boolean) => Result<string, string>): Result<Payload, string> {
  if (message.kind === 'text') {
    const out = process(message.text, false);
    return out.ok ? ok({ kind: 'text', text: out.value }) : out;
  }
  const data = decodeBase64(message.base64);
  if (data === null) return err('binary content is not valid base64');
  const out = process(byteString(data), true);
  return out.ok ? ok({ kind: 'binary', base64: encodeBase64(bytesOf(out.value)) }) : out;
}

/** `var-subst`: `%(name)s` → the subscriber's filter meta `name`; `%%` → `%`; anything else is an error. */
function varSubst(content: string, meta: Readonly<Record<string, string>>, bytes: boolean): Result<string, string> {
  return formatProcess(content, (type, arg) => {
    if (type !== 's') return err(`Unknown directive '${type}'`);
    if (arg === null) return err("Directive 's' requires argument");
    const value = meta[arg];
    if (value === undefined) return err(`No such variable '${arg}'`);
    return ok(bytes ? byteString(utf8.encode(value)) : value);
  });
}

/**
 * `build-id`: needs filter meta `id_format`. The default id is `id_format` rendered with the subscription's
 * last ids, which WebSocket subscriptions do not have (upstream passes each channel with a null id), so any
 * `%(name)s` in it is an error and plain text stays as it is. Then `%I` in the content → the default id,
 * `%(x)I` → `x`; `id_encoding: hex` hex-encodes them.
 */
function buildId(content: string, meta: Readonly<Record<string, string>>, bytes: boolean): Result<string, string> {
  const idFormat = meta['id_format'];
  if (idFormat === undefined) return err("no sub meta 'id_format'");
  const defaultId = formatProcess(idFormat, (type, arg) => {
    if (type !== 's') return err(`Unknown directive '${type}'`);
    if (arg === null) return err("Directive 's' requires argument");
    return err(`No such variable '${arg}'`);
  });
  if (!defaultId.ok) return err(`failed to render ID: ${defaultId.error}`);
  const encoding = meta['id_encoding'];
  if (encoding !== undefined && encoding !== 'hex') return err(`unsupported encoding: ${encoding}`);
  const hex = encoding === 'hex';
  // In byte mode the content's characters are bytes: the default id joins them as its UTF-8 bytes.
  const fallback = bytes ? byteString(utf8.encode(defaultId.value)) : defaultId.value;
  return formatProcess(content, (type, arg) => {
    if (type !== 'I') return err(`Unknown directive '${type}'`);
    const id = arg ?? fallback;
    return ok(hex ? hexOf(bytes ? bytesOf(id) : utf8.encode(id)) : id);
  });
}

/**
 * Pushpin's `Format::process`: copies `format`, replacing `%<letter>` and `%(<arg>)<char>` directives with what
 * `handle` returns (`\` escapes the next character inside the parentheses; an empty `()` is no argument) and
 * `%%` with `%`. A lone `%`, an unterminated field, an unknown directive or a handler error fails the whole
 * content, with the position.
 */
export function formatProcess(
  format: string,
  handle: (type: string, arg: string | null) => Result<string, string>,
): Result<string, string> {
  let out = '';
  const length = format.length;
  for (let n = 0; n < length; n++) {
    let c = format.charAt(n);
    if (c !== '%') {
      out += c;
      continue;
    }
    if (n + 1 >= length) return err(`Expected directive after '%' at position ${n}`);
    c = format.charAt(++n);
    if (c === '%') {
      out += c;
      continue;
    }
    let arg: string | null = null;
    if (c === '(') {
      const fieldStart = n;
      if (n + 1 >= length) return err(`Expected character after '(' at position ${n}`);
      n++;
      let field = '';
      let closed = false;
      for (; n < length; n++) {
        c = format.charAt(n);
        if (c === '\\') {
          if (n + 1 >= length) return err(`Expected character after '\\' at position ${n}`);
          field += format.charAt(++n);
        } else if (c === ')') {
          closed = true;
          break;
        } else {
          field += c;
        }
      }
      if (!closed) return err(`Unterminated field starting at position ${fieldStart}`);
      if (n + 1 >= length) return err(`Expected directive after ')' at position ${n}`);
      c = format.charAt(++n);
      arg = field === '' ? null : field;
    } else if (!/^[A-Za-z]$/.test(c)) {
      return err(`Unknown directive '${c}' at position ${n}`);
    }
    const result = handle(c, arg);
    if (!result.ok) return err(`${result.error} at position ${n}`);
    out += result.value;
  }
  return ok(out);
}

const utf8 = new TextEncoder();

function byteString(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}

function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
}

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
