/**
 * The ports: narrow interfaces through which domain logic reaches the outside world. Implementations live in
 * `src/adapters` (DynamoDB, SQS, the API Gateway Management API, HTTP) and `src/local`; unit tests use
 * hand-written in-memory fakes. Every method reports expected failures as values whose `kind` says whether a
 * retry is safe; only bugs throw.
 */
import type { BackendPoll, ConnectionRecord, KeepAlive } from './connection.js';
import type { FanoutJob } from './fanout/jobs.js';
import type { HistoryEntry } from './history.js';
import type { LaneMessage } from './session/lane.js';
import type { SubscriberFilters } from './filters.js';
import type { Result } from './result.js';

// ---------------------------------------------------------------------------------------------------------------
// Storage

/**
 * Why a storage call failed. `throttled` and `unavailable` are safe to retry; `conflict` means a condition did
 * not hold (e.g. the connection item is gone); `invalid` is a bug in the request and must not be retried.
 */
export interface StoreError {
  readonly kind: 'throttled' | 'unavailable' | 'conflict' | 'invalid';
  readonly message: string;
  readonly cause?: unknown;
}

/** Changes to a stored connection record. `meta` values of `null` delete that key. */
export interface ConnectionChanges {
  readonly meta?: Readonly<Record<string, string | null>>;
  /** The connection's whole filter meta (`set-meta`), replacing what was stored. */
  readonly filterMeta?: Readonly<Record<string, string>>;
  readonly subprotocol?: string | null;
  /** null turns heartbeats off. */
  readonly keepAlive?: KeepAlive | null;
  readonly lastActivityAt?: number;
  /** `detach`: once set, never unset. */
  readonly detached?: true;
  /** null turns backend polling off. */
  readonly backendPoll?: BackendPoll | null;
  readonly lastExchangeAt?: number;
}

/**
 * Publish item ids seen per channel: Pushpin's id cache, which drops an item whose (channel, `id`) it saw within
 * `id_cache_ttl`. Shared by every worker, so it holds across workers and redeliveries.
 *
 * Contract: one atomic write. `first` when no unexpired entry of another `claim` exists for (channel, id) — and
 * the entry is then `claim`'s until `expiresAt`; a second call with the same `claim` (a redelivered job) is
 * `first` again; `seen` when another claim holds it.
 *
 * @example
 * const r = await cache.rememberItemId('room', 'msg-42', queueMessageId, now, now + 60_000);
 * if (r.ok && r.value === 'seen') return; // a duplicate publish: drop it
 */
export interface ItemIdCache {
  rememberItemId(channel: string, id: string, claim: string, now: number, expiresAt: number): Promise<Result<'first' | 'seen', StoreError>>;
}

/**
 * When each channel last had something published: what idle-mode heartbeats compare with, because Pushpin's idle
 * timer restarts on every frame sent to the client, and a subscriber of a busy channel is never idle. One write per
 * publish (not per subscriber).
 *
 * Contract: `markPublished` keeps the latest `at` (an older mark never overwrites a newer one); `lastPublished`
 * returns the marks it has (channels never published to are absent), strongly consistent.
 *
 * @example
 * const marks = await activity.lastPublished(['room', 'news']);
 * const last = Math.max(0, ...(marks.ok ? marks.value.values() : []));
 */
export interface ChannelActivity {
  markPublished(channel: string, at: number): Promise<Result<void, StoreError>>;
  lastPublished(channels: readonly string[]): Promise<Result<ReadonlyMap<string, number>, StoreError>>;
}

/**
 * Pushpin's sequencer state per channel (`prev-id`): the id of the last item delivered, and the items held until
 * their predecessor is delivered. Only the channel's fresh publish jobs (one at a time, in its FIFO group) change
 * the last id; holding and taking held items are atomic, so a timed-out release and a chained one cannot both win.
 *
 * Contract: `hold` keeps one item per (channel, prevId) and at most `max` per channel: `duplicate` or `full` when it
 * cannot (nothing written). `takeHeld` removes and returns the held item (with `heldAt`, if given, only that one), or
 * `null` when there is none (already released).
 *
 * @example
 * const state = await sequencer.sequencerState('room');
 * if (state.ok && state.value.lastId !== null && state.value.lastId !== job.prevId) await sequencer.hold('room', job.prevId, body, now, 100);
 */
