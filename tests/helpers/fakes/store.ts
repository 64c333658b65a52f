/** The storage ports in memory: connections, subscriptions, the bucketed channel index, job checkpoints. */
import { bucketKey, bucketOf, BUCKET_SPACE, subscriptionIndexKey, validateChannel } from '#src/domain/channel.js';
import type { ConnectionRecord } from '#src/domain/connection.js';
import type { SubscriberFilters } from '#src/domain/filters.js';
import type {
  BucketRange,
  ChannelActivity,
  ChannelSequencer,
  JobProgress,
  KeepAliveClaim,
  ConnectionChanges,
  ConnectionLookup,
  ItemIdCache,
  ConnectionStore,
  JobCheckpoints,
  StoreError,
  SubscriberIndex,
  Subscriber,
  SubscriberPage,
  SubscriptionFilterNames,
  SubscriptionOwner,
  SubscriptionStore,
} from '#src/domain/ports.js';
import { err, ok, type Result } from '#src/domain/result.js';
import { Failures, storeError } from './failures.js';

type StoreMethod =
  | 'putConnection'
  | 'getConnection'
  | 'getConnections'
  | 'rememberItemId'
  | 'updateConnection'
  | 'deleteConnections'
  | 'listSubscriptions'
  | 'listSubscriptionFilters'
  | 'updateSubscriptionFilters'
  | 'subscribe'
  | 'unsubscribe'
  | 'pageSubscribers'
  | 'readSubscriber'
  | 'finishResume'
  | 'markPublished'
  | 'sequencerState'
  | 'setLastId'
  | 'hold'
  | 'takeHeld'
  | 'lastPublished'
  | 'load'
  | 'save'
  | 'clear';

export interface StoreCall {
  readonly method: StoreMethod;
  readonly args: readonly unknown[];
}

const CURSOR_PREFIX = 'mem1.';

/** One entry of the in-memory channel index. */
interface IndexEntry {
  readonly connectionId: string;
  readonly subKey: string;
  readonly expiresAt: number;
  readonly filters?: SubscriberFilters;
  readonly resume?: string;
  readonly liveAfter?: string;
}

/** What a page or `readSubscriber` returns for an index entry (the adapter's projection). */
function subscriberOf(e: IndexEntry): Subscriber {
  return {
    connectionId: e.connectionId,
    ...(e.filters ? { filters: e.filters } : {}),
    ...(e.resume !== undefined ? { resume: e.resume } : {}),
    ...(e.liveAfter !== undefined ? { liveAfter: e.liveAfter } : {}),
  };
}

/**
 * One in-memory `Connections` table behind the four storage ports, shaped like the DynamoDB adapter:
 *
 * - `pageSubscribers` reads the sparse channel index in `subscriptionIndexKey` order (`<bucket hex4>#<id>`),
 *   restricted to buckets `[from, to)`, after an opaque cursor. Like a DynamoDB Query with `Limit`, a page
 *   *evaluates* at most `limit` entries; expired ones (`expiresAt <= now`) are filtered out afterwards, so a page
 *   may be short, or empty, while its cursor is still non-null. A cursor (and `lastBucket`) is returned whenever
 *   the page evaluated `limit` entries, even if nothing follows — DynamoDB's `LastEvaluatedKey` behaves the same.
 *   A cursor outside the range, or not made here, is `invalid`.
 * - `deleteConnections` removes records and subscriptions; idempotent; `ifConnectedAt` skips an id whose record
 *   has another `connectedAt`. `updateConnection` of a missing record
 *   is `conflict`. Channels are validated as the adapter does (`$connection` and bad names are `invalid`).
 *
 * Every call is recorded in `calls`; `fail`/`failOnce` make a method return an error (and change nothing).
 */
