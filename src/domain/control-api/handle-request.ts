import { authorizeControl, type SharedKey } from '../auth.js';
import { channelPublishEntry, connectionDeliveryEntry } from '../fanout/jobs.js';
import type { Payload } from '../message.js';
import type { ChannelHistory, Clock, FanoutQueue, Log, Metrics, QueueEntry } from '../ports.js';
import { readHistory } from './history.js';
import { decodeUtf8Strict, isRecord, parseJson } from '../protocol/values.js';
import { parsePublishBody, type ParsedPublishItem } from '../publish/parse.js';
import { err, ok, type Result } from '../result.js';

export interface ControlApiDeps {
  readonly queue: FanoutQueue;
  /** The channel history, for `GET /channels/{channel}/messages`. */
  readonly history: ChannelHistory;
  readonly clock: Clock;
  readonly log: Log;
  readonly metrics: Metrics;
  /** A unique id for publishes that carry no GRIP `id`. */
  readonly newId: () => string;
  readonly config: {
    readonly key: SharedKey;
    readonly iss?: string;
    /** The `iss` of this server's Grip-Sig tokens: refused here. */
    readonly gripSigIssuer?: string;
    readonly maxTokenLifetimeSeconds?: number;
  };
}

export interface ControlApiRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** The query string, without `?` (empty when there is none). */
  readonly query: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export interface ControlApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const text = (status: number, body: string, headers: Record<string, string> = {}): ControlApiResponse => ({
  status,
  headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
  body: `${body}\n`,
});

const CONNECTION_PATH = /^\/connections\/([^/]+)\/(messages|close)\/?$/;
const HISTORY_PATH = /^\/channels\/([^/]+)\/messages\/?$/;

/**
 * The control API, Pushpin-compatible: `POST /publish/` (or `/publish`) takes a GRIP publish body, queues one
 * fan-out job per item and answers `200 Published` — which, as with Pushpin, means "accepted for delivery", not
 * "delivered". Extensions: items may target one connection (`"connection": "<id>"` instead of `"channel"`), and
 * `POST /connections/{id}/messages` (a `ws-message` format object as the body) and `POST /connections/{id}/close`
 * (`{"code"?, "reason"?}`) do the same for a single connection.
 *
 * Every route but `GET /` needs `Authorization: Bearer <HS256 JWT>` (js-grip's Publisher with `control_iss` and
 * `key`) or `Bearer <key>`: otherwise 401, and nothing is queued. A bad body is a 400 naming the item and field,
 * and nothing is queued. A queue failure is a 503: some items may have been queued, so the publisher may retry
 * (delivery is at-least-once).
 */