export interface ChannelSequencer {
  sequencerState(channel: string): Promise<Result<{ readonly lastId: string | null; readonly held: number }, StoreError>>;
  setLastId(channel: string, lastId: string | null): Promise<Result<void, StoreError>>;
  hold(
    channel: string,
    prevId: string,
    job: string,
    heldAt: number,
    max: number,
  ): Promise<Result<'held' | 'duplicate' | 'full', StoreError>>;
  takeHeld(
    channel: string,
    prevId: string,
    heldAt?: number,
  ): Promise<Result<{ readonly job: string; readonly heldAt: number } | null, StoreError>>;
}

/**
 * Many connection records in few calls (local mode's stop reads thousands at once).
 *
 * Contract: strongly consistent; unknown ids are simply absent from the map; order is not kept.
 *
 * @example
 * const found = await lookup.getConnections(['abc=', 'def=']);
 * if (found.ok) for (const record of found.value.values()) tell(record);
 */
export interface ConnectionLookup {
  getConnections(connectionIds: readonly string[]): Promise<Result<ReadonlyMap<string, ConnectionRecord>, StoreError>>;
}

/**
 * The connection records (one per connection).
 *
 * Contract: `put` overwrites; `get` is strongly consistent and returns `null` for an unknown id; `delete` removes
 * the record **and every subscription item** of the connection and is idempotent (deleting twice is not an error).
 *
 * @example
 * const found = await store.getConnection('abc=');
 * if (found.ok && found.value) replay(found.value.handshake);
 */
export interface ConnectionStore {
  putConnection(record: ConnectionRecord): Promise<Result<void, StoreError>>;
  getConnection(connectionId: string): Promise<Result<ConnectionRecord | null, StoreError>>;
  /** Applies meta/subprotocol changes. Fails with `conflict` if the connection item no longer exists. */
  updateConnection(connectionId: string, changes: ConnectionChanges): Promise<Result<ConnectionRecord, StoreError>>;
  /**
   * Moves the connection's keep-alive chain from `generation` to `generation + 1`, if it is at `generation` (for
   * generation 0: if no generation of the chain `since` was claimed yet). One conditional write: of two jobs
   * claiming the same generation (a duplicate queue delivery) exactly one gets `true`. `false` also when the
   * connection is gone. `release` undoes a claim whose follow-up could not be queued, so a retry can claim again.
   *
   * @example
   * if (!(await store.claimKeepAlive(id, { since, generation: 3 })).value) return; // a duplicate: end quietly
   */
  claimKeepAlive(connectionId: string, claim: KeepAliveClaim): Promise<Result<boolean, StoreError>>;
  releaseKeepAlive(connectionId: string, claim: KeepAliveClaim): Promise<Result<void, StoreError>>;
  /**
   * Deletes the connections' records and all their subscriptions, batched. Idempotent.
   *
   * `ifConnectedAt` makes it conditional per connection: an id listed there is deleted only if its record still
   * has that `connectedAt` (or has no record left), so a 410 seen for one connection never deletes another's
   * items. The check and the record's delete are one conditional write.
   */
  deleteConnections(
    connectionIds: readonly string[],
    options?: { readonly ifConnectedAt?: ReadonlyMap<string, number> },
  ): Promise<Result<void, StoreError>>;
}

/**
 * One generation of a connection's chain of scheduled jobs (named by its setting's `since`): its heartbeats
 * (`keep-alive`, the default) or its backend polls (`Keep-Alive-Interval`). Each chain has its own claim.
 */
export interface KeepAliveClaim {
  readonly since: number;
  readonly generation: number;
  readonly chain?: 'heartbeat' | 'poll';
}

