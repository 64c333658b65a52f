import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  paginateQuery,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type BatchWriteWriteRequest,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import { z } from 'zod';
import { connectionsTable } from '../config/resources.js';
import { CONNECTION_ITEM_SORT_KEY, subscriptionIndexKey, validateChannel } from '../domain/channel.js';
import type { ConnectionRecord } from '../domain/connection.js';
import type { SubscriberFilters } from '../domain/filters.js';
import type {
  ChannelActivity,
  ChannelSequencer,
  JobProgress,
  KeepAliveClaim,
  BucketRange,
  Clock,
  ConnectionChanges,
  JobCheckpoints,
  ConnectionLookup,
  ConnectionStore,
  ItemIdCache,
  Log,
  StoreError,
  SubscriberIndex,
  Subscriber,
  SubscriberPage,
  SubscriptionFilterNames,
  SubscriptionOwner,
  SubscriptionStore,
} from '../domain/ports.js';
import { err, ok, type Result } from '../domain/result.js';
import { storeErrorFrom } from './aws-errors.js';
import {
  connectionItem,
  connectionRecordFromItem,
  filterAttributes,
  INDEX_ENTRY_ATTRIBUTES,
  subscriberFromIndexEntry,
  subscriptionItem,
} from './connection-items.js';
import { backoff } from './backoff.js';
import { batchWriteAll } from './dynamo-batch-write.js';
import type { HeaderSealer } from './header-sealing.js';
import { DynamoJobCheckpoints } from './dynamo-job-checkpoints.js';
import { bucketOfPosition, decodeSubscriberCursor, encodeSubscriberCursor, indexKeyBounds } from './subscriber-cursor.js';

const T = connectionsTable;
/** The sort key of a channel's "last published" mark (its partition is `published#<channel>`). */
const CHANNEL_MARK_SORT_KEY = '$mark';
/** The sort key of a channel's sequencer state (its partition is `sequencer#<channel>`). */
const SEQUENCER_STATE = '$state';
/** BatchWriteItem takes at most 25 requests. */
/** A page read keeps querying while expired items leave it short, but not forever. */
const MAX_QUERIES_PER_PAGE = 8;

export interface DynamoConnectionStoreOptions {
  /** The document client (the composition root creates it, with its endpoint, region and HTTP handler). */
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Milliseconds since the epoch; decides which items count as expired. Defaults to `Date.now`. */
  readonly clock?: Clock;
  readonly log?: Log;
  /** DynamoDB calls in flight at once within one store call (queries per id, batch writes). Default 8. */
  readonly concurrency?: number;
  /** Tries per BatchWriteItem chunk while DynamoDB returns `UnprocessedItems`. Default 8. */
  readonly maxBatchAttempts?: number;
  /** First backoff before re-sending unprocessed items; doubles per try, full jitter, capped at 1 s. Default 25. */
  readonly retryBaseMs?: number;
  /**
   * Encrypts the stored handshake's credential headers (`Cookie`, `Authorization`). Give it wherever the GRIP key
   * is held (the WebSocket functions, local mode); a store without it (the worker) reads them sealed.
   */
  readonly sealer?: HeaderSealer;
}

const keySchema = z.object({ connectionId: z.string(), channel: z.string() });
const filtersOfItemSchema = z.object({ channel: z.string(), filters: z.array(z.string()).optional() });
const indexPositionSchema = z.object({ connectionId: z.string().min(1), subKey: z.string().min(1) });

type Key = z.infer<typeof keySchema>;

/**
 * The `Connections` table behind four ports: connection records, their subscriptions, the sparse bucketed
 * channel index (see `config/resources.ts`), and the fan-out worker's job checkpoints (`DynamoJobCheckpoints`).
 *
 * Items: the connection item has sort key `$connection` and holds the record; a subscription item has sort key
 * = channel and is the only kind carrying `subChannel` (= channel) and `subKey` (= `<bucket>#<connectionId>`),
 * so only subscriptions enter the `byChannel` index. Every item carries `expiresAt` (epoch seconds) for TTL.
 *
 * Failures are values: throttling → `throttled`; a failed condition → `conflict`; validation, a missing table or
 * a malformed cursor → `invalid`; 5xx, timeouts and network failures → `unavailable`. The SDK client's own
 * retry policy applies to each call; `UnprocessedItems` of batch writes are retried here with jittered backoff.
 *
 * @example
 * const store = new DynamoConnectionStore({ client: DynamoDBDocumentClient.from(ddb), tableName: 'Connections' });
 * await store.subscribe('abc=', ['room-1'], record.expiresAt);
 * const page = await store.pageSubscribers('room-1', { from: 0, to: 65_536 }, null, 1000);
 */
