/**
 * `GET /channels/{channel}/messages?since=<id>&limit=<n>`: a channel's retained history (this server's
 * extension; the wire format is documented with the client, `src/client/history.ts`).
 */
import { validateChannel } from '../channel.js';
import { MAX_HISTORY_ID_BYTES, type HistoryEntry } from '../history.js';
import type { ChannelHistory, Log } from '../ports.js';
import { utf8ByteLength } from '../protocol/values.js';

/** Largest `limit` of one request, and the default. */
export const MAX_HISTORY_READ = 1000;
export const DEFAULT_HISTORY_READ = 100;

export interface HistoryAnswer {
  readonly status: number;
  /** The JSON body (every answer of this route is JSON). */
  readonly body: unknown;
}

/**
 * Reads one page of history: with `since`, the first `limit` items published after it (`410 since-unknown` when
 * it is not retained); without, the last `limit`. `more` says whether items after the page exist. A store
 * failure is a 503 (the read is safe to repeat).
 *
 * @example
 * await readHistory({ history, log }, 'room', new URLSearchParams('since=m-41&limit=2'), Date.now())
 * // { status: 200, body: { items: [{ id: 'm-42', published: '…', content: 'hi' }], more: false } }
 */
export async function readHistory(
  deps: { readonly history: ChannelHistory; readonly log: Log },
  channel: string,
  query: URLSearchParams,
  now: number,
): Promise<HistoryAnswer> {
  if (!validateChannel(channel).ok) return bad('the channel in the path is not a valid channel name');
  const rawLimit = query.get('limit');
  const limit = rawLimit === null ? DEFAULT_HISTORY_READ : /^[0-9]{1,4}$/.test(rawLimit) ? Number(rawLimit) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_READ)
    return bad(`limit must be an integer from 1 to ${MAX_HISTORY_READ}`);
  const since = query.get('since');
  if (since !== null && (since === '' || utf8ByteLength(since) > MAX_HISTORY_ID_BYTES))
    return bad(`since must be an item id of 1 to ${MAX_HISTORY_ID_BYTES} bytes`);

  const { history, log } = deps;
  if (since === null) {
    const latest = await history.readLatest(channel, limit, now);
    if (!latest.ok) return unavailable(log, latest.error.message);
    return page(latest.value, false);
  }
  const at = await history.findSequence(channel, since, now);
  if (!at.ok) return unavailable(log, at.error.message);
  if (at.value === null) {
    return {
      status: 410,
      body: { error: 'since-unknown', message: `${JSON.stringify(since)} is not in the retained history of ${JSON.stringify(channel)}` },
    };
  }
  const after = await history.readAfter(channel, at.value, null, limit + 1, now);
  if (!after.ok) return unavailable(log, after.error.message);
  return page(after.value.slice(0, limit), after.value.length > limit);
}

function page(items: readonly HistoryEntry[], more: boolean): HistoryAnswer {
  return {
    status: 200,
    body: {
      items: items.map((item) => ({
        id: item.id,
        published: new Date(item.publishedAt).toISOString(),
        ...(item.message.kind === 'text' ? { content: item.message.text } : { 'content-bin': item.message.base64 }),
      })),
      more,
    },
  };
}

function bad(message: string): HistoryAnswer {
  return { status: 400, body: { error: 'bad-request', message } };
}

function unavailable(log: Log, detail: string): HistoryAnswer {
  log.error('could not read a channel history', { detail });
  return { status: 503, body: { error: 'unavailable', message: 'the history could not be read; retry' } };
}