export class InMemoryStore
  implements
    ConnectionStore,
    ConnectionLookup,
    ItemIdCache,
    SubscriptionStore,
    SubscriberIndex,
    JobCheckpoints,
    ChannelActivity,
    ChannelSequencer
{
  readonly records = new Map<string, ConnectionRecord>();
  /** connectionId → channel → expiresAt (epoch seconds). */
  readonly subscriptions = new Map<string, Map<string, number>>();
  /** connectionId → channel → the filters its subscription item carries (none: no entry). */
  readonly subscriptionFilters = new Map<string, Map<string, SubscriberFilters>>();
  /** connectionId → channel → the resume state its subscription item carries (`resume` token or `liveAfter`). */
  readonly resumeStates = new Map<string, Map<string, { readonly resume?: string; readonly liveAfter?: string }>>();
  readonly checkpoints = new Map<string, { readonly progress: JobProgress; readonly expiresAt: number }>();
  /** connectionId → keep-alive claim `<since>:<generation>`, as the adapter stores it. */
  readonly keepAliveClaims = new Map<string, string>();
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
  indexOf(channel: string): IndexEntry[] {
    const out: IndexEntry[] = [];
    for (const [connectionId, channels] of this.subscriptions) {
      const expiresAt = channels.get(channel);
      const filters = this.subscriptionFilters.get(connectionId)?.get(channel);
      const resume = this.resumeStates.get(connectionId)?.get(channel);
      if (expiresAt !== undefined)
        out.push({ connectionId, subKey: subscriptionIndexKey(connectionId), expiresAt, ...(filters ? { filters } : {}), ...resume });
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

  /** The item-id cache (Pushpin's `id_cache_ttl`), with the adapter's rule: free when absent, expired or the same claim. */
  readonly itemIds = new Map<string, { readonly claim: string; readonly expiresAt: number }>();

  async rememberItemId(
    channel: string,
    id: string,
    claim: string,
    now: number,
    expiresAt: number,
  ): Promise<Result<'first' | 'seen', StoreError>> {
    const failed = this.#begin('rememberItemId', [channel, id]);
    if (failed) return err(failed);
    const key = `${channel}\u0000${id}`;
    const held = this.itemIds.get(key);
    if (held !== undefined && held.claim !== claim && held.expiresAt > now) return ok('seen');
    this.itemIds.set(key, { claim, expiresAt });
    return ok('first');
  }

  async getConnections(connectionIds: readonly string[]): Promise<Result<ReadonlyMap<string, ConnectionRecord>, StoreError>> {
    const failed = this.#begin('getConnections', [...connectionIds]);
    if (failed) return err(failed);
    return ok(
      new Map(connectionIds.flatMap((id) => (this.records.has(id) ? [[id, this.records.get(id) as ConnectionRecord] as const] : []))),
    );
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
      ...(changes.filterMeta !== undefined ? { filterMeta: { ...changes.filterMeta } } : {}),
      ...(changes.subprotocol !== undefined ? { subprotocol: changes.subprotocol } : {}),
      ...(changes.keepAlive !== undefined ? { keepAlive: changes.keepAlive } : {}),
      ...(changes.lastActivityAt !== undefined ? { lastActivityAt: changes.lastActivityAt } : {}),
      ...(changes.detached === true ? { detached: true } : {}),
      ...(changes.backendPoll !== undefined ? { backendPoll: changes.backendPoll } : {}),
      ...(changes.lastExchangeAt !== undefined ? { lastExchangeAt: changes.lastExchangeAt } : {}),
    };
    this.records.set(connectionId, updated);
    return ok(updated);
  }

  async deleteConnections(
    connectionIds: readonly string[],
    options: { readonly ifConnectedAt?: ReadonlyMap<string, number> } = {},
  ): Promise<Result<void, StoreError>> {
    const failed = this.#begin('deleteConnections', [[...connectionIds]]);
    if (failed) return err(failed);
    for (const id of connectionIds) {
      const expected = options.ifConnectedAt?.get(id);
      const record = this.records.get(id);
      if (expected !== undefined && record !== undefined && record.connectedAt !== expected) continue;
      this.records.delete(id);
      this.subscriptions.delete(id);
      this.subscriptionFilters.delete(id);
      this.resumeStates.delete(id);
    }
    return ok(undefined);
  }

  async reserveSubscriptionSlots(connectionId: string, count: number, cap: number): Promise<Result<boolean, StoreError>> {
    const record = this.records.get(connectionId);
    if (count <= 0) return ok(true);
    if (record === undefined || (record.subscriptionCount ?? 0) + count > cap) return ok(false);
    this.records.set(connectionId, { ...record, subscriptionCount: (record.subscriptionCount ?? 0) + count });
    return ok(true);
  }

  async releaseSubscriptionSlots(connectionId: string, count: number): Promise<Result<void, StoreError>> {
    const record = this.records.get(connectionId);
    if (record !== undefined && (record.subscriptionCount ?? 0) >= count) {
      this.records.set(connectionId, { ...record, subscriptionCount: (record.subscriptionCount ?? 0) - count });
    }
    return ok(undefined);
  }

  async claimKeepAlive(connectionId: string, claim: KeepAliveClaim): Promise<Result<boolean, StoreError>> {
    const key = claimKey(connectionId, claim);
    const current = this.keepAliveClaims.get(key);
    const claimable =
      claim.generation === 0
        ? this.records.has(connectionId) && (current === undefined || !current.startsWith(`${claim.since}:`))
        : current === `${claim.since}:${claim.generation}`;
    if (claimable) this.keepAliveClaims.set(key, `${claim.since}:${claim.generation + 1}`);
    return ok(claimable);
  }

  async releaseKeepAlive(connectionId: string, claim: KeepAliveClaim): Promise<Result<void, StoreError>> {
    const key = claimKey(connectionId, claim);
    if (this.keepAliveClaims.get(key) !== `${claim.since}:${claim.generation + 1}`) return ok(undefined);
    if (claim.generation === 0) this.keepAliveClaims.delete(key);
    else this.keepAliveClaims.set(key, `${claim.since}:${claim.generation}`);
    return ok(undefined);
  }

  async listSubscriptions(connectionId: string): Promise<Result<string[], StoreError>> {
    const failed = this.#begin('listSubscriptions', [connectionId]);
    if (failed) return err(failed);
    return ok([...(this.subscriptions.get(connectionId)?.keys() ?? [])].sort());
  }

  async listSubscriptionFilters(connectionId: string): Promise<Result<SubscriptionFilterNames[], StoreError>> {
    const failed = this.#begin('listSubscriptionFilters', [connectionId]);
    if (failed) return err(failed);
    const filters = this.subscriptionFilters.get(connectionId);
    return ok(
      [...(this.subscriptions.get(connectionId)?.keys() ?? [])].sort().map((channel) => ({
        channel,
        filters: [...(filters?.get(channel)?.names ?? [])],
      })),
    );
  }

  async subscribe(
    owner: SubscriptionOwner,
    channels: readonly string[],
    filters?: ReadonlyMap<string, SubscriberFilters>,
    resumes?: ReadonlyMap<string, string>,
  ): Promise<Result<void, StoreError>> {
    const { connectionId, expiresAt } = owner;
    const args: unknown[] =
      filters === undefined ? [connectionId, [...channels], expiresAt] : [connectionId, [...channels], expiresAt, new Map(filters)];
    if (resumes !== undefined) args.push(new Map(resumes));
    const failed = this.#begin('subscribe', args) ?? this.#invalidChannel(channels);
    if (failed) return err(failed);
    for (const channel of channels) {
      this.#channelsOf(connectionId).set(channel, expiresAt);
      this.#setFilters(connectionId, channel, filters?.get(channel));
      // The item is written whole, as PutItem does: a resume token or nothing (a live subscription from the start).
      const resume = resumes?.get(channel);
      if (resume === undefined) this.resumeStates.get(connectionId)?.delete(channel);
      else this.#resumesOf(connectionId).set(channel, { resume });
    }
    return ok(undefined);
  }

  /** channel → the sequencer's last id (absent: none). */
  readonly lastIds = new Map<string, string>();
  /** `<channel>\u0000<prevId>` → the held item (the job's body and when it was held). */
  readonly held = new Map<string, { readonly job: string; readonly heldAt: number }>();

  async sequencerState(channel: string): Promise<Result<{ readonly lastId: string | null; readonly held: number }, StoreError>> {
    const failed = this.#begin('sequencerState', [channel]);
    if (failed) return err(failed);
    const held = [...this.held.keys()].filter((k) => k.startsWith(`${channel}\u0000`)).length;
    return ok({ lastId: this.lastIds.get(channel) ?? null, held });
  }

  async setLastId(channel: string, lastId: string | null): Promise<Result<void, StoreError>> {
    const failed = this.#begin('setLastId', [channel, lastId]);
    if (failed) return err(failed);
    if (lastId === null) this.lastIds.delete(channel);
    else this.lastIds.set(channel, lastId);
    return ok(undefined);
  }

  async hold(
    channel: string,
    prevId: string,
    job: string,
    heldAt: number,
    max: number,
  ): Promise<Result<'held' | 'duplicate' | 'full', StoreError>> {
    const failed = this.#begin('hold', [channel, prevId, heldAt]);
    if (failed) return err(failed);
    const state = await this.sequencerState(channel);
    if (state.ok && state.value.held >= max) return ok('full');
    const key = `${channel}\u0000${prevId}`;
    if (this.held.has(key)) return ok('duplicate');
    this.held.set(key, { job, heldAt });
    return ok('held');
  }

  async takeHeld(
    channel: string,
    prevId: string,
    heldAt?: number,
  ): Promise<Result<{ readonly job: string; readonly heldAt: number } | null, StoreError>> {
    const failed = this.#begin('takeHeld', [channel, prevId, heldAt]);
    if (failed) return err(failed);
    const key = `${channel}\u0000${prevId}`;
    const item = this.held.get(key);
    if (item === undefined || (heldAt !== undefined && item.heldAt !== heldAt)) return ok(null);
    this.held.delete(key);
    return ok(item);
  }

  /** channel → when it was last published to (the newest mark wins, as in the adapter). */
  readonly publishedMarks = new Map<string, number>();

  async markPublished(channel: string, at: number): Promise<Result<void, StoreError>> {
    const failed = this.#begin('markPublished', [channel, at]);
    if (failed) return err(failed);
    if ((this.publishedMarks.get(channel) ?? -Infinity) < at) this.publishedMarks.set(channel, at);
    return ok(undefined);
  }

  async lastPublished(channels: readonly string[]): Promise<Result<ReadonlyMap<string, number>, StoreError>> {
    const failed = this.#begin('lastPublished', [[...channels]]);
    if (failed) return err(failed);
    return ok(new Map(channels.flatMap((c) => (this.publishedMarks.has(c) ? [[c, this.publishedMarks.get(c) ?? 0] as const] : []))));
  }

  async finishResume(connectionId: string, channel: string, token: string, liveAfter: string): Promise<Result<boolean, StoreError>> {
    const failed = this.#begin('finishResume', [connectionId, channel, token, liveAfter]);
    if (failed) return err(failed);
    const mine = this.resumeStates.get(connectionId);
    if (!this.subscriptions.get(connectionId)?.has(channel) || mine?.get(channel)?.resume !== token) return ok(false);
    mine.set(channel, { liveAfter });
    return ok(true);
  }

  async readSubscriber(channel: string, connectionId: string): Promise<Result<Subscriber | null, StoreError>> {
    const failed = this.#begin('readSubscriber', [channel, connectionId]);
    if (failed) return err(failed);
    const entry = this.indexOf(channel).find((e) => e.connectionId === connectionId);
    return ok(entry === undefined ? null : subscriberOf(entry));
  }

  #resumesOf(connectionId: string): Map<string, { readonly resume?: string; readonly liveAfter?: string }> {
    let mine = this.resumeStates.get(connectionId);
    if (mine === undefined) {
      mine = new Map();
      this.resumeStates.set(connectionId, mine);
    }
    return mine;
  }

  async updateSubscriptionFilters(
    connectionId: string,
    filters: ReadonlyMap<string, SubscriberFilters>,
  ): Promise<Result<void, StoreError>> {
    const failed = this.#begin('updateSubscriptionFilters', [connectionId, new Map(filters)]) ?? this.#invalidChannel([...filters.keys()]);
    if (failed) return err(failed);
    for (const [channel, state] of filters) {
      if (this.subscriptions.get(connectionId)?.has(channel)) this.#setFilters(connectionId, channel, state);
    }
    return ok(undefined);
  }

  #setFilters(connectionId: string, channel: string, state: SubscriberFilters | undefined): void {
    let mine = this.subscriptionFilters.get(connectionId);
    if (state === undefined || state.names.length === 0) {
      mine?.delete(channel);
      return;
    }
    if (mine === undefined) {
      mine = new Map();
      this.subscriptionFilters.set(connectionId, mine);
    }
    mine.set(channel, state);
  }

  async unsubscribe(connectionId: string, channels: readonly string[]): Promise<Result<void, StoreError>> {
    const failed = this.#begin('unsubscribe', [connectionId, [...channels]]) ?? this.#invalidChannel(channels);
    if (failed) return err(failed);
    const mine = this.subscriptions.get(connectionId);
    for (const channel of channels) {
      mine?.delete(channel);
      this.subscriptionFilters.get(connectionId)?.delete(channel);
      this.resumeStates.get(connectionId)?.delete(channel);
    }
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
    const subscribers = evaluated.filter((e) => e.expiresAt > now).map(subscriberOf);
    const last = evaluated[evaluated.length - 1];
    if (evaluated.length < limit || last === undefined) return ok({ subscribers, cursor: null, lastBucket: null });
    return ok({ subscribers, cursor: encodeCursor(last.subKey), lastBucket: bucketOf(last.connectionId) });
  }

  async load(jobId: string): Promise<Result<JobProgress | null, StoreError>> {
    const failed = this.#begin('load', [jobId]);
    if (failed) return err(failed);
    return ok(this.checkpoints.get(jobId)?.progress ?? null);
  }

  async save(jobId: string, progress: JobProgress, expiresAt: number): Promise<Result<void, StoreError>> {
    const failed = this.#begin('save', [jobId, progress, expiresAt]);
    if (failed) return err(failed);
    this.checkpoints.set(jobId, { progress, expiresAt });
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

/** Heartbeat claims are keyed by the connection id alone (as tests read them); poll claims apart. */
function claimKey(connectionId: string, claim: KeepAliveClaim): string {
  return claim.chain === 'poll' ? `poll#${connectionId}` : connectionId;
}