/**
 * A connection's channel subscriptions.
 *
 * Contract: `subscribe` is idempotent per (connection, channel) and refreshes the expiry; `unsubscribe` of a
 * channel the connection is not in is a no-op. Neither checks a cap: the caller plans with `listSubscriptions`
 * and takes the slots with `reserveSubscriptionSlots`, which holds under concurrency.
 */
export interface SubscriptionStore {
  listSubscriptions(connectionId: string): Promise<Result<string[], StoreError>>;
  /** The connection's subscriptions with their filter names (one consistent read), in channel order. */
  listSubscriptionFilters(connectionId: string): Promise<Result<SubscriptionFilterNames[], StoreError>>;
  /**
   * Subscribes `owner` to each channel; what the index needs about the owner is written with each subscription.
   * A channel with an entry in `filters` carries it (a subscription written again without one loses its filters).
   * A channel with an entry in `resumes` is written catching up, with that resume token: live fan-out skips it
   * until its catch-up job calls `finishResume`.
   */
  subscribe(
    owner: SubscriptionOwner,
    channels: readonly string[],
    filters?: ReadonlyMap<string, SubscriberFilters>,
    resumes?: ReadonlyMap<string, string>,
  ): Promise<Result<void, StoreError>>;
  /**
   * Ends a resume (see `Subscriber.resume`): the subscription becomes live for items after `liveAfter`, in the same
   * write that removes its resume token. Conditional on the token still being `token`: `false` (nothing written)
   * when the subscription is gone or a newer subscribe replaced it.
   *
   * @example
   * await store.finishResume('abc=', 'room', job.token, record.sequence); // later items of room reach abc=
   */
  finishResume(connectionId: string, channel: string, token: string, liveAfter: string): Promise<Result<boolean, StoreError>>;
  /**
   * Rewrites the filter state carried by existing subscriptions (after `set-meta`, or when the channels that
   * `require-sub` needs changed), one conditional write each with bounded concurrency. A channel the connection
   * is no longer subscribed to is skipped, never recreated.
   */
  updateSubscriptionFilters(connectionId: string, filters: ReadonlyMap<string, SubscriberFilters>): Promise<Result<void, StoreError>>;
  unsubscribe(connectionId: string, channels: readonly string[]): Promise<Result<void, StoreError>>;
  /**
   * Takes `count` of the connection's `cap` subscription slots with one conditional write on its record's
   * counter: `true` when they fit, `false` (nothing taken) when they would pass the cap or the connection is
   * gone. Of concurrent callers, only those that fit succeed, which is what keeps the cap under concurrency.
   *
   * @example
   * if (!(await store.reserveSubscriptionSlots(id, plan.subscribe.length, 20)).value) log.warn('cap reached');
   */
  reserveSubscriptionSlots(connectionId: string, count: number, cap: number): Promise<Result<boolean, StoreError>>;
  /** Gives `count` slots back (after an unsubscribe), never below zero. */
  releaseSubscriptionSlots(connectionId: string, count: number): Promise<Result<void, StoreError>>;
}

/** One subscription and the filter names it was made with (empty: none). */
export interface SubscriptionFilterNames {
  readonly channel: string;
  readonly filters: readonly string[];
}

/** The connection a subscription belongs to, as its subscription items carry it (see `Subscriber`). */
export interface SubscriptionOwner {
  readonly connectionId: string;
  /** Epoch ms when the connection was accepted. */
  readonly connectedAt: number;
  /** Epoch seconds (DynamoDB TTL) after which the subscription is garbage: the connection's own expiry. */
  readonly expiresAt: number;
}

/**
 * One subscriber of a channel, as a page of the channel index carries it. Everything fan-out decides per
 * subscriber (the 410 grace rule, filters, resume state) must come from here, never from a read per subscriber:
 * a feature that needs more adds it to the subscription item and the index projection
 * (`adapters/connection-items.ts`, `config/resources.ts`) and here.
 */
