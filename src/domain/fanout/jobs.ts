import { z } from 'zod';
import { BUCKET_SPACE } from '../channel.js';
import { isSendableCloseCode, MAX_CLOSE_REASON_BYTES } from '../protocol/limits.js';
import { parseJson, utf8ByteLength } from '../protocol/values.js';
import { err, ok, type Result } from '../result.js';

/**
 * What to deliver: a text or binary message, or a close. Binary content travels base64-encoded because queue
 * bodies must be text.
 */
export type Payload =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'binary'; readonly base64: string }
  | { readonly kind: 'close'; readonly code?: number; readonly reason?: string };

const payloadSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('text'), text: z.string() }),
  z.object({ kind: z.literal('binary'), base64: z.string() }),
  z.object({
    kind: z.literal('close'),
    code: z.number().int().refine(isSendableCloseCode, { message: 'not a close code a server may send' }).exactOptional(),
    reason: z
      .string()
      .refine((reason) => utf8ByteLength(reason) <= MAX_CLOSE_REASON_BYTES, {
        message: `more than ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`,
      })
      .exactOptional(),
  }),
]);

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
  readonly partition: { readonly from: number; readonly to: number };
  /** The buckets still to deliver: within `partition`, from where an earlier page stopped. */
  readonly range: { readonly from: number; readonly to: number };
  readonly cursor: string | null;
  /** Identifies the publish across splits and retries (logs, metrics); the GRIP item `id` when one was given. */
  readonly publishId: string;
  /** Epoch ms when the control API accepted the publish: end-to-end latency is measured from here. */
  readonly publishedAt: number;
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
}

export type FanoutJob = ChannelJob | ConnectionsJob | KeepAliveJob;

const channelJobSchema = z.object({
  v: z.literal(1),
  kind: z.literal('channel'),
  channel: z.string().min(1),
  payload: payloadSchema,
  partition: rangeSchema,
  range: rangeSchema,
  cursor: z.string().nullable(),
  publishId: z.string(),
  publishedAt: z.number(),
});

const connectionsJobSchema = z.object({
  v: z.literal(1),
  kind: z.literal('connections'),
  connectionIds: z.array(z.string().min(1)).min(1),
  payloads: z.array(payloadSchema).min(1),
  attempt: z.number().int().min(0),
  graceUntil: z.number().exactOptional(),
  lastError: z.string().exactOptional(),
  publishId: z.string(),
  publishedAt: z.number(),
});

const keepAliveJobSchema = z.object({
  v: z.literal(1),
  kind: z.literal('keepalive'),
  connectionId: z.string().min(1),
  since: z.number(),
  dueAt: z.number(),
});

const jobSchema = z.discriminatedUnion('kind', [
  keepAliveJobSchema,
  channelJobSchema.refine((j) => j.partition.from <= j.range.from && j.range.to <= j.partition.to, {
    message: 'range must lie within partition',
  }),
  connectionsJobSchema,
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