export async function handleControlApiRequest(deps: ControlApiDeps, request: ControlApiRequest): Promise<ControlApiResponse> {
  const path = request.path.length > 1 ? request.path.replace(/\/+$/, '') : request.path;
  if (path === '' || path === '/') {
    if (request.method === 'GET' || request.method === 'HEAD') return text(200, 'GRIP channel server control API');
    return text(405, 'Method Not Allowed', { allow: 'GET' });
  }
  const connectionRoute = CONNECTION_PATH.exec(request.path);
  const historyRoute = HISTORY_PATH.exec(request.path);
  if (path !== '/publish' && !connectionRoute && !historyRoute) return text(404, 'Not Found');
  if (historyRoute && request.method !== 'GET') return text(405, 'Method Not Allowed', { allow: 'GET' });
  if (!historyRoute && request.method !== 'POST') return text(405, 'Method Not Allowed', { allow: 'POST' });

  const json = historyRoute ? true : wantsJson(request.headers['accept']);
  if (json === null) return text(406, 'Not Acceptable: answers are text/plain or application/json');

  const auth = await authorizeControl(request.headers['authorization'], {
    key: deps.config.key,
    ...(deps.config.iss !== undefined ? { iss: deps.config.iss } : {}),
    ...(deps.config.gripSigIssuer !== undefined ? { refuseIss: deps.config.gripSigIssuer } : {}),
    ...(deps.config.maxTokenLifetimeSeconds !== undefined ? { maxLifetimeSeconds: deps.config.maxTokenLifetimeSeconds } : {}),
    nowSeconds: Math.floor(deps.clock() / 1000),
  });
  if (!auth.ok) {
    deps.log.warn('control request refused', { reason: auth.reason, path: request.path });
    return text(401, `Unauthorized: ${auth.reason}`, { 'www-authenticate': 'Bearer' });
  }

  if (historyRoute) {
    const channel = decodePathSegment(historyRoute[1] ?? '');
    if (channel === null) return text(400, 'Bad Request: the channel in the path is not valid percent-encoding');
    const answer = await readHistory(deps, channel, new URLSearchParams(request.query), deps.clock());
    return { status: answer.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(answer.body) };
  }

  let body: Uint8Array | string = request.body;
  if (connectionRoute) {
    const connectionId = decodePathSegment(connectionRoute[1] ?? '');
    if (connectionId === null) return text(400, 'Bad Request: the connection id in the path is not valid percent-encoding');
    const built = connectionBody(connectionId, connectionRoute[2] ?? '', request.body);
    if (!built.ok) return text(400, `Bad Request: ${built.error}`);
    body = built.value;
  }
  const parsed = parsePublishBody(body);
  if (!parsed.ok) {
    deps.log.info('control request rejected', { reason: parsed.error.message });
    return text(400, `Bad Request: ${parsed.error.message}`);
  }
  const now = deps.clock();
  const entries: QueueEntry[] = [];
  for (const item of parsed.value) {
    if (item.payload === null) {
      deps.log.info('publish item has nothing to deliver over WebSocket; ignored', { reason: item.ignored ?? 'no payload', id: item.id });
      continue;
    }
    entries.push(toQueueEntry(item, item.payload, item.id ?? deps.newId(), now));
  }
  if (entries.length > 0) {
    const queued = await deps.queue.enqueue(entries);
    if (!queued.ok) {
      deps.log.error('could not queue a publish', { error: queued.error.kind, detail: queued.error.message, items: entries.length });
      return text(503, 'Service Unavailable: the publish could not be queued; retry', { 'retry-after': '1' });
    }
  }
  deps.metrics.count('Published', entries.length);
  if (json) return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"message":"Published"}' };
  return text(200, 'Published');
}

function toQueueEntry(item: ParsedPublishItem, payload: Payload, publishId: string, now: number): QueueEntry {
  const origin = { publishId, publishedAt: now };
  return item.target.kind === 'channel'
    ? channelPublishEntry(item.target.channel, payload, origin, { meta: item.meta, contentFilters: item.contentFilters }, item.id, {
        prevId: item.prevId,
        noSeq: item.noSeq,
      })
    : connectionDeliveryEntry(item.target.connectionId, [payload], origin);
}

/** `decodeURIComponent` throws on malformed escapes such as `%E0%A4%A`; that is the client's error, not ours. */
function decodePathSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** The REST-style extension routes become a one-item publish body, so one parser validates everything. */
function connectionBody(connectionId: string, action: string, body: Uint8Array): Result<string, string> {
  let format: unknown = {};
  if (body.length > 0) {
    // Strict, as for /publish: a message with its bad bytes replaced would be delivered as something else.
    const text = decodeUtf8Strict(body);
    if (text === null) return err('body is not valid UTF-8');
    const parsed = parseJson(text);
    if (!parsed.ok) return err('body is not JSON');
    format = parsed.value;
  }
  if (!isRecord(format)) return err('body must be a JSON object');
  const wsMessage = action === 'close' ? { ...format, action: 'close' } : format;
  return ok(JSON.stringify({ items: [{ connection: connectionId, formats: { 'ws-message': wsMessage } }] }));
}

/** true: answer JSON; false: text; null: the client accepts neither (406). Pushpin negotiates the same way. */
function wantsJson(accept: string | undefined): boolean | null {
  if (accept === undefined || accept.trim() === '') return false;
  const types = accept.split(',').map((part) => (part.split(';')[0] ?? '').trim().toLowerCase());
  if (types.some((t) => t === 'text/plain' || t === 'text/*' || t === '*/*')) return false;
  if (types.some((t) => t === 'application/json' || t === 'application/*')) return true;
  return null;
}