export interface Subscriber {
  readonly connectionId: string;
  /** Epoch ms when the connection was accepted; absent on entries written before the index carried it. */
  readonly connectedAt?: number;
  /** The subscription's publish filters with what they need; absent when it has none. */
  readonly filters?: SubscriberFilters;
  /** Set while the subscription catches up on history (`since`): live fan-out skips it. The resume's token. */
  readonly resume?: string;
  /**
   * After a resume: the sequence of its catch-up job. Only items published after it (a larger sequence) are
   * delivered live; earlier ones were the catch-up's to replay.
   */
  readonly liveAfter?: string;
}

/** A half-open range of index buckets, `[from, to)`, with 0 ≤ from < to ≤ 65,536 (see `channel.ts`). */
export interface BucketRange {
  readonly from: number;
  readonly to: number;
}

export interface SubscriberPage {
  readonly subscribers: Subscriber[];
  /** Opaque; pass it back to read the next page. `null` when the range is exhausted. */
  readonly cursor: string | null;
  /**
   * The bucket of the last index entry the page read (from LastEvaluatedKey, which may be an expired entry that
   * was filtered out), so a job can split what remains *after* it. `null` exactly when `cursor` is null.
   */
  readonly lastBucket: number | null;
}

/**
 * The sparse channel index. Pages are in index order within the range; the index is eventually consistent, so a
 * subscription made a few milliseconds before a read may be missed. Expired (TTL) items are filtered out.
 */
export interface SubscriberIndex {
  pageSubscribers(channel: string, range: BucketRange, cursor: string | null, limit: number): Promise<Result<SubscriberPage, StoreError>>;
  /**
   * One connection's entry in the channel index, as a page would read it now (eventually consistent, like pages):
   * `null` when the index has none. A catch-up job waits on it so that the channel's next jobs see its write.
   */
  readSubscriber(channel: string, connectionId: string): Promise<Result<Subscriber | null, StoreError>>;
}

/**
 * A channel's retained items (history), in publish order: what resume (`since`) replays and the control API's
 * `GET /channels/{channel}/messages` reads.
 *
 * Contract: `record` is idempotent per (channel, sequence), so a redelivered job writes the same item again.
 * Reads never return an item whose `expiresAt` has passed (`now`, epoch ms), even before storage has removed it.
 * `findSequence` is the sequence of the latest unexpired item published with `id`, or `null`. `readAfter` returns
 * items with `after < sequence < before` (either bound may be null), oldest first, at most `limit`;
 * `readLatest` the newest `limit` items, oldest first.
 *
 * @example
 * const at = await history.findSequence('room', 'm-41', now);
 * if (at.ok && at.value !== null) replay(await history.readAfter('room', at.value, catchUpSequence, 1001, now));
 */
export interface ChannelHistory {
  record(entry: HistoryEntry): Promise<Result<void, StoreError>>;
  findSequence(channel: string, id: string, now: number): Promise<Result<string | null, StoreError>>;
  readAfter(
    channel: string,
    after: string | null,
    before: string | null,
    limit: number,
    now: number,
  ): Promise<Result<HistoryEntry[], StoreError>>;
  readLatest(channel: string, limit: number, now: number): Promise<Result<HistoryEntry[], StoreError>>;
}

// ---------------------------------------------------------------------------------------------------------------
// Queue

export interface QueueError {
  readonly kind: 'throttled' | 'unavailable' | 'invalid';
  readonly message: string;
  readonly cause?: unknown;
}

/**
 * Where fan-out work goes. Jobs with the same `orderKey` are processed in the order they were enqueued (one
 * ordered group each); jobs with a `delaySeconds` go to the delayed lane, which has no ordering.
 *
 * Contract: all-or-error. On success every job is durably queued; on failure some may have been queued, so the
 * caller may retry the whole call (consumers tolerate duplicates: delivery is at-least-once).
 *
 * @example
 * await queue.enqueue([{ job, orderKey: 'ch:room' }]);
 */
export interface FanoutQueue {
  enqueue(entries: readonly QueueEntry[]): Promise<Result<void, QueueError>>;
}

/** SQS cannot delay a message longer than 15 minutes: the most a `QueueEntry.delaySeconds` may ask for. */
export const MAX_QUEUE_DELAY_SECONDS = 900;

