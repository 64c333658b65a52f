import { fullJitterDelay } from '../domain/backoff.js';
import { parsePublishBody } from '../domain/publish/parse.js';
import { err, type Result } from '../domain/result.js';
import type { SharedKey } from '../domain/shared-key.js';
import { GripUsageError } from './errors.js';
import {
  binaryItem,
  closeItem,
  refreshItem,
  connectionCloseItem,
  connectionTextItem,
  textItem,
  type CloseOptions,
  type ItemOptions,
  type PublishItem,
} from './items.js';
import { MAX_HISTORY_LIMIT, parseHistoryPage, sinceUnknown, type HistoryGap, type HistoryOptions, type HistoryPage } from './history.js';
import { signHs256 } from './jwt.js';
import { checkKey } from './signature.js';
import { checkChannel } from './validate.js';

/** Lifetime of the control JWT, as js-grip (`exp: now + 10 min`). */
const CONTROL_JWT_TTL_SECONDS = 600;

export interface RetryOptions {
  /** Retries after the first attempt (default 3); 0 turns retrying off. */
  readonly retries?: number;
  /** The backoff before retry n is a random delay in [0, min(maxDelayMs, baseDelayMs × 2^n)) (default 100). */
  readonly baseDelayMs?: number;
  /** Cap of the backoff window (default 2,000). */
  readonly maxDelayMs?: number;
  /**
   * A `Retry-After` longer than this ends the retries at once instead of waiting (default 30,000); a shorter
   * one is waited out exactly, in place of the backoff.
   */
  readonly maxRetryAfterMs?: number;
}

export interface ControlClientOptions {
  /**
   * The GRIP control URI, e.g. `http://127.0.0.1:5561`; `/publish/` is appended as js-grip does
   * (`http://h/prefix` → `http://h/prefix/publish/`).
   */
  readonly url: string;
  /** The shared key. With `iss`: a fresh HS256 JWT per request; alone (a string): sent as `Bearer <key>`. */
  readonly key?: SharedKey;
  /** The JWT issuer (js-grip's `control_iss`). Needs `key`. */
  readonly iss?: string;
  /** The `fetch` to use (default the global one): inject it to trace, proxy or test. */
  readonly fetch?: typeof fetch;
  /** Retry policy for 429, 5xx and network errors; `false` turns retries off. */
  readonly retry?: RetryOptions | false;
  /** Per-attempt timeout in milliseconds (default 10,000); a timed-out attempt counts as a network error. */
  readonly timeoutMs?: number;
  /** Waits between retries (default `setTimeout`); inject it so tests do not wait. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Returns a number in [0, 1) for the backoff jitter (default `Math.random`). */
  readonly random?: () => number;
  /** The current time in epoch milliseconds (default `Date.now`), for JWT expiry and `Retry-After` dates. */
  readonly now?: () => number;
}

/**
 * Why a control API request failed, as a stable code:
 * - `unauthorized`: 401 or 403 (wrong key or issuer); never retried.
 * - `rejected`: any other non-2xx that is not 429 or 5xx (a 400 names the invalid item); never retried.
 * - `rate-limited`: 429, still after the last retry (or with a `Retry-After` over `maxRetryAfterMs`).
 * - `server-error`: 5xx, still after the last retry.
 * - `network`: `fetch` failed or timed out, still after the last retry.
 * - `invalid-answer`: a 2xx whose body is not what the API promises (history only).
 */
export type ControlErrorCode = 'unauthorized' | 'rejected' | 'rate-limited' | 'server-error' | 'network' | 'invalid-answer';
/** The codes a publish fails with (all of {@link ControlErrorCode} but `invalid-answer`). */
export type PublishErrorCode = Exclude<ControlErrorCode, 'invalid-answer'>;

interface ControlErrorDetails {
  readonly status: number | null;
  readonly body: string | null;
  readonly attempts: number;
  readonly cause?: unknown;
}

