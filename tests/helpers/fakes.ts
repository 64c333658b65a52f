/**
 * Hand-written in-memory implementations of every port in `src/domain/ports.ts`, for unit tests of the pure
 * domain and the handlers. They record what they were asked, can be told to fail, and follow the ports'
 * contracts (and DynamoDB's index order) closely enough that a test passing here means something.
 *
 * Nothing here waits on a real timer: `ManualClock.sleep` advances the clock and yields one microtask.
 */
import { bucketKey, bucketOf, BUCKET_SPACE, subscriptionIndexKey, validateChannel } from '#src/domain/channel.js';
import type { ConnectionRecord } from '#src/domain/connection.js';
import { serializeJob, type FanoutJob } from '#src/domain/fanout/jobs.js';
import type {
  BackendClient,
  BackendError,
  BackendRequest,
  BackendResponse,
  BucketRange,
  CloseRequest,
  ConnectionChanges,
  ConnectionSender,
  ConnectionStore,
  DeadLetters,
  FanoutQueue,
  SendOutcome,
  GripSigner,
  JobCheckpoints,
  Log,
  MetricName,
  Metrics,
  QueueEntry,
  QueueError,
  StoreError,
  SubscriberIndex,
  SubscriberPage,
  SubscriptionStore,
  TimingName,
} from '#src/domain/ports.js';
import { err, ok, type Result } from '#src/domain/result.js';

// ---------------------------------------------------------------------------------------------------------------
// Time and randomness

/** A clock that moves only when told to. `clock` and `sleep` are bound functions, ready to inject. */
export class ManualClock {
  /** Every `sleep` asked for, in order (milliseconds). */
  readonly sleeps: number[] = [];
  constructor(public now = 1_800_000_000_000) {}

  readonly clock = (): number => this.now;

  /** Advances the clock by `ms` and yields once, so concurrent work interleaves as it would around a timer. */
  readonly sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.now += Math.max(0, ms);
    await Promise.resolve();
  };

  advance(ms: number): void {
    this.now += ms;
  }
}

/** A deterministic source of [0, 1) numbers (mulberry32). */
export function seededRandom(seed = 42): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Log and metrics

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly attributes: Record<string, unknown>;
}

/** A `Log` that keeps every entry; with `print` it also writes them to the console (to follow a long test). */
export class RecordingLog implements Log {
  readonly entries: LogEntry[] = [];
  readonly #print: boolean;
  constructor(options: { readonly print?: boolean } = {}) {
    this.#print = options.print ?? false;
  }
  debug(message: string, attributes: Record<string, unknown> = {}): void {
    this.#add('debug', message, attributes);
  }
  info(message: string, attributes: Record<string, unknown> = {}): void {
    this.#add('info', message, attributes);
  }
  warn(message: string, attributes: Record<string, unknown> = {}): void {
    this.#add('warn', message, attributes);
  }
  error(message: string, attributes: Record<string, unknown> = {}): void {
    this.#add('error', message, attributes);
  }
  at(level: LogEntry['level']): LogEntry[] {
    return this.entries.filter((e) => e.level === level);
  }
  /** Entries at `level` whose message, or any string attribute, contains `text`. */
  find(level: LogEntry['level'], text: string): LogEntry[] {
    return this.at(level).filter(
      (e) => e.message.includes(text) || Object.values(e.attributes).some((v) => typeof v === 'string' && v.includes(text)),
    );
  }
  #add(level: LogEntry['level'], message: string, attributes: Record<string, unknown>): void {
    this.entries.push({ level, message, attributes });
    if (this.#print) console.log(`[${level}] ${message} ${JSON.stringify(attributes)}`);
  }
}

