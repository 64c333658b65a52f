/**
 * How connections and subscriptions are stored as items of the `Connections` table (see `config/resources.ts`):
 * the mapping between domain values and items, in one place, for the store, local-mode sweeping, seeding in
 * benchmarks and tests. A new attribute (e.g. a subscription's filters) is added here, to the value, the item
 * and the schema together.
 */
import { z } from 'zod';
import { connectionsTable } from '../config/resources.js';
import { CONNECTION_ITEM_SORT_KEY, subscriptionIndexKey } from '../domain/channel.js';
import type { ConnectionRecord } from '../domain/connection.js';
import type { SubscriberFilters } from '../domain/filters.js';
import { messageSchema } from '../domain/message.js';
import type { StoreError, Subscriber } from '../domain/ports.js';
import { err, ok, type Result } from '../domain/result.js';

const T = connectionsTable;

/** One connection's subscription to one channel, as stored. */
export interface Subscription {
  readonly connectionId: string;
  readonly channel: string;
  /** Epoch seconds (DynamoDB TTL); the subscription's connection expires then too. */
  readonly expiresAt: number;
  /** Epoch ms when the connection was accepted (projected into the channel index). */
  readonly connectedAt: number;
  /** The subscription's publish filters with their meta (projected into the channel index); absent: none. */
  readonly filters?: SubscriberFilters | undefined;
  /** Set while the subscription catches up on history: the resume's token (projected; see `Subscriber.resume`). */
  readonly resume?: string | undefined;
}

/**
 * The subscription item: sort key = channel, and the only kind of item carrying the channel index's keys
 * (`subChannel` = channel, `subKey` = `<bucket>#<connectionId>`), so only subscriptions enter the sparse index.
 */
export function subscriptionItem(subscription: Subscription): Record<string, unknown> {
  return {
    [T.partitionKey]: subscription.connectionId,
    [T.sortKey]: subscription.channel,
    [T.channelIndex.partitionKey]: subscription.channel,
    [T.channelIndex.sortKey]: subscriptionIndexKey(subscription.connectionId),
    [T.ttlAttribute]: subscription.expiresAt,
    connectedAt: subscription.connectedAt,
    ...(subscription.filters !== undefined && subscription.filters.names.length > 0 ? filterAttributes(subscription.filters) : {}),
    ...(subscription.resume !== undefined ? { resume: subscription.resume } : {}),
  };
}

/**
 * The filter attributes of a subscription item (`filters`, `filterMeta`, and `filterChannels` for
 * `require-sub`). Only items with filters carry them, so index entries of plain subscriptions stay small.
 */
export function filterAttributes(filters: SubscriberFilters): Record<string, unknown> {
  return {
    filters: [...filters.names],
    filterMeta: { ...filters.meta },
    ...(filters.channels !== undefined ? { filterChannels: [...filters.channels] } : {}),
  };
}

/** A channel-index entry as a query returns it (the keys plus the projected attributes). */
const indexEntrySchema = z.object({
  [T.partitionKey]: z.string().min(1),
  connectedAt: z.number().optional(),
  filters: z.array(z.string()).optional(),
  filterMeta: z.record(z.string(), z.string()).optional(),
  filterChannels: z.array(z.string()).optional(),
  resume: z.string().optional(),
  liveAfter: z.string().optional(),
});

/** Reads one channel-index entry into a `Subscriber`; an entry of another shape is `invalid`. */
export function subscriberFromIndexEntry(item: unknown): Result<Subscriber, StoreError> {
  const parsed = indexEntrySchema.safeParse(item);
  if (!parsed.success) {
    return err({ kind: 'invalid', message: `channel index entry has an unexpected shape: ${z.prettifyError(parsed.error)}` });
  }
  const entry = parsed.data;
  const names = entry.filters ?? [];
  return ok({
    connectionId: entry[T.partitionKey],
    ...(entry.connectedAt !== undefined ? { connectedAt: entry.connectedAt } : {}),
    ...(entry.resume !== undefined ? { resume: entry.resume } : {}),
    ...(entry.liveAfter !== undefined ? { liveAfter: entry.liveAfter } : {}),
    ...(names.length > 0
      ? {
          filters: {
            names,
            meta: entry.filterMeta ?? {},
            ...(entry.filterChannels !== undefined ? { channels: entry.filterChannels } : {}),
          },
        }
      : {}),
  });
}