/**
 * A control API request that did not succeed. `status` and `body` are those of the last response (null after a
 * network error), `attempts` how many requests were made, `retryable` whether trying again later may help (false
 * for `unauthorized`, `rejected` and `invalid-answer`), and `cause` the network error if there was one. Publishes
 * fail with its subclass {@link PublishError}.
 *
 * @example
 * try {
 *   await control.history('room:lobby', { since: lastId });
 * } catch (e) {
 *   if (e instanceof ControlError) console.error(e.code, e.status, e.body);
 * }
 */
export class ControlError extends Error {
  override readonly name: string = 'ControlError';
  readonly code: ControlErrorCode;
  readonly status: number | null;
  readonly body: string | null;
  readonly attempts: number;
  readonly retryable: boolean;

  constructor(code: ControlErrorCode, message: string, details: ControlErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.body = details.body;
    this.attempts = details.attempts;
    this.retryable = code === 'rate-limited' || code === 'server-error' || code === 'network';
  }
}

/**
 * A publish that did not succeed (see {@link ControlError} for the fields).
 *
 * Note that a request which timed out or got a 5xx may still have been published; retries are therefore
 * at-least-once. Give items an `id`: Pushpin and this server drop an item whose id they saw on the channel in the
 * last 60 s (`idCacheTtlSeconds`), and only items with an `id` can be resumed from.
 *
 * @example
 * try {
 *   await control.publish('room', 'hi');
 * } catch (e) {
 *   if (e instanceof PublishError && e.code === 'unauthorized') console.error('check GRIP_KEY', e.status, e.body);
 * }
 */
export class PublishError extends ControlError {
  override readonly name: string = 'PublishError';
  declare readonly code: PublishErrorCode;

  constructor(code: PublishErrorCode, message: string, details: ControlErrorDetails) {
    super(code, message, details);
  }
}

/** What one attempt ended with, when it did not succeed. */
type Failure = {
  readonly code: PublishErrorCode;
  readonly message: string;
  readonly details: ControlErrorDetails;
  /** Whether another attempt may succeed. */
  readonly retry: boolean;
  /** The delay the server asked for, in ms, if it did. */
  readonly retryAfterMs: number | null;
};

/** A control API request: what to send, and which non-2xx statuses are answers rather than failures. */
interface ControlRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly body: string | null;
  readonly answers?: readonly number[];
  /** Builds the error thrown after the last attempt. */
  readonly error: (code: PublishErrorCode, message: string, details: ControlErrorDetails) => ControlError;
}

/**
 * Publishes to a GRIP control API (`POST <url>/publish/`): to channels, as any GRIP publisher does, and to single
 * connections, this server's extension. Authentication follows js-grip's `Publisher`: with `key` and `iss`,
 * `Authorization: Bearer <HS256 JWT {iss, exp: now + 600}>`; with only `key`, `Bearer <key>`.
 *
 * Failed requests are retried on 429, 5xx and network errors (full-jitter exponential backoff, honouring
 * `Retry-After`), never on other statuses. Every method resolves once the server answered 2xx (which means the
 * message was accepted for delivery, not that anyone received it) and otherwise rejects with a
 * {@link PublishError}; invalid arguments reject with a {@link GripUsageError} before anything is sent.
 *
 * @example
 * const control = new ControlClient({ url: 'http://127.0.0.1:5561', key: process.env.GRIP_KEY!, iss: 'backend' });
 * await control.publish('room:lobby', JSON.stringify({ from: 'alice', text: 'hi' }));
 */
export class ControlClient {
  /** The URL publishes are POSTed to. */
  readonly publishUrl: string;
  /** The control URL, ending in `/`. */
  readonly #baseUrl: string;
  readonly #key: SharedKey | undefined;
  readonly #iss: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #retries: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #timeoutMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #now: () => number;