export class RecordingMetrics implements Metrics {
  readonly counts = new Map<MetricName, number>();
  readonly timings: { readonly name: TimingName; readonly milliseconds: number }[] = [];
  count(name: MetricName, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
  timing(name: TimingName, milliseconds: number): void {
    this.timings.push({ name, milliseconds });
  }
  total(name: MetricName): number {
    return this.counts.get(name) ?? 0;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Failure injection shared by the fakes

/** Per-method scripted failures: after `after` good calls, that many calls fail (Infinity: every later call). */
class Failures<M extends string, E> {
  readonly #plans = new Map<M, { error: E; remaining: number; skip: number }>();
  set(method: M, error: E, times: number, after = 0): void {
    this.#plans.set(method, { error, remaining: times, skip: after });
  }
  /** The error for this call, if it is to fail (and uses one of the plan's failures). */
  take(method: M): E | null {
    const plan = this.#plans.get(method);
    if (plan === undefined || plan.remaining <= 0) return null;
    if (plan.skip > 0) {
      plan.skip--;
      return null;
    }
    plan.remaining--;
    return plan.error;
  }
}

export const storeError = (kind: StoreError['kind'] = 'unavailable', message = `store ${kind}`): StoreError => ({ kind, message });
export const queueError = (kind: QueueError['kind'] = 'unavailable', message = `queue ${kind}`): QueueError => ({ kind, message });

// ---------------------------------------------------------------------------------------------------------------
// Storage: connections, subscriptions, the bucketed channel index, job checkpoints

type StoreMethod =
  | 'putConnection'
  | 'getConnection'
  | 'updateConnection'
  | 'deleteConnections'
  | 'listSubscriptions'
  | 'subscribe'
  | 'unsubscribe'
  | 'pageSubscribers'
  | 'load'
  | 'save'
  | 'clear';

export interface StoreCall {
  readonly method: StoreMethod;
  readonly args: readonly unknown[];
}

const CURSOR_PREFIX = 'mem1.';

/**
 * One in-memory `Connections` table behind the four storage ports, shaped like the DynamoDB adapter:
 *
 * - `pageSubscribers` reads the sparse channel index in `subscriptionIndexKey` order (`<bucket hex4>#<id>`),
 *   restricted to buckets `[from, to)`, after an opaque cursor. Like a DynamoDB Query with `Limit`, a page
 *   *evaluates* at most `limit` entries; expired ones (`expiresAt <= now`) are filtered out afterwards, so a page
 *   may be short, or empty, while its cursor is still non-null. A cursor (and `lastBucket`) is returned whenever
 *   the page evaluated `limit` entries, even if nothing follows — DynamoDB's `LastEvaluatedKey` behaves the same.
 *   A cursor outside the range, or not made here, is `invalid`.
 * - `deleteConnections` removes records and subscriptions; idempotent. `updateConnection` of a missing record
 *   is `conflict`. Channels are validated as the adapter does (`$connection` and bad names are `invalid`).
 *
 * Every call is recorded in `calls`; `fail`/`failOnce` make a method return an error (and change nothing).
 */
export class InMemoryStore implements ConnectionStore, SubscriptionStore, SubscriberIndex, JobCheckpoints {
  readonly records = new Map<string, ConnectionRecord>();
  /** connectionId → channel → expiresAt (epoch seconds). */
  readonly subscriptions = new Map<string, Map<string, number>>();
  readonly checkpoints = new Map<string, { readonly cursor: string; readonly expiresAt: number }>();
  readonly calls: StoreCall[] = [];
  readonly #failures = new Failures<StoreMethod, StoreError>();

  constructor(private readonly clock: () => number = () => 1_800_000_000_000) {}

  /** Makes `method` fail with `error` on `times` calls (default: every call), after `after` calls that succeed. */
  fail(method: StoreMethod, error: StoreError = storeError(), times = Number.POSITIVE_INFINITY, after = 0): this {
    this.#failures.set(method, error, times, after);
    return this;
  }
  failOnce(method: StoreMethod, error: StoreError = storeError()): this {
    return this.fail(method, error, 1);
  }
  callsOf(method: StoreMethod): StoreCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Test setup: subscribes many connections to a channel directly (no call recorded). */
  seedSubscribers(channel: string, connectionIds: readonly string[], expiresAt = this.nowSeconds() + 3600): void {
    for (const id of connectionIds) this.#channelsOf(id).set(channel, expiresAt);
  }
  /** Test setup: stores a record directly (no call recorded). */
  seedConnection(record: ConnectionRecord): void {
    this.records.set(record.connectionId, record);
  }
  /** The channel's subscribers in index order (what a full scan of the index returns). */
  indexOf(channel: string): { connectionId: string; subKey: string; expiresAt: number }[] {
    const out: { connectionId: string; subKey: string; expiresAt: number }[] = [];
    for (const [connectionId, channels] of this.subscriptions) {
      const expiresAt = channels.get(channel);
      if (expiresAt !== undefined) out.push({ connectionId, subKey: subscriptionIndexKey(connectionId), expiresAt });
    }
    return out.sort((a, b) => (a.subKey < b.subKey ? -1 : a.subKey > b.subKey ? 1 : 0));
  }
  /** Whether the connection has any item left (record or subscription). */
  hasItems(connectionId: string): boolean {
    return this.records.has(connectionId) || (this.subscriptions.get(connectionId)?.size ?? 0) > 0;
  }

  async putConnection(record: ConnectionRecord): Promise<Result<void, StoreError>> {
    const failed = this.#begin('putConnection', [record]);
    if (failed) return err(failed);
    this.records.set(record.connectionId, record);
    return ok(undefined);
  }

  async getConnection(connectionId: string): Promise<Result<ConnectionRecord | null, StoreError>> {
    const failed = this.#begin('getConnection', [connectionId]);
    if (failed) return err(failed);
    return ok(this.records.get(connectionId) ?? null);
  }

  async updateConnection(connectionId: string, changes: ConnectionChanges): Promise<Result<ConnectionRecord, StoreError>> {
    const failed = this.#begin('updateConnection', [connectionId, changes]);
    if (failed) return err(failed);
    const current = this.records.get(connectionId);
    if (current === undefined) return err({ kind: 'conflict', message: `connection ${connectionId} no longer exists` });
    const meta: Record<string, string> = { ...current.meta };
    for (const [name, value] of Object.entries(changes.meta ?? {})) {
      if (value === null) delete meta[name];
      else meta[name] = value;
    }
    const updated: ConnectionRecord = {
      ...current,
      meta,
      ...(changes.subprotocol !== undefined ? { subprotocol: changes.subprotocol } : {}),
      ...(changes.keepAlive !== undefined ? { keepAlive: changes.keepAlive } : {}),
      ...(changes.lastActivityAt !== undefined ? { lastActivityAt: changes.lastActivityAt } : {}),
    };
    this.records.set(connectionId, updated);
    return ok(updated);
  }

  async deleteConnections(connectionIds: readonly string[]): Promise<Result<void, StoreError>> {
    const failed = this.#begin('deleteConnections', [[...connectionIds]]);
    if (failed) return err(failed);
    for (const id of connectionIds) {
      this.records.delete(id);
      this.subscriptions.delete(id);
    }
    return ok(undefined);
  }

  async listSubscriptions(connectionId: string): Promise<Result<string[], StoreError>> {
    const failed = this.#begin('listSubscriptions', [connectionId]);
    if (failed) return err(failed);
    return ok([...(this.subscriptions.get(connectionId)?.keys() ?? [])].sort());
  }

  async subscribe(connectionId: string, channels: readonly string[], expiresAt: number): Promise<Result<void, StoreError>> {
    const failed = this.#begin('subscribe', [connectionId, [...channels], expiresAt]) ?? this.#invalidChannel(channels);
    if (failed) return err(failed);
    for (const channel of channels) this.#channelsOf(connectionId).set(channel, expiresAt);
    return ok(undefined);
  }

  async unsubscribe(connectionId: string, channels: readonly string[]): Promise<Result<void, StoreError>> {
    const failed = this.#begin('unsubscribe', [connectionId, [...channels]]) ?? this.#invalidChannel(channels);
    if (failed) return err(failed);
    const mine = this.subscriptions.get(connectionId);
    for (const channel of channels) mine?.delete(channel);
    if (mine?.size === 0) this.subscriptions.delete(connectionId);
    return ok(undefined);
  }

  async pageSubscribers(
    channel: string,
    range: BucketRange,
    cursor: string | null,
    limit: number,
  ): Promise<Result<SubscriberPage, StoreError>> {
    const failed = this.#begin('pageSubscribers', [channel, { ...range }, cursor, limit]);
    if (failed) return err(failed);
    const { from, to } = range;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > BUCKET_SPACE || from >= to) {
      return err(storeError('invalid', `bucket range [${from}, ${to}) is not valid`));
    }
    if (!Number.isInteger(limit) || limit < 1) return err(storeError('invalid', `page limit ${limit} must be a positive integer`));
    const lo = bucketKey(from);
    const hi = `${bucketKey(to - 1)}$`;
    let after: string | null = null;
    if (cursor !== null) {
      after = decodeCursor(cursor);
      if (after === null || after < lo || after > hi) return err(storeError('invalid', 'malformed subscriber cursor'));
    }
    const evaluated = this.indexOf(channel)
      .filter((e) => e.subKey >= lo && e.subKey <= hi && (after === null || e.subKey > after))
      .slice(0, limit);
    const now = this.nowSeconds();
    const connectionIds = evaluated.filter((e) => e.expiresAt > now).map((e) => e.connectionId);
    const last = evaluated[evaluated.length - 1];
    if (evaluated.length < limit || last === undefined) return ok({ connectionIds, cursor: null, lastBucket: null });
    return ok({ connectionIds, cursor: encodeCursor(last.subKey), lastBucket: bucketOf(last.connectionId) });
  }

  async load(jobId: string): Promise<Result<string | null, StoreError>> {
    const failed = this.#begin('load', [jobId]);
    if (failed) return err(failed);
    return ok(this.checkpoints.get(jobId)?.cursor ?? null);
  }

  async save(jobId: string, cursor: string, expiresAt: number): Promise<Result<void, StoreError>> {
    const failed = this.#begin('save', [jobId, cursor, expiresAt]);
    if (failed) return err(failed);
    this.checkpoints.set(jobId, { cursor, expiresAt });
    return ok(undefined);
  }

  async clear(jobId: string): Promise<Result<void, StoreError>> {
    const failed = this.#begin('clear', [jobId]);
    if (failed) return err(failed);
    this.checkpoints.delete(jobId);
    return ok(undefined);
  }

  nowSeconds(): number {
    return Math.floor(this.clock() / 1000);
  }

  #begin(method: StoreMethod, args: readonly unknown[]): StoreError | null {
    this.calls.push({ method, args });
    return this.#failures.take(method);
  }

  #channelsOf(connectionId: string): Map<string, number> {
    let mine = this.subscriptions.get(connectionId);
    if (mine === undefined) {
      mine = new Map();
      this.subscriptions.set(connectionId, mine);
    }
    return mine;
  }