export interface QueueEntry {
  readonly job: FanoutJob;
  /** Ordering group (e.g. `ch:<channel>`, `conn:<id>`). Ignored when `delaySeconds` is set. */
  readonly orderKey?: string;
  /** 1 to `MAX_QUEUE_DELAY_SECONDS`: delivered no earlier than this, through the unordered delayed lane. */
  readonly delaySeconds?: number;
  /**
   * Makes enqueueing idempotent on the ordered lane: a second entry with the same id within the queue's
   * deduplication window (5 minutes on SQS FIFO) is dropped. Workers derive it from the job they are processing,
   * so a retried job does not queue its splits twice. Random when absent.
   */
  readonly dedupId?: string;
}

/**
 * The last stop for work that cannot be done: jobs whose deliveries failed every attempt, and queue messages
 * that are not jobs at all. Each entry carries a human-readable reason (it becomes a message attribute) so an
 * operator can see why before redriving.
 */
/**
 * The ordered lane of client messages (`clientMessages: ordered`): a FIFO queue whose message group is the
 * connection, consumed one connection at a time in arrival order.
 *
 * Contract: `enqueue` sends one message; the same `dedupId` within SQS's 5-minute deduplication window is stored
 * once (a retried invocation does not forward a message twice).
 *
 * @example
 * const queued = await lane.enqueue({ v: 1, connectionId, text, receivedAt: Date.now() }, event.requestContext.messageId);
 */
export interface ClientMessageLane {
  enqueue(message: LaneMessage, dedupId: string): Promise<Result<void, QueueError>>;
}

export interface DeadLetters {
  deadLetter(entries: readonly { readonly body: string; readonly reason: string }[]): Promise<Result<void, QueueError>>;
}

/** How far a channel job got: what a redelivery of it must not do again. */
export interface JobProgress {
  /** Pages up to this cursor are delivered; `null`: none yet. */
  readonly cursor: string | null;
  /** The rest of the range was split off to other jobs: this job only has its first page to deliver. */
  readonly split: boolean;
  /** The rest was handed over to a continuation job: this job is done. */
  readonly handedOver: boolean;
}

/**
 * Progress markers for long channel jobs, so a job redelivered after a crash resumes after the last page it
 * finished instead of starting over (duplicates stay bounded to the page in flight), and never splits or hands
 * over twice: a failed job comes back after the visibility timeout, past SQS FIFO's 5-minute deduplication
 * window, so the queue would not drop the second split. Keyed by the queue message id, which SQS keeps across
 * redeliveries. Entries expire on their own (TTL); `clear` is best effort.
 */
export interface JobCheckpoints {
  load(jobId: string): Promise<Result<JobProgress | null, StoreError>>;
  save(jobId: string, progress: JobProgress, expiresAt: number): Promise<Result<void, StoreError>>;
  clear(jobId: string): Promise<Result<void, StoreError>>;
}

// ---------------------------------------------------------------------------------------------------------------
// Sending to connections (API Gateway Management API, or the local gateway in-process)

/**
 * The outcome of one call to a connection. `gone` (410) means the client is no longer there: delete its items,
 * it is not a failure. `throttled` (429) and `failed` with `retryable` may be retried with backoff. `too-large`
 * (413) and `rejected` (400) never succeed on retry, and concern only that connection.
 */
export type SendOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'gone' }
  | { readonly kind: 'throttled'; readonly message: string }
  | { readonly kind: 'too-large'; readonly message: string }
  /** 400: this call is invalid for this connection (a malformed connection id); never succeeds on retry. */
  | { readonly kind: 'rejected'; readonly message: string }
  | { readonly kind: 'failed'; readonly retryable: boolean; readonly message: string; readonly cause?: unknown };

export interface CloseRequest {
  /** WebSocket close code to send, when the gateway can send one (API Gateway cannot; the local gateway can). */
  readonly code?: number;
  readonly reason?: string;
}

/**
 * Talks to live client connections.
 *
 * Contract: `post` sends one complete message (text or binary frame); the message must be ≤ 128 KB. `close`
 * disconnects the client; a connection that is already gone gives `gone`. Calls to one connection are not
 * reordered by the sender itself, but concurrent calls may be.
 */
