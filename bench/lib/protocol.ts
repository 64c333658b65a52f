/**
 * The request/response protocol between the bench process and a host process (`bench/host.ts`). Both sides
 * parse what they receive with these schemas: IPC messages are I/O like any other.
 */
import { z } from 'zod';

const rateLimit = z.object({ perSecond: z.number().min(0), burst: z.number().min(1) });
const tuning = z.object({ latencyMs: z.number().min(0).optional(), rateLimit: rateLimit.nullable().optional() });
const family = z.object({ prefix: z.string().min(1), count: z.number().int().min(0) });
const cpu = z.object({ user: z.number(), system: z.number() });

const sinkStatsSchema = z.object({
  posts: z.number(),
  delivered: z.number(),
  unique: z.number(),
  duplicates: z.number(),
  missing: z.number(),
  unknown: z.number(),
  firstAt: z.number().nullable(),
  lastAt: z.number().nullable(),
  completeAt: z.number().nullable(),
});

/** Every operation: the schema of its arguments and of its result. */
export const ops = {
  /** dynalite + fauxqs. */
  'services.start': { args: z.null(), result: z.object({ dynamoEndpoint: z.string(), sqsEndpoint: z.string() }) },
  /** The local Management API over a counting sink. */
  'mgmt.start': { args: z.object({ tuning }), result: z.object({ managementApiEndpoint: z.string() }) },
  'mgmt.tune': { args: tuning, result: z.null() },
  'mgmt.stats': { args: z.null(), result: z.object({ requests: z.number(), byStatus: z.record(z.string(), z.number()) }) },
  'sink.configure': { args: family, result: z.null() },
  'sink.reset': { args: z.null(), result: z.null() },
  'sink.stats': { args: z.null(), result: sinkStatsSchema },
  /** The whole local mode (`startLocal`) with a given backend. */
  'local.start': {
    args: z.object({ targetUrl: z.string(), gripKey: z.string(), delivery: z.enum(['direct', 'management-api']) }),
    result: z.object({ wsUrl: z.string(), controlUrl: z.string() }),
  },
  /** The local mode process's RSS and the p99 of its event-loop delay since the previous sample. */
  'local.sample': {
    args: z.null(),
    result: z.object({ rssBytes: z.number(), eventLoopP99Ms: z.number(), liveHeapBytes: z.number().optional() }),
  },
  /** One fan-out worker (its own clients, limiter and pollers) on the given queues. */
  'worker.start': {
    args: z.object({
      endpoints: z.object({ dynamoEndpoint: z.string(), sqsEndpoint: z.string(), managementApiEndpoint: z.string() }),
      queues: z.object({
        orderedQueueUrl: z.string(),
        orderedDeadLetterQueueUrl: z.string(),
        delayedQueueUrl: z.string(),
        delayedDeadLetterQueueUrl: z.string(),
      }),
      concurrency: z.number().int().min(1),
      gateway: z.enum(['signed', 'sdk-client']),
      maxSockets: z.number().int().min(1),
      pollerConcurrency: z.number().int().min(1),
    }),
    result: z.null(),
  },
  'worker.stats': {
    args: z.null(),
    result: z.object({
      inFlight: z.number(),
      counters: z.record(z.string(), z.number()),
      warnings: z.number(),
      errors: z.number(),
      /** Cumulative event-loop idle and active time (ms), from `performance.eventLoopUtilization()`. */
      loop: z.object({ idle: z.number(), active: z.number() }),
    }),
  },
  cpu: { args: z.null(), result: cpu },
  stop: { args: z.null(), result: z.null() },
} as const;

export type OpName = keyof typeof ops;
export type OpArgs<K extends OpName> = z.input<(typeof ops)[K]['args']>;
export type OpResult<K extends OpName> = z.output<(typeof ops)[K]['result']>;

export const requestSchema = z.object({ id: z.number().int(), op: z.string(), args: z.unknown() });
export const responseSchema = z.discriminatedUnion('ok', [
  z.object({ id: z.number().int(), ok: z.literal(true), value: z.unknown() }),
  z.object({ id: z.number().int(), ok: z.literal(false), error: z.string() }),
]);

export function isOpName(name: string): name is OpName {
  return Object.hasOwn(ops, name);
}