  #invalidChannel(channels: readonly string[]): StoreError | null {
    for (const channel of channels) {
      const v = validateChannel(channel);
      if (!v.ok) return storeError('invalid', v.error.message);
    }
    return null;
  }
}

function encodeCursor(subKey: string): string {
  return CURSOR_PREFIX + Buffer.from(subKey, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string | null {
  if (!cursor.startsWith(CURSOR_PREFIX)) return null;
  const subKey = Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8');
  return /^[0-9a-f]{4}#./.test(subKey) ? subKey : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Queue and dead letters

/** A queued entry as the fake keeps it: the entry itself, its serialized body and a message id. */
export interface QueuedMessage {
  readonly messageId: string;
  readonly entry: QueueEntry;
  readonly body: string;
}

/**
 * `FanoutQueue` + `DeadLetters` in memory. Successful `enqueue` calls append to `queued` in order; a failing
 * call queues nothing. Like a FIFO queue, an ordered-lane entry whose `dedupId` was already seen is dropped
 * (listed in `deduplicated`). `take()` hands the queued messages out as worker records (and forgets them),
 * which lets a test drain the pipeline the way the event source mapping would.
 */
export class RecordingQueue implements FanoutQueue, DeadLetters {
  readonly queued: QueuedMessage[] = [];
  readonly deduplicated: QueueEntry[] = [];
  readonly dead: { readonly body: string; readonly reason: string }[] = [];
  /** Every call, failed or not: the entries each `enqueue` was given. */
  readonly enqueueCalls: (readonly QueueEntry[])[] = [];
  readonly #failures = new Failures<'enqueue' | 'deadLetter', QueueError>();
  readonly #dedupIds = new Set<string>();
  #next = 1;

  fail(method: 'enqueue' | 'deadLetter', error: QueueError = queueError(), times = Number.POSITIVE_INFINITY): this {
    this.#failures.set(method, error, times);
    return this;
  }
  failOnce(method: 'enqueue' | 'deadLetter', error: QueueError = queueError()): this {
    return this.fail(method, error, 1);
  }

  async enqueue(entries: readonly QueueEntry[]): Promise<Result<void, QueueError>> {
    this.enqueueCalls.push(entries);
    const failed = this.#failures.take('enqueue');
    if (failed) return err(failed);
    for (const entry of entries) {
      if (entry.delaySeconds === undefined && entry.dedupId !== undefined) {
        if (this.#dedupIds.has(entry.dedupId)) {
          this.deduplicated.push(entry);
          continue;
        }
        this.#dedupIds.add(entry.dedupId);
      }
      this.queued.push({ messageId: `msg-${this.#next++}`, entry, body: serializeJob(entry.job) });
    }
    return ok(undefined);
  }

  async deadLetter(entries: readonly { readonly body: string; readonly reason: string }[]): Promise<Result<void, QueueError>> {
    const failed = this.#failures.take('deadLetter');
    if (failed) return err(failed);
    this.dead.push(...entries);
    return ok(undefined);
  }

  jobs(): FanoutJob[] {
    return this.queued.map((m) => m.entry.job);
  }
  entries(): QueueEntry[] {
    return this.queued.map((m) => m.entry);
  }

  /** Removes and returns up to `max` queued messages as worker records (group = orderKey unless delayed). */
  take(max = Number.POSITIVE_INFINITY): { id: string; body: string; group: string | null; receiveCount: number }[] {
    const batch = this.queued.splice(0, Math.min(max, this.queued.length));
    return batch.map((m) => ({
      id: m.messageId,
      body: m.body,
      group: m.entry.delaySeconds === undefined ? (m.entry.orderKey ?? null) : null,
      receiveCount: 1,
    }));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Connection gateway

/** Shorthands for scripted outcomes. `failed` is retryable; give a full outcome for a non-retryable one. */
export type OutcomeSpec = 'ok' | 'gone' | 'throttled' | 'failed' | 'too-large' | SendOutcome | Error;

function outcomeOf(spec: Exclude<OutcomeSpec, Error>): SendOutcome {
  if (typeof spec !== 'string') return spec;
  switch (spec) {
    case 'ok':
      return { kind: 'ok' };
    case 'gone':
      return { kind: 'gone' };
    case 'throttled':
      return { kind: 'throttled', message: 'LimitExceededException' };
    case 'failed':
      return { kind: 'failed', retryable: true, message: 'InternalServerError' };
    case 'too-large':
      return { kind: 'too-large', message: 'PayloadTooLargeException' };
  }
}

export const FATAL: SendOutcome = { kind: 'failed', retryable: false, message: 'ForbiddenException' };

export type SendCall =
  | { readonly op: 'post'; readonly connectionId: string; readonly data: string | Uint8Array }
  | { readonly op: 'close'; readonly connectionId: string; readonly request: CloseRequest | undefined };

/**
 * `ConnectionSender` with scripted outcomes. `script(id, …)` queues outcomes for that connection's next calls
 * (post or close alike); when a connection's script runs out, its `always` outcome applies, else `ok`. An
 * `Error` in a script is thrown (a bug in an adapter), to test that callers survive it. Every call is recorded
 * in order; each call yields once, so concurrent deliveries really overlap and `maxInFlight` is meaningful.
 */
export class FakeSender implements ConnectionSender {
  readonly calls: SendCall[] = [];
  inFlight = 0;
  maxInFlight = 0;
  readonly #scripts = new Map<string, OutcomeSpec[]>();
  readonly #always = new Map<string, OutcomeSpec>();
  #default: OutcomeSpec = 'ok';

  script(connectionId: string, ...outcomes: OutcomeSpec[]): this {
    this.#scripts.set(connectionId, [...(this.#scripts.get(connectionId) ?? []), ...outcomes]);
    return this;
  }
  always(connectionId: string, outcome: OutcomeSpec): this {
    this.#always.set(connectionId, outcome);
    return this;
  }
  /** The outcome for connections with no script of their own. */
  otherwise(outcome: OutcomeSpec): this {
    this.#default = outcome;
    return this;
  }

  async post(connectionId: string, data: string | Uint8Array): Promise<SendOutcome> {
    return this.#answer({ op: 'post', connectionId, data });
  }

  async close(connectionId: string, request?: CloseRequest): Promise<SendOutcome> {
    return this.#answer({ op: 'close', connectionId, request });
  }

  /** What was posted to one connection, in order (binary as bytes). */
  posted(connectionId: string): (string | Uint8Array)[] {
    return this.calls.flatMap((c) => (c.op === 'post' && c.connectionId === connectionId ? [c.data] : []));
  }
  closes(connectionId?: string): { connectionId: string; request: CloseRequest | undefined }[] {
    return this.calls.flatMap((c) =>
      c.op === 'close' && (connectionId === undefined || c.connectionId === connectionId)
        ? [{ connectionId: c.connectionId, request: c.request }]
        : [],
    );
  }
  /** How many posts each connection received. */
  postCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const c of this.calls) if (c.op === 'post') counts.set(c.connectionId, (counts.get(c.connectionId) ?? 0) + 1);
    return counts;
  }

  async #answer(call: SendCall): Promise<SendOutcome> {
    this.calls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await Promise.resolve();
      const script = this.#scripts.get(call.connectionId);
      const spec =
        script !== undefined && script.length > 0
          ? (script.shift() as OutcomeSpec)
          : (this.#always.get(call.connectionId) ?? this.#default);
      if (spec instanceof Error) throw spec;
      return outcomeOf(spec);
    } finally {
      this.inFlight--;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Backend

export type BackendAnswer =
  BackendResponse | { readonly error: BackendError } | ((request: BackendRequest) => BackendResponse | { readonly error: BackendError });

const utf8 = new TextEncoder();

/** Body parts: strings are UTF-8, byte arrays are taken as they are. */
export type BodyParts = string | Uint8Array | readonly (string | Uint8Array)[];

function bodyBytes(parts: BodyParts): Uint8Array {
  const list = typeof parts === 'string' || parts instanceof Uint8Array ? [parts] : parts;
  const chunks = list.map((p) => (typeof p === 'string' ? utf8.encode(p) : p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A 200 `application/websocket-events` reply with the given raw body (e.g. `'OPEN\r\nTEXT 4\r\nm:hi\r\n'`). */
export function eventsReply(body: BodyParts = '', headers: Record<string, string> = {}): BackendResponse {
  return { status: 200, headers: { 'content-type': 'application/websocket-events', ...lowerKeys(headers) }, body: bodyBytes(body) };
}

/** The GRIP accept most tests want: `OPEN` with `Sec-WebSocket-Extensions: grip`, then the `rest` of the body. */
export function gripAccept(rest: BodyParts = '', headers: Record<string, string> = {}): BackendResponse {
  const tail = typeof rest === 'string' || rest instanceof Uint8Array ? [rest] : rest;
  return eventsReply(['OPEN\r\n', ...tail], { 'sec-websocket-extensions': 'grip', ...headers });
}

/** A framed TEXT event, with its byte length computed (`TEXT <hex>\r\n<text>\r\n`). */
export function textFrame(text: string): string {
  return `TEXT ${utf8.encode(text).length.toString(16)}\r\n${text}\r\n`;
}

/** A framed BINARY event. */
export function binaryFrame(data: Uint8Array): Uint8Array {
  return bodyBytes([`BINARY ${data.length.toString(16)}\r\n`, data, '\r\n']);
}

/** A framed CLOSE event: 2-byte big-endian code and UTF-8 reason, or no content when `code` is null. */
export function closeFrame(code: number | null, reason = ''): Uint8Array {
  if (code === null) return bodyBytes('CLOSE\r\n');
  const content = bodyBytes([new Uint8Array([(code >> 8) & 0xff, code & 0xff]), reason]);
  return bodyBytes([`CLOSE ${content.length.toString(16)}\r\n`, content, '\r\n']);
}

export function httpReply(status: number, body = '', headers: Record<string, string> = {}): BackendResponse {
  return { status, headers: lowerKeys(headers), body: utf8.encode(body) };
}

export function backendError(kind: BackendError['kind'] = 'connect', message = `backend ${kind}`): { readonly error: BackendError } {
  return { error: { kind, message } };
}

/**
 * `BackendClient` that answers from a script, in order, and records every request. With the script used up it
 * answers `fallback` (default: an empty 200 events reply, a valid no-op in a session).
 */
export class ScriptedBackend implements BackendClient {
  readonly requests: BackendRequest[] = [];
  readonly #answers: BackendAnswer[] = [];
  fallback: BackendAnswer = eventsReply('');

  respond(...answers: BackendAnswer[]): this {
    this.#answers.push(...answers);
    return this;
  }

  async send(request: BackendRequest): Promise<Result<BackendResponse, BackendError>> {
    this.requests.push(request);
    const answer = this.#answers.shift() ?? this.fallback;
    const resolved = typeof answer === 'function' ? answer(request) : answer;
    return 'error' in resolved ? err(resolved.error) : ok(resolved);
  }

  /** The body of the `n`th request (default: the last) as text, for asserting the events sent. */
  bodyText(n = this.requests.length - 1): string {
    const request = this.requests[n];
    return request === undefined ? '' : Buffer.from(request.body).toString('latin1');
  }
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

// ---------------------------------------------------------------------------------------------------------------
// Grip-Sig

/** Always mints the same token; counts how many were asked for (one per backend request). */
export class FixedSigner implements GripSigner {
  signed = 0;
  constructor(readonly token = 'test.grip.sig') {}
  async sign(): Promise<string> {
    this.signed++;
    return this.token;
  }
}
