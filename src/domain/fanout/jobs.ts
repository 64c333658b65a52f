/**
 * Fan-out jobs: the queue messages that deliver payloads. Every producer — the control API, `$connect`, the
 * worker splitting, continuing and retrying, keep-alive scheduling — builds its jobs and queue entries with the
 * constructors below, so a job's shape, its ordering group and its defaults are written down once.
 *
 * Adding a kind: declare its interface, add it to `FanoutJob`, give it a schema in
 * `jobSchemas` and a constructor here, and a step in the worker (`worker.ts` requires one for every kind).
 */
import { z } from 'zod';
import { BUCKET_SPACE } from '../channel.js';
import { payloadSchema, type Payload } from '../message.js';
import type { BucketRange, QueueEntry } from '../ports.js';
import { parseJson } from '../protocol/values.js';
import { err, ok, type Result } from '../result.js';
import { channelOrderKey, connectionOrderKey, WHOLE_SPACE, type RangeJobSpec } from './ranges.js';

/**
 * Deliver one payload to every subscriber of `channel` whose index bucket is in `range`, starting after
 * `cursor`. Created by the control API (whole range, no cursor) and by workers that split or continue a job.
 */
export interface ChannelJob {
  readonly v: 1;
  readonly kind: 'channel';
  readonly channel: string;
  readonly payload: Payload;
  /** The aligned partition this job belongs to (its ordering group); the whole space for a fresh publish. */
  readonly partition: BucketRange;
  /** The buckets still to deliver: within `partition`, from where an earlier page stopped. */
  readonly range: BucketRange;
  readonly cursor: string | null;
  /** Identifies the publish across splits and retries (logs, metrics); the GRIP item `id` when one was given. */
  readonly publishId: string;
  /** Epoch ms when the control API accepted the publish: end-to-end latency is measured from here. */
  readonly publishedAt: number;
  /** The item's `meta`, for subscribers' publish filters; absent when the item had none. */
  readonly meta?: Readonly<Record<string, string>>;
  /** The item's `content-filters` (the subscriber's content filters must equal them); absent when not given. */
  readonly contentFilters?: readonly string[];
  /** The GRIP item `id`, when the publisher gave one: the channel's id cache drops a repeat (Pushpin's). */
  readonly itemId?: string;
  /**
   * The publish's sequence in its channel (see `domain/history.ts`): absent on a fresh publish (its queue record
   * has it), set on its pieces and continuations, which travel in other groups or later in this one.
   */
  readonly sequence?: string;
  /** The item's `prev-id`: held until the channel's last delivered id is this one (or `messageWaitMs` passed). */
  readonly prevId?: string;
  /** `no-seq: true`: delivered without sequencing. */
  readonly unsequenced?: true;
  /** An item the sequencer held and now releases: neither sequenced nor checked against the id cache again. */
  readonly released?: true;
}

/**
 * The end of a held item's wait (`messageWaitMs`, Pushpin's `message_wait`): if its predecessor has not released it
 * by then, it is delivered anyway. Travels on the delayed lane; `heldAt` names the holding it ends.
 */
export interface ReleaseJob {
  readonly v: 1;
  readonly kind: 'release';
  readonly channel: string;
  readonly prevId: string;
  readonly heldAt: number;
}

/** What a publish item brings to subscribers' filters (see `domain/filters.ts`). */
export interface ItemFilterFields {
  readonly meta: Readonly<Record<string, string>>;
  readonly contentFilters: readonly string[] | null;
}

/**
 * Deliver payloads, in order, to explicit connections: the send/close-one-connection extension, the messages
 * of an OPEN reply (which can only be posted once the handshake is complete), and retries of deliveries that
 * failed inside a channel job.
 */
export interface ConnectionsJob {
  readonly v: 1;
  readonly kind: 'connections';
  readonly connectionIds: readonly string[];
  readonly payloads: readonly Payload[];
  /** 0 for a first try; retries count up and stop at the configured maximum (then the job is dead-lettered). */
  readonly attempt: number;
  /** Until this epoch-ms instant a 410 means "not connected yet" (handshake still completing), not "gone". */
  readonly graceUntil?: number;
  /** Why the previous attempt failed, carried into the dead-letter queue. */
  readonly lastError?: string;
  readonly publishId: string;
  readonly publishedAt: number;
}

/**
 * A scheduled heartbeat for one connection (GRIP `keep-alive`). It travels through the delayed lane; when it
 * fires it sends the heartbeat if one is due and schedules the next, or ends the chain when the connection is
 * gone or its keep-alive changed (`since` no longer matches). Costs one queue message per connection per
 * period: O(connections with keep-alives), never a table scan.
 */
export interface KeepAliveJob {
  readonly v: 1;
  readonly kind: 'keepalive';
  readonly connectionId: string;
  /** The `since` of the keep-alive setting that scheduled this chain. */
  readonly since: number;
  /** Epoch ms when the heartbeat is next due (the queue's delay is capped at 15 minutes). */
  readonly dueAt: number;
  /**
   * The job's place in its chain (0 for the first): a job runs only if it can claim its generation on the
   * connection item, so a duplicate delivery of a job ends quietly instead of forking a second chain.
   */
  readonly generation?: number;
}