export interface ConnectionSender {
  post(connectionId: string, data: string | Uint8Array): Promise<SendOutcome>;
  close(connectionId: string, request?: CloseRequest): Promise<SendOutcome>;
}

// ---------------------------------------------------------------------------------------------------------------
// Backend (TARGET_URL)

export interface BackendRequest {
  readonly url: string;
  /** Header name → value. Names as they should appear on the wire. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  /** This exchange must finish sooner than the client's own timeout: within this many ms. */
  readonly timeoutMs?: number;
}

export interface BackendResponse {
  readonly status: number;
  /** Lower-case header name → value (repeated headers joined with `, `). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * Why the backend could not be asked. `connect`: nothing was sent (safe to retry). `timeout`: no answer in time
 * (the request may have been processed). `too-large`: the reply body exceeded the limit. `protocol`: not HTTP.
 */
export interface BackendError {
  readonly kind: 'connect' | 'timeout' | 'too-large' | 'protocol';
  readonly message: string;
  readonly cause?: unknown;
}

/**
 * Sends one WebSocket-over-HTTP request to the backend. Any HTTP status is a successful call (the caller
 * decides what a 403 means); only transport failures are errors. Never retries by itself.
 */
export interface BackendClient {
  send(request: BackendRequest): Promise<Result<BackendResponse, BackendError>>;
}

/** Mints the `Grip-Sig` header value: an HS256 JWT `{iss, exp}` signed with the shared key. */
export interface GripSigner {
  sign(): Promise<string>;
}

// ---------------------------------------------------------------------------------------------------------------
// Cross-cutting

/** Milliseconds since the epoch. Injected so tests control time. */
export type Clock = () => number;

/**
 * Structured logging as the domain needs it. Attributes are merged into the JSON log line; never put secrets in
 * them. Powertools' `Logger` satisfies this interface.
 */
export interface Log {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/** A received queue message to be handed out again after `afterSeconds`: its queue and its receipt. */
export interface Redelivery {
  readonly queueArn: string;
  readonly receiptHandle: string;
  readonly afterSeconds: number;
}

/**
 * Shortens the wait before failed or skipped queue messages come back (SQS `ChangeMessageVisibility` on their
 * receipt handles), instead of the queue's whole visibility timeout.
 *
 * Contract: best effort. A failure is returned and changes nothing: the messages still come back, after the
 * visibility timeout. A receipt from an unknown queue is `invalid`.
 *
 * @example
 * await scheduler.redeliverAfter([{ queueArn: record.eventSourceARN, receiptHandle: record.receiptHandle, afterSeconds: 4 }]);
 */
export interface RedeliveryScheduler {
  redeliverAfter(items: readonly Redelivery[]): Promise<Result<void, QueueError>>;
}

/** Counters and timings as the domain emits them (EMF metrics on AWS). Names are stable: dashboards use them. */
export interface Metrics {
  count(name: MetricName, value?: number): void;
  timing(name: TimingName, milliseconds: number): void;
}

export type MetricName =
  | 'ConnectionsOpened'
  | 'ConnectionsRejected'
  | 'ConnectionsClosed'
  | 'MessagesIn'
  | 'MessagesOut'
  | 'BackendErrors'
  /** Empty backend requests made for `Keep-Alive-Interval` polls and publish refreshes. */
  | 'BackendPolls'
  | 'Published'
  | 'Deliveries'
  | 'DeliveriesGone'
  | 'DeliveriesRetried'
  | 'DeliveriesThrottled'
  | 'DeliveriesDeadLettered'
  | 'DeliveriesFailed'
  | 'JobsSplit'
  | 'JobsContinued'
  | 'ItemsDeduplicated'
  | 'HistoryRecorded'
  | 'ResumesReplayed'
  | 'ItemsReplayed'
  | 'ResumesFailed'
  | 'ItemsHeld'
  | 'ItemsDropped';

export type TimingName = 'BackendLatency' | 'PublishLatency' | 'ResumeLatency' | 'LaneLatency';