  /**
   * Checks the options and throws a {@link GripUsageError} (`invalid-config`) for an invalid URL, an `iss`
   * without `key`, a binary `key` without `iss`, or an unusable key.
   *
   * @example
   * const control = new ControlClient({ url: 'http://127.0.0.1:5561', key: 'changeme', retry: { retries: 5 } });
   */
  constructor(options: ControlClientOptions) {
    this.#baseUrl = baseUrlOf(options.url);
    this.publishUrl = `${this.#baseUrl}publish/`;
    if (options.key !== undefined) checkKey(options.key);
    if (options.iss !== undefined && (typeof options.iss !== 'string' || options.iss === '')) {
      throw new GripUsageError('invalid-config', 'iss must be a non-empty string');
    }
    if (options.iss !== undefined && options.key === undefined) {
      throw new GripUsageError('invalid-config', 'iss needs a key to sign the token with');
    }
    if (options.iss === undefined && options.key !== undefined && typeof options.key !== 'string') {
      throw new GripUsageError(
        'invalid-config',
        'a binary key can only be used with iss (it is sent as a signed JWT, not as a bearer token)',
      );
    }
    this.#key = options.key;
    this.#iss = options.iss;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    const retry = options.retry === false ? { retries: 0 } : (options.retry ?? {});
    this.#retries = nonNegative('retry.retries', retry.retries ?? 3, true);
    this.#baseDelayMs = nonNegative('retry.baseDelayMs', retry.baseDelayMs ?? 100);
    this.#maxDelayMs = nonNegative('retry.maxDelayMs', retry.maxDelayMs ?? 2_000);
    this.#maxRetryAfterMs = nonNegative('retry.maxRetryAfterMs', retry.maxRetryAfterMs ?? 30_000);
    this.#timeoutMs = nonNegative('timeoutMs', options.timeoutMs ?? 10_000);
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Builds a client from a GRIP URL as js-grip's `parseGripUri` reads it: `?iss=` and `?key=` become the options,
   * the rest is the control URL.
   *
   * @example
   * const control = ControlClient.fromGripUrl('http://127.0.0.1:5561/?iss=backend&key=changeme');
   */
  static fromGripUrl(gripUrl: string, options: Omit<ControlClientOptions, 'url' | 'key' | 'iss'> = {}): ControlClient {
    let url: URL;
    try {
      url = new URL(gripUrl);
    } catch (cause) {
      throw new GripUsageError('invalid-config', 'the GRIP URL is not a valid URL', { cause });
    }
    const iss = url.searchParams.get('iss') ?? undefined;
    const key = url.searchParams.get('key') ?? undefined;
    url.searchParams.delete('iss');
    url.searchParams.delete('key');
    return new ControlClient({
      ...options,
      url: url.toString(),
      ...(iss !== undefined ? { iss } : {}),
      ...(key !== undefined ? { key } : {}),
    });
  }

  /**
   * Sends a text message to every connection subscribed to `channel`.
   *
   * @example
   * await control.publish('room:lobby', 'hello everyone', { id: 'msg-42' });
   */
  publish(channel: string, text: string, options: ItemOptions = {}): Promise<void> {
    return this.#publishBuilt(() => textItem(channel, text, options));
  }

  /**
   * Sends a binary message to every connection subscribed to `channel` (as base64 `content-bin`).
   *
   * @example
   * await control.publishBinary('sensors', new Uint8Array([0x01, 0x02]));
   */
  publishBinary(channel: string, data: Uint8Array, options: ItemOptions = {}): Promise<void> {
    return this.#publishBuilt(() => binaryItem(channel, data, options));
  }

  /**
   * Closes every connection subscribed to `channel`, optionally with a close code and reason.
   *
   * @example
   * await control.closeChannel('room:lobby', { code: 4000, reason: 'room closed' });
   */
  closeChannel(channel: string, options: CloseOptions = {}): Promise<void> {
    return this.#publishBuilt(() => closeItem(channel, options));
  }

  /**
   * Makes every connection subscribed to `channel` send a request to the backend now (Pushpin's `refresh`
   * action): an empty one for clients that sent nothing, so the backend can answer each with its current state.
   *
   * @example
   * await control.refreshChannel('room:lobby');
   */
  refreshChannel(channel: string): Promise<void> {
    return this.#publishBuilt(() => refreshItem(channel));
  }

  /**
   * Sends a text message to one connection, by its `Connection-Id` (this server's extension; Pushpin does not
   * have it).
   *
   * @example
   * await control.sendToConnection(ws.connectionId, 'only you see this');
   */
  sendToConnection(connectionId: string, text: string, options: ItemOptions = {}): Promise<void> {
    return this.#publishBuilt(() => connectionTextItem(connectionId, text, options));
  }

  /**
   * Closes one connection, by its `Connection-Id` (this server's extension).
   *
   * @example
   * await control.closeConnection(ws.connectionId, { code: 4003, reason: 'kicked' });
   */
  closeConnection(connectionId: string, options: CloseOptions = {}): Promise<void> {
    return this.#publishBuilt(() => connectionCloseItem(connectionId, options));
  }

  /**
   * Publishes several items in one request (build them with `textItem`, `closeItem`, `connectionTextItem`...).
   * The server applies them in order. Rejects with a {@link GripUsageError} (`invalid-item`) for an empty list,
   * an invalid item (the message names the field, e.g. `items[1].channel`), a message over 131,072 bytes or a
   * body over 1,000,000 bytes.
   *
   * @example
   * await control.publishItems([textItem('room:1', 'bye'), closeItem('room:1', { code: 4000 })]);
   */
  async publishItems(items: readonly PublishItem[]): Promise<void> {
    const body = JSON.stringify({ items });
    // The server's own parser, so what passes here is what the server accepts (limits included: 1,000,000
    // bytes per body, 131,072 per message).
    const parsed = parsePublishBody(body);
    if (!parsed.ok) throw new GripUsageError('invalid-item', `invalid publish: ${parsed.error.message}`);
    const error = (code: PublishErrorCode, message: string, details: ControlErrorDetails) => new PublishError(code, message, details);
    await this.#send({ method: 'POST', url: this.publishUrl, body, error });
  }

  async #publishBuilt(build: () => PublishItem): Promise<void> {
    await this.publishItems([build()]);
  }

