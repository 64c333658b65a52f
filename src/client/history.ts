/**
 * The channel history answer of the control API (this server's extension, issue 14):
 *
 * `GET <control url>/channels/<channel, percent-encoded>/messages?since=<id>&limit=<n>`, with the same
 * `Authorization` as `POST /publish/`. Answers:
 * - `200`, `Content-Type: application/json`:
 *   `{"items":[{"id":"m1","published":"2026-05-01T12:00:00.000Z","content":"hello"},
 *   {"id":"m2","published":"2026-05-01T12:00:01.500Z","content-bin":"AQID"}],"more":false}`
 *   `items` are the channel's retained messages in publish order: with `since`, the first `limit` published
 *   after that id; without it, the last `limit` published. Each has the item's `id`, its publish time
 *   (`published`, RFC 3339 UTC with milliseconds) and its content, `content` (text) or `content-bin` (base64).
 *   `more` is true when later items exist than the last one returned (ask again with its id as `since`).
 * - `410`, `{"error":"since-unknown","message":"…"}`: `since` is not in the channel's retained history (never
 *   published, expired, or trimmed); the app must reload its state another way.
 * - `400` for an invalid channel, `since` or `limit` (an integer from 1 to 1,000; default 100), `401` without a
 *   valid `Authorization`.
 * Only items published with an `id` and a `ws-message` send (text or binary) are kept.
 */
import { decodeBase64 } from '../domain/protocol/base64.js';
import { isRecord, parseJson } from '../domain/protocol/values.js';
import { err, ok, type Result } from '../domain/result.js';

/** Largest `limit` of one history request. */
export const MAX_HISTORY_LIMIT = 1000;

/** One retained message of a channel. */
export type HistoryItem =
  | { readonly id: string; readonly published: Date; readonly type: 'text'; readonly content: string }
  | { readonly id: string; readonly published: Date; readonly type: 'binary'; readonly content: Uint8Array };

/** A page of a channel's history, in publish order. */
export interface HistoryPage {
  readonly items: readonly HistoryItem[];
  /** More items were published after the last one here: ask again with `since` = its id. */
  readonly more: boolean;
}

/** `since` is not (or no longer) in the channel's retained history. */
export interface HistoryGap {
  readonly kind: 'since-unknown';
  readonly message: string;
}

export interface HistoryOptions {
  /** Only items published after this id. Absent: the last `limit` items. */
  readonly since?: string | undefined;
  /** At most this many items, from 1 to 1,000 (default: the server's, 100). */
  readonly limit?: number | undefined;
}

/**
 * Reads a 200 answer's JSON into a page, or says what is wrong with it (the server broke its contract).
 *
 * @example
 * parseHistoryPage('{"items":[{"id":"m1","published":"2026-05-01T12:00:00.000Z","content":"hi"}],"more":false}')
 * // { ok: true, value: { items: [{ id: 'm1', published: Date, type: 'text', content: 'hi' }], more: false } }
 */
export function parseHistoryPage(body: string): Result<HistoryPage, string> {
  const json = parseJson(body);
  if (!json.ok || !isRecord(json.value)) return err('history answer is not a JSON object');
  const { items, more } = json.value;
  if (!Array.isArray(items)) return err('history answer has no "items" array');
  if (more !== undefined && typeof more !== 'boolean') return err('history answer "more" is not a boolean');
  const out: HistoryItem[] = [];
  for (const [index, raw] of items.entries()) {
    const item = parseItem(raw);
    if (!item.ok) return err(`history answer items[${index}]: ${item.error}`);
    out.push(item.value);
  }
  return ok({ items: out, more: more ?? false });
}

/**
 * The `message` of a 410 answer, if its body is the documented `{"error":"since-unknown"}`; null otherwise.
 *
 * @example
 * sinceUnknown('{"error":"since-unknown","message":"m1 is not in the history of room"}') // 'm1 is not in …'
 */
export function sinceUnknown(body: string): string | null {
  const json = parseJson(body);
  if (!json.ok || !isRecord(json.value) || json.value['error'] !== 'since-unknown') return null;
  const message = json.value['message'];
  return typeof message === 'string' ? message : 'since is not in the channel history';
}

function parseItem(raw: unknown): Result<HistoryItem, string> {
  if (!isRecord(raw)) return err('not an object');
  const { id, published, content } = raw;
  const bin = raw['content-bin'];
  if (typeof id !== 'string' || id === '') return err('"id" is not a non-empty string');
  const date = typeof published === 'string' ? new Date(published) : null;
  if (date === null || Number.isNaN(date.getTime())) return err('"published" is not an RFC 3339 time');
  if (typeof bin === 'string') {
    const data = decodeBase64(bin);
    if (data === null) return err('"content-bin" is not base64');
    return ok({ id, published: date, type: 'binary', content: data });
  }
  if (typeof content === 'string') return ok({ id, published: date, type: 'text', content });
  return err('no "content" or "content-bin"');
}
