/**
 * A fan-out worker in its own process, polling the ordered queue, so the fault-injection test can kill it for
 * real (SIGKILL) in the middle of a channel job: nothing it had in flight finishes, nothing is deleted, and no
 * code of it keeps running. It kills itself after `killAfterDeliveries` successful deliveries, which puts the
 * kill inside a job at a reproducible point.
 *
 * Run as `node --import tsx worker-process.ts` with the configuration as JSON in `FANOUT_WORKER_CONFIG`.
 * Prints `ready` once polling.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { InMemoryMetrics } from '#src/adapters/observability.js';
import type { Log, MetricName } from '#src/domain/ports.js';
import { startQueuePoller } from '#src/local/poller.js';
import { localClientConfig } from '#src/local/services.js';
import { wireWorker } from './support.js';

const configSchema = z.object({
  dynamoEndpoint: z.string(),
  sqsEndpoint: z.string(),
  queues: z.object({
    orderedQueueUrl: z.string(),
    orderedDeadLetterQueueUrl: z.string(),
    delayedQueueUrl: z.string(),
    delayedDeadLetterQueueUrl: z.string(),
  }),
  managementApiEndpoint: z.string(),
  managementApiCredentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }),
  fanout: z.object({
    concurrency: z.number(),
    pageSize: z.number(),
    buckets: z.number(),
    maxAttempts: z.number(),
    inJobAttempts: z.number(),
    retryBaseMs: z.number(),
    retryMaxMs: z.number(),
    reserveMs: z.number(),
    joinGraceMs: z.number(),
    idCacheTtlMs: z.number(),
    history: z.object({ ttlMs: z.number(), maxItems: z.number() }),
    messageWaitMs: z.number(),
  }),
  killAfterDeliveries: z.number().int().min(1),
  functionTimeoutMs: z.number().int().min(1),
});

export type WorkerProcessConfig = z.infer<typeof configSchema>;

const config = configSchema.parse(JSON.parse(process.env['FANOUT_WORKER_CONFIG'] ?? '{}'));

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** Counts as usual, and dies the moment the configured delivery succeeded. */
class DyingMetrics extends InMemoryMetrics {
  override count(name: MetricName, value = 1): void {
    super.count(name, value);
    if (name === 'Deliveries' && this.counter('Deliveries') >= config.killAfterDeliveries) process.kill(process.pid, 'SIGKILL');
  }
}

const worker = wireWorker({
  dynamoEndpoint: config.dynamoEndpoint,
  sqsEndpoint: config.sqsEndpoint,
  queues: config.queues,
  sender: { managementApiEndpoint: config.managementApiEndpoint, credentials: config.managementApiCredentials },
  config: config.fanout,
  log: silent,
  metrics: new DyingMetrics(),
});

const sqs = new SQSClient(localClientConfig(config.sqsEndpoint));
await startQueuePoller({
  sqs,
  queueUrl: config.queues.orderedQueueUrl,
  handler: worker.handler,
  waitTimeSeconds: 1,
  maxConcurrency: 4,
  functionTimeoutMs: config.functionTimeoutMs,
  log: silent,
});
process.stdout.write('ready\n');