export class DynamoConnectionStore
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
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: Clock;
  private readonly log: Log | undefined;
  private readonly concurrency: number;
  private readonly maxBatchAttempts: number;
  private readonly retryBaseMs: number;
  private readonly checkpoints: DynamoJobCheckpoints;
  private readonly sealer: HeaderSealer | undefined;

  constructor(options: DynamoConnectionStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.clock ?? Date.now;
    this.log = options.log;
    this.concurrency = options.concurrency ?? 8;
    this.maxBatchAttempts = options.maxBatchAttempts ?? 8;
    this.retryBaseMs = options.retryBaseMs ?? 25;
    this.checkpoints = new DynamoJobCheckpoints({ client: options.client, tableName: options.tableName });
    this.sealer = options.sealer;
  }

  /** `JobCheckpoints` in the same table: see `DynamoJobCheckpoints`. */
  load(jobId: string): Promise<Result<JobProgress | null, StoreError>> {
    return this.checkpoints.load(jobId);
  }
  save(jobId: string, progress: JobProgress, expiresAt: number): Promise<Result<void, StoreError>> {
    return this.checkpoints.save(jobId, progress, expiresAt);
  }
  clear(jobId: string): Promise<Result<void, StoreError>> {
    return this.checkpoints.clear(jobId);
  }

  /** Writes the connection item, replacing any previous one. Subscription items are untouched. */
  async putConnection(record: ConnectionRecord): Promise<Result<void, StoreError>> {
    try {
      await this.client.send(new PutCommand({ TableName: this.tableName, Item: connectionItem(this.sealed(record)) }));
      return ok(undefined);
    } catch (e) {
      return err(storeErrorFrom(e, 'PutItem'));
    }
  }

  /** Strongly consistent read of the connection item; `null` when there is none. */
  async getConnection(connectionId: string): Promise<Result<ConnectionRecord | null, StoreError>> {
    try {
      const out = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: this.connectionKey(connectionId), ConsistentRead: true }),
      );
      return out.Item === undefined ? ok(null) : this.opened(connectionRecordFromItem(out.Item));
    } catch (e) {
      return err(storeErrorFrom(e, 'GetItem'));
    }
  }

  /**
   * BatchGetItem in pieces of 100 keys (its limit), strongly consistent, unprocessed keys retried with backoff up
   * to 8 times (then `throttled`).
   */
  async getConnections(connectionIds: readonly string[]): Promise<Result<ReadonlyMap<string, ConnectionRecord>, StoreError>> {
    const found = new Map<string, ConnectionRecord>();
    try {
      for (let i = 0; i < connectionIds.length; i += 100) {
        let keys: Record<string, unknown>[] = connectionIds.slice(i, i + 100).map((id) => this.connectionKey(id));
        for (let attempt = 0; keys.length > 0; attempt++) {
          if (attempt >= 8) return err({ kind: 'throttled', message: `BatchGetItem left ${keys.length} keys unprocessed after 8 tries` });
          if (attempt > 0) await backoff(attempt - 1, 50, 2_000);
          const out = await this.client.send(
            new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
          );
          for (const item of out.Responses?.[this.tableName] ?? []) {
            const record = this.opened(connectionRecordFromItem(item));
            if (record.ok) found.set(record.value.connectionId, record.value);
          }
          keys = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
        }
      }
      return ok(found);
    } catch (e) {
      return err(storeErrorFrom(e, 'BatchGetItem'));
    }
  }

  /**
   * One conditional UpdateItem: each `meta` key is SET (string) or REMOVEd (`null`); `subprotocol`,
   * `keepAlive` and `backendPoll` (null = off), `lastActivityAt`, `lastExchangeAt` and the whole `filterMeta` map are
   * SET when given. Fails with `conflict` when the connection item does not exist (anymore). Returns the record as
   * stored after the update. With no changes it is a consistent read with the same `conflict` rule.
   */
  async updateConnection(connectionId: string, changes: ConnectionChanges): Promise<Result<ConnectionRecord, StoreError>> {
    const names: Record<string, string> = { '#pk': T.partitionKey };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const removes: string[] = [];
    Object.entries(changes.meta ?? {}).forEach(([key, value], i) => {
      names['#meta'] = 'meta';
      names[`#m${i}`] = key;
      if (value === null) {
        removes.push(`#meta.#m${i}`);
      } else {
        values[`:m${i}`] = value;
        sets.push(`#meta.#m${i} = :m${i}`);
      }
    });
    const setField = (
      field: 'subprotocol' | 'keepAlive' | 'lastActivityAt' | 'filterMeta' | 'detached' | 'backendPoll' | 'lastExchangeAt',
      value: unknown,
    ) => {
      if (value === undefined) return;
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      sets.push(`#${field} = :${field}`);
    };
    setField('subprotocol', changes.subprotocol);
    setField('keepAlive', changes.keepAlive);
    setField('lastActivityAt', changes.lastActivityAt);
    setField('filterMeta', changes.filterMeta === undefined ? undefined : { ...changes.filterMeta });
    setField('detached', changes.detached);
    setField('backendPoll', changes.backendPoll);
    setField('lastExchangeAt', changes.lastExchangeAt);
    const gone = () => err<StoreError>({ kind: 'conflict', message: `connection ${connectionId} no longer exists` });
    if (sets.length === 0 && removes.length === 0) {
      const current = await this.getConnection(connectionId);
      if (!current.ok) return current;
      return current.value === null ? gone() : ok(current.value);
    }
    const expression = [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : '']
      .filter(Boolean)
      .join(' ');
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.connectionKey(connectionId),
          UpdateExpression: expression,
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: names,
          ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.opened(connectionRecordFromItem(out.Attributes));
    } catch (e) {
      const error = storeErrorFrom(e, 'UpdateItem');
      return error.kind === 'conflict' ? gone() : err(error);
    }
  }

  /**
   * Deletes every item (record and subscriptions) of each connection: one consistent Query per id (bounded
   * concurrency), then BatchWriteItem deletes of 25, retrying `UnprocessedItems`. Idempotent; duplicate ids are
   * fine. On failure, what could be deleted is deleted and the first error is returned: retrying is safe.
   */
  async deleteConnections(
    connectionIds: readonly string[],
    options: { readonly ifConnectedAt?: ReadonlyMap<string, number> } = {},
  ): Promise<Result<void, StoreError>> {
    const limit = pLimit(this.concurrency);
    let firstError: StoreError | undefined;
    // A conditional one first deletes its record only while it is the same connection; if it is another, its
    // subscriptions are another connection's too and stay.
    const same = await Promise.all(
      [...new Set(connectionIds)].map((id) =>
        limit(async () => {
          const connectedAt = options.ifConnectedAt?.get(id);
          if (connectedAt === undefined) return id;
          const deleted = await this.deleteRecordIfConnectedAt(id, connectedAt);
          if (deleted.ok) return id;
          if (deleted.error.kind !== 'conflict') firstError ??= deleted.error;
          return null;
        }),
      ),
    );
    const ids = same.filter((id) => id !== null);
    if (ids.length === 0) return firstError ? err(firstError) : ok(undefined);
    const found = await Promise.all(ids.map((id) => limit(() => this.itemKeys(id))));
    const keys: Key[] = [];
    for (const r of found) {
      if (r.ok) keys.push(...r.value);
      else firstError ??= r.error;
    }
    const deleted = await this.batchWrite(keys.map((Key) => ({ DeleteRequest: { Key } })));
    if (!deleted.ok) firstError ??= deleted.error;
    return firstError ? err(firstError) : ok(undefined);
  }

  /** One conditional UpdateItem on the connection item's `subscriptionCount` (absent counts as 0). */
  async reserveSubscriptionSlots(connectionId: string, count: number, cap: number): Promise<Result<boolean, StoreError>> {
    if (count <= 0) return ok(true);
    if (count > cap) return ok(false);
    return this.conditionalUpdate(connectionId, {
      UpdateExpression: 'SET #n = if_not_exists(#n, :zero) + :k',
      ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(#n) OR #n <= :limit)',
      ExpressionAttributeNames: { '#pk': T.partitionKey, '#n': 'subscriptionCount' },
      ExpressionAttributeValues: { ':zero': 0, ':k': count, ':limit': cap - count },
    });
  }

  async releaseSubscriptionSlots(connectionId: string, count: number): Promise<Result<void, StoreError>> {
    if (count <= 0) return ok(undefined);
    // A failed condition means fewer in use than given back (a record from before the counter): nothing to do.
    const released = await this.conditionalUpdate(connectionId, {
      UpdateExpression: 'SET #n = #n - :k',
      ConditionExpression: '#n >= :k',
      ExpressionAttributeNames: { '#n': 'subscriptionCount' },
      ExpressionAttributeValues: { ':k': count },
    });
    return released.ok ? ok(undefined) : released;
  }

  /** One conditional UpdateItem on the chain's claim attribute (`keepAliveClaim`, `pollClaim`: `<since>:<generation>`). */
  async claimKeepAlive(connectionId: string, claim: KeepAliveClaim): Promise<Result<boolean, StoreError>> {
    const token = (g: number) => `${claim.since}:${g}`;
    const first = claim.generation === 0;
    return this.conditionalUpdate(connectionId, {
      UpdateExpression: 'SET #c = :next',
      ConditionExpression: first ? 'attribute_exists(#pk) AND (attribute_not_exists(#c) OR NOT begins_with(#c, :chain))' : '#c = :current',
      ExpressionAttributeNames: { '#c': claimAttribute(claim), ...(first ? { '#pk': T.partitionKey } : {}) },
      ExpressionAttributeValues: {
        ':next': token(claim.generation + 1),
        ...(first ? { ':chain': `${claim.since}:` } : { ':current': token(claim.generation) }),
      },
    });
  }

  /** Undoes `claimKeepAlive` if nothing claimed after it; a no-op otherwise. */
  async releaseKeepAlive(connectionId: string, claim: KeepAliveClaim): Promise<Result<void, StoreError>> {
    const released = await this.conditionalUpdate(connectionId, {
      UpdateExpression: claim.generation === 0 ? 'REMOVE #c' : 'SET #c = :current',
      ConditionExpression: '#c = :next',
      ExpressionAttributeNames: { '#c': claimAttribute(claim) },
      ExpressionAttributeValues: {
        ':next': `${claim.since}:${claim.generation + 1}`,
        ...(claim.generation === 0 ? {} : { ':current': `${claim.since}:${claim.generation}` }),
      },
    });
    return released.ok ? ok(undefined) : released;
  }

  /** An UpdateItem on the connection item: `true` if it was applied, `false` if its condition did not hold. */
  /**
   * One conditional PutItem on the item (`item-id#<channel>`, `<id>`): written when absent, expired
   * (`idExpiresAt` ≤ now; DynamoDB's TTL deletes lazily) or already `claim`'s; otherwise `seen`. The TTL attribute
   * removes it later.
   */
  async rememberItemId(
    channel: string,
    id: string,
    claim: string,
    now: number,
    expiresAt: number,
  ): Promise<Result<'first' | 'seen', StoreError>> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [T.partitionKey]: `item-id#${channel}`,
            [T.sortKey]: id,
            claim,
            idExpiresAt: expiresAt,
            [T.ttlAttribute]: Math.ceil(expiresAt / 1000),
          },
          ConditionExpression: 'attribute_not_exists(#pk) OR #claim = :claim OR #exp <= :now',
          ExpressionAttributeNames: { '#pk': T.partitionKey, '#claim': 'claim', '#exp': 'idExpiresAt' },
          ExpressionAttributeValues: { ':claim': claim, ':now': now },
        }),
      );
      return ok('first');
    } catch (e) {
      const error = storeErrorFrom(e, 'PutItem');
      return error.kind === 'conflict' ? ok('seen') : err(error);
    }
  }

  private async conditionalUpdate(
    connectionId: string,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, unknown>;
    },
  ): Promise<Result<boolean, StoreError>> {
    try {
      await this.client.send(new UpdateCommand({ TableName: this.tableName, Key: this.connectionKey(connectionId), ...update }));
      return ok(true);
    } catch (e) {
      const error = storeErrorFrom(e, 'UpdateItem');
      return error.kind === 'conflict' ? ok(false) : err(error);
    }
  }

  private sealed(record: ConnectionRecord): ConnectionRecord {
    if (this.sealer === undefined) return record;
    return { ...record, handshake: { ...record.handshake, headers: this.sealer.sealHeaders(record.handshake.headers) } };
  }

  private opened(read: Result<ConnectionRecord, StoreError>): Result<ConnectionRecord, StoreError> {
    if (!read.ok || this.sealer === undefined) return read;
    const record = read.value;
    return ok({ ...record, handshake: { ...record.handshake, headers: this.sealer.openHeaders(record.handshake.headers) } });
  }

  private async deleteRecordIfConnectedAt(connectionId: string, connectedAt: number): Promise<Result<void, StoreError>> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: this.connectionKey(connectionId),
          ConditionExpression: 'attribute_not_exists(#pk) OR #at = :at',
          ExpressionAttributeNames: { '#pk': T.partitionKey, '#at': 'connectedAt' },
          ExpressionAttributeValues: { ':at': connectedAt },
        }),
      );
      return ok(undefined);
    } catch (e) {
      return err(storeErrorFrom(e, 'DeleteItem'));
    }
  }

  /** The connection's channels (consistent read), in channel order. */
  async listSubscriptions(connectionId: string): Promise<Result<string[], StoreError>> {
    const keys = await this.itemKeys(connectionId);
    if (!keys.ok) return keys;
    return ok(keys.value.map((k) => k.channel).filter((c) => c !== CONNECTION_ITEM_SORT_KEY));
  }

  /**
   * Writes one subscription item per channel (BatchWriteItem puts): idempotent, and re-subscribing refreshes
   * `expiresAt`. Channels are validated first (the reserved `$connection` among them): one bad channel makes
   * the whole call `invalid` with nothing written. Does not check that the connection item exists.
   */
  async subscribe(
    owner: SubscriptionOwner,
    channels: readonly string[],
    filters?: ReadonlyMap<string, SubscriberFilters>,
    resumes?: ReadonlyMap<string, string>,
  ): Promise<Result<void, StoreError>> {
    const valid = this.validChannels(channels);
    if (!valid.ok) return valid;
    const { connectionId, connectedAt, expiresAt } = owner;
    return this.batchWrite(
      valid.value.map((channel) => ({
        PutRequest: {
          Item: subscriptionItem({
            connectionId,
            channel,
            expiresAt,
            connectedAt,
            filters: filters?.get(channel),
            resume: resumes?.get(channel),
          }),
        },
      })),
    );
  }

  /**
   * The channel's mark is one item (partition `published#<channel>`, sort `$mark`), written with a condition so an
   * older time never replaces a newer one (two workers' jobs can finish out of order). A day's TTL.
   */
  async markPublished(channel: string, at: number): Promise<Result<void, StoreError>> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [T.partitionKey]: `published#${channel}`, [T.sortKey]: CHANNEL_MARK_SORT_KEY },
          UpdateExpression: 'SET #at = :at, #exp = :exp',
          ConditionExpression: 'attribute_not_exists(#at) OR #at < :at',
          ExpressionAttributeNames: { '#at': 'publishedAt', '#exp': T.ttlAttribute },
          ExpressionAttributeValues: { ':at': at, ':exp': Math.ceil(at / 1000) + 86_400 },
        }),
      );
      return ok(undefined);
    } catch (e) {
      const error = storeErrorFrom(e, 'UpdateItem (channel mark)');
      return error.kind === 'conflict' ? ok(undefined) : err(error);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // The sequencer (`prev-id`): items `sequencer#<channel>` / `$state` (last id, held count) and `held#<prevId>`.

  async sequencerState(channel: string): Promise<Result<{ readonly lastId: string | null; readonly held: number }, StoreError>> {
    try {
      const out = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: this.sequencerKey(channel, SEQUENCER_STATE), ConsistentRead: true }),
      );
      const lastId = out.Item?.['lastId'];
      const held = out.Item?.['held'];
      return ok({ lastId: typeof lastId === 'string' ? lastId : null, held: typeof held === 'number' ? held : 0 });
    } catch (e) {
      return err(storeErrorFrom(e, 'GetItem (sequencer)'));
    }
  }

  async setLastId(channel: string, lastId: string | null): Promise<Result<void, StoreError>> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.sequencerKey(channel, SEQUENCER_STATE),
          UpdateExpression: lastId === null ? 'SET #exp = :exp REMOVE #last' : 'SET #exp = :exp, #last = :last',
          ExpressionAttributeNames: { '#exp': T.ttlAttribute, '#last': 'lastId' },
          ExpressionAttributeValues: { ':exp': this.sequencerExpiry(), ...(lastId === null ? {} : { ':last': lastId }) },
        }),
      );
      return ok(undefined);
    } catch (e) {
      return err(storeErrorFrom(e, 'UpdateItem (sequencer last id)'));
    }
  }

  /** Takes a place in the channel's held count (conditional on the cap), then writes the item if its key is free. */
  async hold(
    channel: string,
    prevId: string,
    job: string,
    heldAt: number,
    max: number,
  ): Promise<Result<'held' | 'duplicate' | 'full', StoreError>> {
    const place = await this.countHeld(channel, 1, max);
    if (!place.ok) return place;
    if (!place.value) return ok('full');
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...this.sequencerKey(channel, `held#${prevId}`), job, heldAt, [T.ttlAttribute]: this.sequencerExpiry() },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': T.partitionKey },
        }),
      );
      return ok('held');
    } catch (e) {
      const error = storeErrorFrom(e, 'PutItem (held item)');
      await this.countHeld(channel, -1, max);
      return error.kind === 'conflict' ? ok('duplicate') : err(error);
    }
  }

  async takeHeld(
    channel: string,
    prevId: string,
    heldAt?: number,
  ): Promise<Result<{ readonly job: string; readonly heldAt: number } | null, StoreError>> {
    let old: Record<string, unknown> | undefined;
    try {
      const out = await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: this.sequencerKey(channel, `held#${prevId}`),
          ConditionExpression: heldAt === undefined ? 'attribute_exists(#pk)' : 'attribute_exists(#pk) AND #at = :at',
          ExpressionAttributeNames: { '#pk': T.partitionKey, ...(heldAt === undefined ? {} : { '#at': 'heldAt' }) },
          ...(heldAt === undefined ? {} : { ExpressionAttributeValues: { ':at': heldAt } }),
          ReturnValues: 'ALL_OLD',
        }),
      );
      old = out.Attributes;
    } catch (e) {
      const error = storeErrorFrom(e, 'DeleteItem (held item)');
      return error.kind === 'conflict' ? ok(null) : err(error);
    }
    await this.countHeld(channel, -1, Number.MAX_SAFE_INTEGER);
    const job = old?.['job'];
    const at = old?.['heldAt'];
    return typeof job === 'string' && typeof at === 'number' ? ok({ job, heldAt: at }) : ok(null);
  }

  /** Adds `delta` to the held count; an increase only while the count stays within `max` (`false` when full). */
  private async countHeld(channel: string, delta: number, max: number): Promise<Result<boolean, StoreError>> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.sequencerKey(channel, SEQUENCER_STATE),
          UpdateExpression: 'ADD #held :d SET #exp = :exp',
          ...(delta > 0 ? { ConditionExpression: 'attribute_not_exists(#held) OR #held < :max' } : {}),
          ExpressionAttributeNames: { '#held': 'held', '#exp': T.ttlAttribute },
          ExpressionAttributeValues: { ':d': delta, ':exp': this.sequencerExpiry(), ...(delta > 0 ? { ':max': max } : {}) },
        }),
      );
      return ok(true);
    } catch (e) {
      const error = storeErrorFrom(e, 'UpdateItem (held count)');
      return error.kind === 'conflict' ? ok(false) : err(error);
    }
  }

  private sequencerKey(channel: string, sortKey: string): Record<string, string> {
    return { [T.partitionKey]: `sequencer#${channel}`, [T.sortKey]: sortKey };
  }

  /** A channel's sequencer state outlives any wait (seconds) by far; a day after its last change it is garbage. */
  private sequencerExpiry(): number {
    return Math.ceil(this.clock() / 1000) + 86_400;
  }

  /** One consistent GetItem per channel, a few at a time (a connection has at most its subscription cap). */
  async lastPublished(channels: readonly string[]): Promise<Result<ReadonlyMap<string, number>, StoreError>> {
    const marks = new Map<string, number>();
    const failures: StoreError[] = [];
    await pLimit(this.concurrency).map([...new Set(channels)], async (channel) => {
      try {
        const out = await this.client.send(
          new GetCommand({
            TableName: this.tableName,
            Key: { [T.partitionKey]: `published#${channel}`, [T.sortKey]: CHANNEL_MARK_SORT_KEY },
            ConsistentRead: true,
          }),
        );
        const at = out.Item?.['publishedAt'];
        if (typeof at === 'number') marks.set(channel, at);
      } catch (e) {
        failures.push(storeErrorFrom(e, 'GetItem (channel mark)'));
      }
    });
    const failure = failures[0];
    return failure === undefined ? ok(marks) : err(failure);
  }

  /** One conditional UpdateItem: `liveAfter` set and `resume` removed only while `resume` is still `token`. */
  async finishResume(connectionId: string, channel: string, token: string, liveAfter: string): Promise<Result<boolean, StoreError>> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [T.partitionKey]: connectionId, [T.sortKey]: channel },
          UpdateExpression: 'SET #live = :live REMOVE #resume',
          ConditionExpression: '#resume = :token',
          ExpressionAttributeNames: { '#live': 'liveAfter', '#resume': 'resume' },
          ExpressionAttributeValues: { ':live': liveAfter, ':token': token },
        }),
      );
      return ok(true);
    } catch (e) {
      const error = storeErrorFrom(e, 'UpdateItem (finish resume)');
      return error.kind === 'conflict' ? ok(false) : err(error);
    }
  }

  /** One Query on the channel index for the connection's exact index key (eventually consistent, as pages are). */
  async readSubscriber(channel: string, connectionId: string): Promise<Result<Subscriber | null, StoreError>> {
    let out;
    try {
      out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: T.channelIndex.name,
          KeyConditionExpression: '#ch = :ch AND #sk = :sk',
          ProjectionExpression: INDEX_ENTRY_ATTRIBUTES.map((_, i) => `#a${i}`).join(', '),
          ExpressionAttributeNames: {
            '#ch': T.channelIndex.partitionKey,
            '#sk': T.channelIndex.sortKey,
            ...Object.fromEntries(INDEX_ENTRY_ATTRIBUTES.map((name, i) => [`#a${i}`, name])),
          },
          ExpressionAttributeValues: { ':ch': channel, ':sk': subscriptionIndexKey(connectionId) },
        }),
      );
    } catch (e) {
      return err(storeErrorFrom(e, 'Query (channel index entry)'));
    }
    const item = out.Items?.[0];
    return item === undefined ? ok(null) : subscriberFromIndexEntry(item);
  }

  /** The connection's subscriptions and their filter names: one consistent Query (all pages), in channel order. */
  async listSubscriptionFilters(connectionId: string): Promise<Result<SubscriptionFilterNames[], StoreError>> {
    const items = await this.connectionItems(connectionId, ['filters']);
    if (!items.ok) return items;
    const out: SubscriptionFilterNames[] = [];
    for (const item of items.value) {
      const parsed = filtersOfItemSchema.safeParse(item);
      if (!parsed.success) return err({ kind: 'invalid', message: 'Query returned a subscription item of an unexpected shape' });
      if (parsed.data.channel !== CONNECTION_ITEM_SORT_KEY) out.push({ channel: parsed.data.channel, filters: parsed.data.filters ?? [] });
    }
    return ok(out);
  }

  /**
   * One UpdateItem per channel (at most `concurrency` at once), each conditional on the subscription item still
   * existing, so a subscription deleted meanwhile is not recreated (its failed condition is not an error).
   * SETs `filters` and `filterMeta`, and `filterChannels` (or REMOVEs it when not given). First error wins;
   * retrying is safe.
   */
  async updateSubscriptionFilters(
    connectionId: string,
    filters: ReadonlyMap<string, SubscriberFilters>,
  ): Promise<Result<void, StoreError>> {
    const valid = this.validChannels([...filters.keys()]);
    if (!valid.ok) return valid;
    const limit = pLimit(this.concurrency);
    const results = await Promise.all(
      [...filters].map(([channel, state]) =>
        limit(async (): Promise<Result<void, StoreError>> => {
          const values = filterAttributes(state);
          const names: Record<string, string> = {
            '#sk': T.channelIndex.sortKey,
            '#f': 'filters',
            '#fm': 'filterMeta',
            '#fc': 'filterChannels',
          };
          const update = values['filterChannels'] !== undefined ? 'SET #f = :f, #fm = :fm, #fc = :fc' : 'SET #f = :f, #fm = :fm REMOVE #fc';
          try {
            await this.client.send(
              new UpdateCommand({
                TableName: this.tableName,
                Key: { [T.partitionKey]: connectionId, [T.sortKey]: channel },
                UpdateExpression: update,
                ConditionExpression: 'attribute_exists(#sk)',
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: {
                  ':f': values['filters'],
                  ':fm': values['filterMeta'],
                  ...(values['filterChannels'] !== undefined ? { ':fc': values['filterChannels'] } : {}),
                },
              }),
            );
            return ok(undefined);
          } catch (e) {
            const error = storeErrorFrom(e, 'UpdateItem (subscription filters)');
            return error.kind === 'conflict' ? ok(undefined) : err(error);
          }
        }),
      ),
    );
    return results.find((r) => !r.ok) ?? ok(undefined);
  }

  /** Deletes the subscription items; channels the connection is not in are no-ops. */
  async unsubscribe(connectionId: string, channels: readonly string[]): Promise<Result<void, StoreError>> {
    const valid = this.validChannels(channels);
    if (!valid.ok) return valid;
    return this.batchWrite(
      valid.value.map((channel) => ({ DeleteRequest: { Key: { [T.partitionKey]: connectionId, [T.sortKey]: channel } } })),
    );
  }

  /**
   * Reads up to `limit` subscriber ids of `channel` in buckets `[range.from, range.to)` from the `byChannel`
   * index, in index order, after `cursor`. Items with `expiresAt <= now` are filtered out, so a page can hold
   * fewer than `limit` ids (even none) while the cursor is still non-null; `cursor: null` means the range is
   * exhausted. `lastBucket` is the bucket of the position the cursor holds (possibly an expired, filtered entry). A malformed cursor, or one outside the range, is `invalid`. The index is eventually consistent.
   */
  async pageSubscribers(
    channel: string,
    range: BucketRange,
    cursor: string | null,
    limit: number,
  ): Promise<Result<SubscriberPage, StoreError>> {
    const bounds = indexKeyBounds(range);
    if (!bounds.ok) return bounds;
    if (!Number.isInteger(limit) || limit < 1) return err({ kind: 'invalid', message: `page limit ${limit} must be a positive integer` });
    let start: Record<string, string> | undefined;
    if (cursor !== null) {
      const position = decodeSubscriberCursor(cursor, bounds.value);
      if (!position.ok) return position;
      start = this.indexStartKey(channel, position.value.connectionId, position.value.subKey);
    }
    const nowSeconds = Math.floor(this.clock() / 1000);
    const subscribers: Subscriber[] = [];
    for (let queries = 1; ; queries++) {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        IndexName: T.channelIndex.name,
        KeyConditionExpression: '#ch = :ch AND #sk BETWEEN :lo AND :hi',
        FilterExpression: '#exp > :now',
        ProjectionExpression: INDEX_ENTRY_ATTRIBUTES.map((_, i) => `#a${i}`).join(', '),
        ExpressionAttributeNames: {
          '#ch': T.channelIndex.partitionKey,
          '#sk': T.channelIndex.sortKey,
          '#exp': T.ttlAttribute,
          ...Object.fromEntries(INDEX_ENTRY_ATTRIBUTES.map((name, i) => [`#a${i}`, name])),
        },
        ExpressionAttributeValues: { ':ch': channel, ':lo': bounds.value.lo, ':hi': bounds.value.hi, ':now': nowSeconds },
        Limit: limit - subscribers.length,
        ...(start ? { ExclusiveStartKey: start } : {}),
      };
      let out;
      try {
        out = await this.client.send(new QueryCommand(input));
      } catch (e) {
        return err(storeErrorFrom(e, 'Query (channel index)'));
      }
      for (const item of out.Items ?? []) {
        const subscriber = subscriberFromIndexEntry(item);
        if (!subscriber.ok) return subscriber;
        subscribers.push(subscriber.value);
      }
      if (out.LastEvaluatedKey === undefined) return ok({ subscribers, cursor: null, lastBucket: null });
      const position = indexPositionSchema.safeParse({
        connectionId: out.LastEvaluatedKey[T.partitionKey],
        subKey: out.LastEvaluatedKey[T.channelIndex.sortKey],
      });
      if (!position.success) return err({ kind: 'invalid', message: 'channel index returned an unexpected LastEvaluatedKey' });
      start = this.indexStartKey(channel, position.data.connectionId, position.data.subKey);
      if (subscribers.length >= limit || queries >= MAX_QUERIES_PER_PAGE) {
        return ok({ subscribers, cursor: encodeSubscriberCursor(position.data), lastBucket: bucketOfPosition(position.data) });
      }
    }
  }

  private connectionKey(connectionId: string): Key {
    return { connectionId, channel: CONNECTION_ITEM_SORT_KEY };
  }

  private indexStartKey(channel: string, connectionId: string, subKey: string): Record<string, string> {
    return {
      [T.partitionKey]: connectionId,
      [T.sortKey]: channel,
      [T.channelIndex.partitionKey]: channel,
      [T.channelIndex.sortKey]: subKey,
    };
  }

  private validChannels(channels: readonly string[]): Result<string[], StoreError> {
    const unique = [...new Set(channels)];
    for (const channel of unique) {
      const v = validateChannel(channel);
      if (!v.ok) return err({ kind: 'invalid', message: v.error.message });
    }
    return ok(unique);
  }

  /** Every key of a connection's items (consistent Query on the base table, all pages). */
  private async itemKeys(connectionId: string): Promise<Result<Key[], StoreError>> {
    const items = await this.connectionItems(connectionId, []);
    if (!items.ok) return items;
    const keys: Key[] = [];
    for (const item of items.value) {
      const key = keySchema.safeParse(item);
      if (!key.success) return err({ kind: 'invalid', message: 'Query returned an item without its key' });
      keys.push(key.data);
    }
    return ok(keys);
  }

  /** A connection's items with their keys and `attributes` (consistent Query on the base table, all pages). */
  private async connectionItems(
    connectionId: string,
    attributes: readonly string[],
  ): Promise<Result<Record<string, unknown>[], StoreError>> {
    const items: Record<string, unknown>[] = [];
    const pages = paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :id',
        ProjectionExpression: ['#pk', '#sk', ...attributes.map((_, i) => `#a${i}`)].join(', '),
        ExpressionAttributeNames: {
          '#pk': T.partitionKey,
          '#sk': T.sortKey,
          ...Object.fromEntries(attributes.map((name, i) => [`#a${i}`, name])),
        },
        ExpressionAttributeValues: { ':id': connectionId },
        ConsistentRead: true,
      },
    );
    try {
      for await (const page of pages) items.push(...(page.Items ?? []));
    } catch (e) {
      return err(storeErrorFrom(e, 'Query'));
    }
    return ok(items);
  }

  /** Sends write requests in chunks of 25 (bounded concurrency), re-sending `UnprocessedItems` with backoff. */
  private batchWrite(requests: BatchWriteWriteRequest[]): Promise<Result<void, StoreError>> {
    return batchWriteAll(this.client, this.tableName, requests, {
      concurrency: this.concurrency,
      maxAttempts: this.maxBatchAttempts,
      retryBaseMs: this.retryBaseMs,
      log: this.log,
    });
  }
}

/** The connection item's attribute that holds a chain's claim. */
function claimAttribute(claim: KeepAliveClaim): string {
  return claim.chain === 'poll' ? 'pollClaim' : 'keepAliveClaim';
}
