import { BatchWriteCommand, type BatchWriteWriteRequest, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import type { Log, StoreError } from '../domain/ports.js';
import { err, ok, type Result } from '../domain/result.js';
import { storeErrorFrom } from './aws-errors.js';
import { backoff } from './backoff.js';

/** BatchWriteItem's limit on requests per call. */
export const BATCH_WRITE_MAX = 25;

export interface BatchWriteOptions {
  /** BatchWriteItem calls in flight. Default 8. */
  readonly concurrency?: number;
  /** Calls per chunk of 25, the first included, before what is still unprocessed counts as throttled. Default 8. */
  readonly maxAttempts?: number;
  /** Base of the full-jitter backoff between re-sends of unprocessed items. Default 25 ms. */
  readonly retryBaseMs?: number;
  /** Cap of that backoff. Default 1,000 ms. */
  readonly retryMaxMs?: number;
  readonly log?: Log | undefined;
}

/**
 * Writes `requests` with BatchWriteItem: 25 per call, `concurrency` calls at a time, re-sending what DynamoDB
 * leaves in `UnprocessedItems` with jittered backoff.
 *
 * Contract: ok once every request is written; requests are not ordered. On failure (the first SDK error, or items
 * still unprocessed after `maxAttempts` calls, as `throttled`) other chunks may have been written: puts and deletes
 * of whole items are idempotent, so the caller may retry the whole call.
 *
 * @example
 * const written = await batchWriteAll(documents, 'Connections', keys.map((Key) => ({ DeleteRequest: { Key } })));
 * if (!written.ok) log.warn('delete failed', { detail: written.error.message });
 */
export async function batchWriteAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly BatchWriteWriteRequest[],
  options: BatchWriteOptions = {},
): Promise<Result<void, StoreError>> {
  const chunks: BatchWriteWriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += BATCH_WRITE_MAX) chunks.push(requests.slice(i, i + BATCH_WRITE_MAX));
  const results = await pLimit(options.concurrency ?? 8).map(chunks, (chunk) => writeChunk(client, tableName, chunk, options));
  return results.find((r) => !r.ok) ?? ok(undefined);
}

async function writeChunk(
  client: DynamoDBDocumentClient,
  tableName: string,
  chunk: BatchWriteWriteRequest[],
  options: BatchWriteOptions,
): Promise<Result<void, StoreError>> {
  const maxAttempts = options.maxAttempts ?? 8;
  let pending = chunk;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    if (attempt > 0) await backoff(attempt - 1, options.retryBaseMs ?? 25, options.retryMaxMs ?? 1000);
    let out;
    try {
      out = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
    } catch (e) {
      return err(storeErrorFrom(e, 'BatchWriteItem'));
    }
    const unprocessed = out.UnprocessedItems?.[tableName] ?? [];
    if (unprocessed.length === 0) return ok(undefined);
    options.log?.debug('BatchWriteItem left items unprocessed; retrying', { unprocessed: unprocessed.length, attempt });
    pending = unprocessed;
  }
  return err({
    kind: 'throttled',
    message: `DynamoDB BatchWriteItem left ${pending.length} items unprocessed after ${maxAttempts} attempts`,
  });
}