/**
 * A resume's catch-up (`since` on a subscribe): replay the channel's retained items after `since` to one
 * connection, then make its subscription live. It travels in the channel's own ordering group, behind every
 * publish made before the subscribe and ahead of every later one, which is what makes the seam exact.
 */
export interface CatchUpJob {
  readonly v: 1;
  readonly kind: 'catchup';
  readonly channel: string;
  readonly connectionId: string;
  /** The last item id the client saw. */
  readonly since: string;
  /** The text sent instead of a replay when `since` cannot be honoured; absent: continue live silently. */
  readonly recoveryFailed?: string;
  /** The subscription's resume token (`Subscriber.resume`): a newer subscribe replaces it and ends this job. */
  readonly token: string;
  /** Epoch ms when the connection was accepted: a 410 within the join grace means "not connected yet". */
  readonly connectedAt: number;
  /** Epoch ms when the subscribe was handled: time to caught-up is measured from here. */
  readonly requestedAt: number;
}

/**
 * A scheduled backend poll for one connection (`Keep-Alive-Interval`). Like a heartbeat it travels through the
 * delayed lane in a chain named by the setting's `since`; when a poll is due it queues an empty request on the
 * connection's ordered lane (so it never overlaps the connection's other requests) and schedules the next.
 */
export interface BackendPollJob {
  readonly v: 1;
  readonly kind: 'poll';
  readonly connectionId: string;
  readonly since: number;
  readonly dueAt: number;
  readonly generation?: number;
}

export type FanoutJob = ChannelJob | ConnectionsJob | KeepAliveJob | CatchUpJob | ReleaseJob | BackendPollJob;
export type JobKind = FanoutJob['kind'];