  /**
   * Reads a channel's retained history (this server's extension; see `history.ts` for the wire format):
   * `GET <url>/channels/<channel>/messages?since=&limit=`, with the same authentication as publishes and the same
   * retries (a read is safe to repeat). Resolves with the items in publish order and whether `more` follow, or
   * with `{ ok: false, error: { kind: 'since-unknown' } }` when `since` is not (or no longer) in the history, so
   * the app knows it must reload its state. Rejects with a {@link ControlError} when the request fails.
   *
   * @example
   * const page = await control.history('room:lobby', { since: lastSeenId, limit: 100 });
   * if (page.ok) for (const item of page.value.items) show(item.id, item.content);
   * else reloadEverything();
   */
  async history(channel: string, options: HistoryOptions = {}): Promise<Result<HistoryPage, HistoryGap>> {
    const query = new URLSearchParams();
    if (options.since !== undefined) {
      if (typeof options.since !== 'string' || options.since === '')
        throw new GripUsageError('invalid-argument', 'since must be a non-empty item id');
      query.set('since', options.since);
    }
    if (options.limit !== undefined) {
      if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > MAX_HISTORY_LIMIT) {
        throw new GripUsageError(
          'invalid-argument',
          `limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}, got ${String(options.limit)}`,
        );
      }
      query.set('limit', String(options.limit));
    }
    const search = query.toString() === '' ? '' : `?${query}`;
    const url = `${this.#baseUrl}channels/${encodeURIComponent(checkChannel(channel))}/messages${search}`;
    const error = (code: ControlErrorCode, message: string, details: ControlErrorDetails) => new ControlError(code, message, details);
    const answer = await this.#send({ method: 'GET', url, body: null, answers: [410], error });
    const attempts = answer.attempts;
    if (answer.status === 410) {
      const message = sinceUnknown(answer.text);
      if (message === null)
        throw error('rejected', `history of ${channel} failed with HTTP 410: ${excerpt(answer.text)}`, {
          status: 410,
          body: answer.text,
          attempts,
        });
      return err({ kind: 'since-unknown', message });
    }
    const page = parseHistoryPage(answer.text);
    if (!page.ok) throw error('invalid-answer', page.error, { status: answer.status, body: answer.text, attempts });
    return page;
  }

  /** Sends a request, retrying as configured; resolves with the first 2xx (or listed) answer, else throws. */
  async #send(request: ControlRequest): Promise<{ status: number; text: string; attempts: number }> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(request, attempt);
      if (!('retry' in outcome)) return { ...outcome, attempts: attempt };
      const retriesLeft = this.#retries - (attempt - 1);
      const tooLong = outcome.retryAfterMs !== null && outcome.retryAfterMs > this.#maxRetryAfterMs;
      if (!outcome.retry || retriesLeft <= 0 || tooLong) throw request.error(outcome.code, outcome.message, outcome.details);
      await this.#sleep(outcome.retryAfterMs ?? fullJitterDelay(attempt - 1, this.#baseDelayMs, this.#maxDelayMs, this.#random));
    }
  }

  /** One request: the answer, or what went wrong and whether to try again. */
  async #attempt(request: ControlRequest, attempt: number): Promise<{ status: number; text: string } | Failure> {
    const what = `${request.method === 'POST' ? 'publish to' : 'GET'} ${request.url}`;
    const headers: Record<string, string> = request.body === null ? { Accept: 'application/json' } : { 'Content-Type': 'application/json' };
    const authorization = await this.#authorization();
    if (authorization !== null) headers['Authorization'] = authorization;
    let response: Response;
    try {
      response = await this.#fetch(request.url, {
        method: request.method,
        headers,
        ...(request.body !== null ? { body: request.body } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (cause) {
      const details = { status: null, body: null, attempts: attempt, cause };
      return { code: 'network', message: `${what} failed: ${describeCause(cause)}`, details, retry: true, retryAfterMs: null };
    }
    let text = '';
    try {
      text = await response.text();
    } catch {
      // The body was lost mid-read; the status alone decides what happens next.
    }
    const status = response.status;
    if (response.ok || request.answers?.includes(status)) return { status, text };
    const code: PublishErrorCode =
      status === 401 || status === 403 ? 'unauthorized' : status === 429 ? 'rate-limited' : status >= 500 ? 'server-error' : 'rejected';
    const retry = code === 'rate-limited' || code === 'server-error';
    return {
      code,
      message: `${what} failed with HTTP ${status}: ${excerpt(text)}`,
      details: { status, body: text, attempts: attempt },
      retry,
      retryAfterMs: retry ? parseRetryAfter(response.headers.get('retry-after'), this.#now()) : null,
    };
  }

  async #authorization(): Promise<string | null> {
    if (this.#key === undefined) return null;
    if (this.#iss === undefined) return typeof this.#key === 'string' ? `Bearer ${this.#key}` : null;
    const token = await signHs256({ iss: this.#iss, exp: Math.floor(this.#now() / 1000) + CONTROL_JWT_TTL_SECONDS }, this.#key);
    return `Bearer ${token}`;
  }
}

function baseUrlOf(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new GripUsageError('invalid-config', `control url ${JSON.stringify(raw)} is not a valid URL`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GripUsageError('invalid-config', `control url must be http or https, got ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new GripUsageError('invalid-config', 'control url must not contain credentials: use key (and iss) instead');
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url.toString();
}

/**
 * `Retry-After` in milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or invalid.
 *
 * @example
 * parseRetryAfter('2', Date.now()) // 2000
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP date always names a weekday and month; this keeps Date.parse from reading "-1" as a year.
  const date = /[a-z]/i.test(trimmed) ? Date.parse(trimmed) : NaN;
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

function nonNegative(name: string, value: number, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new GripUsageError('invalid-config', `${name} must be a non-negative ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  return value;
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? ` (${cause.cause.message})` : '';
    return `${cause.name}: ${cause.message}${inner}`;
  }
  return String(cause);
}

function excerpt(text: string): string {
  const oneLine = text.trim().replace(/\s+/g, ' ');
  return oneLine.length > 200 ? `${oneLine.slice(0, 197)}...` : oneLine || '(empty body)';
}
