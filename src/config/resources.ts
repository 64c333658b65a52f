/**
 * The storage and queue definitions, once: the CDK constructs and local mode's boot both build from these, so
 * key names, the sparse bucketed channel index and the redrive settings cannot drift apart.
 */

/**
 * The projected attributes fan-out reads per subscriber (`Subscriber` in domain/ports.ts): when the connection
 * was accepted, and the publish filters of the subscription with the filter meta (and, for `require-sub`, the
 * channels) they need, and a resume's state (`resume` while catching up, `liveAfter` after). The filter and resume
 * attributes exist only on subscriptions that have them.
 */
const SUBSCRIBER_ATTRIBUTES = ['connectedAt', 'filters', 'filterMeta', 'filterChannels', 'resume', 'liveAfter'] as const;

/**
 * `Connections` table. One item per connection (sort key `$connection`, holding the record) and one item per
 * subscription (sort key = channel). Only subscription items carry the two index attributes, which makes the
 * channel index sparse: connection items never land in it.
 */
export const connectionsTable = {
  /** Name used by local mode; on AWS CloudFormation names the table and passes the name in `TABLE_NAME`. */
  localName: 'Connections',
  partitionKey: 'connectionId',
  sortKey: 'channel',
  /** Epoch seconds; DynamoDB TTL deletes expired items (local mode sweeps them itself). */
  ttlAttribute: 'expiresAt',
  channelIndex: {
    name: 'byChannel',
    /** The channel, set only on subscription items. */
    partitionKey: 'subChannel',
    /** `<bucket hex4>#<connectionId>`: lets workers page disjoint bucket ranges in parallel. */
    sortKey: 'subKey',
    /**
     * Besides the keys, the index carries the expiry (expired subscriptions are filtered out of pages) and what
     * fan-out decides per subscriber. Changing this list replaces the index on AWS (see README, "Upgrading").
     */
    nonKeyAttributes: ['expiresAt', ...SUBSCRIBER_ATTRIBUTES],
    subscriberAttributes: SUBSCRIBER_ATTRIBUTES,
  },
} as const;

/**
 * `History` table: the retained items of each channel (resume and `GET /channels/{channel}/messages`), one item
 * per published item that has an `id`. Partition = channel, sort = the publish's 40-digit sequence, so a replay is
 * one contiguous Query in publish order. The local index `byId` (sort = the item `id`, keys and expiry) finds where a
 * `since` id is for half a read unit; a local index, not a global one, because it is read right after the write
 * and a local index can be read strongly consistent. One write per publish, never per subscriber; a channel's
 * write rate is bounded by its FIFO group (one job at a time), far below a partition's 1,000 writes/s.
 */
export const historyTable = {
  localName: 'History',
  partitionKey: 'channel',
  sortKey: 'seq',
  /** Epoch seconds; DynamoDB TTL deletes expired items (reads filter them out before that). */
  ttlAttribute: 'expiresAt',
  /** Projects the expiry besides the keys: a `since` that has expired must not be found. */
  idIndex: { name: 'byId', sortKey: 'itemId', nonKeyAttributes: ['retainUntil'] },
} as const;

/**
 * The ordered lane of client messages (`clientMessages: ordered`): a FIFO queue whose message group is the
 * connection, consumed by `ws-message`, with a FIFO dead-letter queue. Visibility follows `ws-message`'s timeout.
 */
export const clientMessageQueues = {
  lane: { localName: 'client-messages.fifo', fifo: true },
  deadLetter: { localName: 'client-messages-dlq.fifo', fifo: true },
} as const;

/**
 * The fan-out queues. Ordered jobs (publishes, sends to one connection, OPEN-reply messages) go through a FIFO
 * queue whose message group is the channel or connection, which keeps per-connection order. Delayed jobs
 * (retries with backoff) go through a standard queue, because FIFO queues cannot delay single messages.
 * Each has its own dead-letter queue (SQS requires a DLQ of the same type).
 */
export const fanoutQueues = {
  ordered: { localName: 'fanout.fifo', fifo: true },
  orderedDeadLetter: { localName: 'fanout-dlq.fifo', fifo: true },
  delayed: { localName: 'fanout-delayed', fifo: false },
  delayedDeadLetter: { localName: 'fanout-delayed-dlq', fifo: false },
  /** Source retention; dead-letter queues keep messages longer because SQS keeps the original enqueue time. */
  retentionDays: 4,
  deadLetterRetentionDays: 14,
  /** Queue visibility timeout = this × the worker timeout (AWS's guidance for SQS event sources). */
  visibilityTimeoutFactor: 6,
} as const;