/** Which publish a job belongs to, and when it was accepted: carried unchanged through splits and retries. */
export interface PublishOrigin {
  readonly publishId: string;
  readonly publishedAt: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Constructors

/**
 * A fresh publish to a channel: the whole bucket space, from the start, in the channel's own ordering group.
 * The item's filter fields travel only when they say something (non-empty meta, given content-filters).
 */
export function channelPublishEntry(
  channel: string,
  payload: Payload,
  origin: PublishOrigin,
  filter?: ItemFilterFields,
  itemId?: string | null,
  sequencing?: { readonly prevId: string | null; readonly noSeq?: true | undefined },
): QueueEntry {
  return channelJobEntry({
    v: 1,
    kind: 'channel',
    channel,
    payload,
    partition: WHOLE_SPACE,
    range: WHOLE_SPACE,
    cursor: null,
    publishId: origin.publishId,
    publishedAt: origin.publishedAt,
    ...(filter !== undefined && Object.keys(filter.meta).length > 0 ? { meta: { ...filter.meta } } : {}),
    ...(filter !== undefined && filter.contentFilters !== null ? { contentFilters: [...filter.contentFilters] } : {}),
    ...(itemId !== undefined && itemId !== null ? { itemId } : {}),
    ...(sequencing?.prevId !== undefined && sequencing.prevId !== null ? { prevId: sequencing.prevId } : {}),
    ...(sequencing?.noSeq === true ? { unsequenced: true as const } : {}),
  });
}

/** A held item the sequencer releases: a fresh publish again, in its channel's group, not sequenced a second time. */
export function releasedEntry(job: ChannelJob, dedupId: string): QueueEntry {
  return channelJobEntry({ ...job, released: true }, dedupId);
}

/** The delayed job that ends a held item's wait after `delaySeconds` (1–900). */
export function releaseEntry(channel: string, prevId: string, heldAt: number, delaySeconds: number): QueueEntry {
  return { job: { v: 1, kind: 'release', channel, prevId, heldAt }, delaySeconds };
}

/** A piece of a channel job after a split (see `splitRemainder`): same publish, a smaller partition. */
export function channelJobPiece(job: ChannelJob, piece: RangeJobSpec): ChannelJob {
  return { ...job, partition: piece.partition, range: piece.range, cursor: piece.cursor };
}

/** The rest of a channel job, after the page that ended at `cursor`: same partition, same ordering group. */
export function channelJobContinuation(job: ChannelJob, cursor: string): ChannelJob {
  return { ...job, cursor };
}

/** The queue entry of a channel job: ordered within its partition's group; `dedupId` when a worker re-enqueues. */
export function channelJobEntry(job: ChannelJob, dedupId?: string): QueueEntry {
  const orderKey = channelOrderKey(job.channel, job.partition);
  return dedupId === undefined ? { job, orderKey } : { job, orderKey, dedupId };
}

/**
 * Payloads for one connection, in order, in the connection's own ordering group: a publish item addressed to a
 * connection, or an OPEN reply's messages (with `graceUntil`, since the handshake may still be completing).
 */
export function connectionDeliveryEntry(
  connectionId: string,
  payloads: readonly Payload[],
  origin: PublishOrigin,
  options: { readonly graceUntil?: number } = {},
): QueueEntry {
  return {
    orderKey: connectionOrderKey(connectionId),
    job: connectionsJob({ connectionIds: [connectionId], payloads, attempt: 0, ...origin, ...options }),
  };
}

/** A connections job; `attempt` counts retries (0 for a first try). */
export function connectionsJob(fields: Omit<ConnectionsJob, 'v' | 'kind'>): ConnectionsJob {
  return { v: 1, kind: 'connections', ...fields };
}

/** The heartbeat job of a connection's keep-alive chain (`since`), due at `dueAt`. */
export function keepAliveJob(connectionId: string, since: number, dueAt: number, generation = 0): KeepAliveJob {
  return { v: 1, kind: 'keepalive', connectionId, since, dueAt, ...(generation > 0 ? { generation } : {}) };
}

/** The poll job of a connection's backend-poll chain (`since`), due at `dueAt`. */
export function backendPollJob(connectionId: string, since: number, dueAt: number, generation = 0): BackendPollJob {
  return { v: 1, kind: 'poll', connectionId, since, dueAt, ...(generation > 0 ? { generation } : {}) };
}

/** A resume's catch-up job, in the channel's own ordering group (the group of its fresh publishes). */
export function catchUpEntry(fields: Omit<CatchUpJob, 'v' | 'kind'>): QueueEntry {
  return { orderKey: channelOrderKey(fields.channel, WHOLE_SPACE), job: { v: 1, kind: 'catchup', ...fields } };
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

const rangeSchema = z
  .object({
    from: z
      .number()
      .int()
      .min(0)
      .max(BUCKET_SPACE - 1),
    to: z.number().int().min(1).max(BUCKET_SPACE),
  })
  .refine((r) => r.from < r.to, { message: 'range.from must be below range.to' });

/** A job of a connection's chain of scheduled jobs (heartbeats, backend polls). */
function chainJobSchema<K extends 'keepalive' | 'poll'>(kind: K) {
  return z.object({
    v: z.literal(1),
    kind: z.literal(kind),
    connectionId: z.string().min(1),
    since: z.number(),
    dueAt: z.number(),
    generation: z.number().int().min(1).exactOptional(),
  });
}

/** One schema per kind; the discriminated union below is built from them. */
const jobSchemas = {
  channel: z
    .object({
      v: z.literal(1),
      kind: z.literal('channel'),
      channel: z.string().min(1),
      payload: payloadSchema,
      partition: rangeSchema,
      range: rangeSchema,
      cursor: z.string().nullable(),
      publishId: z.string(),
      publishedAt: z.number(),
      meta: z.record(z.string(), z.string()).exactOptional(),
      contentFilters: z.array(z.string()).exactOptional(),
      itemId: z.string().exactOptional(),
      sequence: z
        .string()
        .regex(/^[0-9]{1,40}$/)
        .exactOptional(),
      prevId: z.string().exactOptional(),
      unsequenced: z.literal(true).exactOptional(),
      released: z.literal(true).exactOptional(),
    })
    .refine((j) => j.partition.from <= j.range.from && j.range.to <= j.partition.to, {
      message: 'range must lie within partition',
    }),
  connections: z.object({
    v: z.literal(1),
    kind: z.literal('connections'),
    connectionIds: z.array(z.string().min(1)).min(1),
    payloads: z.array(payloadSchema).min(1),
    attempt: z.number().int().min(0),
    graceUntil: z.number().exactOptional(),
    lastError: z.string().exactOptional(),
    publishId: z.string(),
    publishedAt: z.number(),
  }),
  keepalive: chainJobSchema('keepalive'),
  poll: chainJobSchema('poll'),
  catchup: z.object({
    v: z.literal(1),
    kind: z.literal('catchup'),
    channel: z.string().min(1),
    connectionId: z.string().min(1),
    since: z.string().min(1),
    recoveryFailed: z.string().exactOptional(),
    token: z.string().min(1),
    connectedAt: z.number(),
    requestedAt: z.number(),
  }),
  release: z.object({
    v: z.literal(1),
    kind: z.literal('release'),
    channel: z.string().min(1),
    prevId: z.string(),
    heldAt: z.number(),
  }),
} satisfies Record<JobKind, z.ZodType>;

const jobSchema = z.discriminatedUnion('kind', [
  jobSchemas.keepalive,
  jobSchemas.poll,
  jobSchemas.channel,
  jobSchemas.connections,
  jobSchemas.catchup,
  jobSchemas.release,
]);

export interface JobParseError {
  readonly kind: 'invalid-job';
  readonly message: string;
}

/** Parses a queue message body into a job. Never throws: bad JSON or a bad shape is an `invalid-job` error. */
export function parseJob(body: string): Result<FanoutJob, JobParseError> {
  const json = parseJson(body);
  if (!json.ok) return err({ kind: 'invalid-job', message: `job body is not JSON: ${json.error}` });
  const parsed = jobSchema.safeParse(json.value);
  if (!parsed.success) {
    return err({ kind: 'invalid-job', message: `job body is not a job: ${z.prettifyError(parsed.error)}` });
  }
  return ok(parsed.data);
}

export function serializeJob(job: FanoutJob): string {
  return JSON.stringify(job);
}