/** The attributes a channel-index query reads: the connection id and every projected subscriber attribute. */
export const INDEX_ENTRY_ATTRIBUTES: readonly string[] = [T.partitionKey, ...T.channelIndex.subscriberAttributes];

const keepAliveSchema = z.object({
  payload: messageSchema,
  timeoutSeconds: z.number(),
  mode: z.enum(['idle', 'interval']),
  since: z.number(),
});

const gripSchema = z.discriminatedUnion('enabled', [
  z.object({ enabled: z.literal(false) }),
  z.object({ enabled: z.literal(true), messagePrefix: z.string() }),
]);

/**
 * The connection item as stored. Handshake headers are a list of `[name, value]` pairs because DynamoDB maps do
 * not keep their order and the backend should see the headers in the order the client sent them.
 */
const connectionItemSchema = z.object({
  connectionId: z.string().min(1),
  channel: z.literal(CONNECTION_ITEM_SORT_KEY),
  handshake: z.object({
    path: z.string(),
    query: z.string(),
    headers: z.array(z.tuple([z.string(), z.string()])),
  }),
  subprotocol: z.string().nullable(),
  grip: gripSchema,
  meta: z.record(z.string(), z.string()),
  filterMeta: z.record(z.string(), z.string()).optional(),
  connectedAt: z.number(),
  expiresAt: z.number(),
  keepAlive: keepAliveSchema.nullable().optional(),
  lastActivityAt: z.number().optional(),
  subscriptionCount: z.number().optional(),
  detached: z.boolean().optional(),
  backendPoll: z.object({ intervalSeconds: z.number(), since: z.number() }).nullable().optional(),
  lastExchangeAt: z.number().optional(),
});

/** The connection item of a record (sort key `$connection`). */
export function connectionItem(record: ConnectionRecord): Record<string, unknown> {
  return {
    [T.partitionKey]: record.connectionId,
    [T.sortKey]: CONNECTION_ITEM_SORT_KEY,
    handshake: {
      path: record.handshake.path,
      query: record.handshake.query,
      headers: Object.entries(record.handshake.headers),
    },
    subprotocol: record.subprotocol,
    grip: record.grip.enabled ? { enabled: true, messagePrefix: record.grip.messagePrefix } : { enabled: false },
    meta: { ...record.meta },
    ...(record.filterMeta !== undefined ? { filterMeta: { ...record.filterMeta } } : {}),
    connectedAt: record.connectedAt,
    [T.ttlAttribute]: record.expiresAt,
    ...(record.keepAlive !== undefined ? { keepAlive: record.keepAlive } : {}),
    ...(record.lastActivityAt !== undefined ? { lastActivityAt: record.lastActivityAt } : {}),
    ...(record.subscriptionCount !== undefined ? { subscriptionCount: record.subscriptionCount } : {}),
    ...(record.detached === true ? { detached: true } : {}),
    ...(record.backendPoll !== undefined ? { backendPoll: record.backendPoll } : {}),
    ...(record.lastExchangeAt !== undefined ? { lastExchangeAt: record.lastExchangeAt } : {}),
  };
}

/** Reads a connection item back into a record; an item of another shape is `invalid`. */
export function connectionRecordFromItem(item: unknown): Result<ConnectionRecord, StoreError> {
  const parsed = connectionItemSchema.safeParse(item);
  if (!parsed.success) {
    return err({ kind: 'invalid', message: `stored connection item has an unexpected shape: ${z.prettifyError(parsed.error)}` });
  }
  const i = parsed.data;
  return ok({
    connectionId: i.connectionId,
    handshake: { path: i.handshake.path, query: i.handshake.query, headers: Object.fromEntries(i.handshake.headers) },
    subprotocol: i.subprotocol,
    grip: i.grip,
    meta: i.meta,
    ...(i.filterMeta !== undefined ? { filterMeta: i.filterMeta } : {}),
    connectedAt: i.connectedAt,
    expiresAt: i.expiresAt,
    ...(i.keepAlive !== undefined ? { keepAlive: i.keepAlive } : {}),
    ...(i.lastActivityAt !== undefined ? { lastActivityAt: i.lastActivityAt } : {}),
    ...(i.subscriptionCount !== undefined ? { subscriptionCount: i.subscriptionCount } : {}),
    ...(i.detached === true ? { detached: true } : {}),
    ...(i.backendPoll !== undefined ? { backendPoll: i.backendPoll } : {}),
    ...(i.lastExchangeAt !== undefined ? { lastExchangeAt: i.lastExchangeAt } : {}),
  });
}
