/**
 * DynamoDB TTL for local mode. dynalite has no TTL, so this deletes the items whose expiry (the table's TTL
 * attribute, epoch seconds) has passed, as DynamoDB's background TTL process would: the `Connections` table's, and
 * with `keys`, another table's (local mode sweeps `History` too, or a long run would keep every item in memory).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import { batchWriteAll } from '../adapters/dynamo-batch-write.js';
import { connectionsTable } from '../config/resources.js';
import type { Log } from '../domain/ports.js';
import { describeError, stderrLog } from './log.js';
import { numberOption } from './options.js';

export interface SweeperOptions {
  readonly ddb: DynamoDBClient | DynamoDBDocumentClient;
  /** Default `connectionsTable.localName`. */
  readonly tableName?: string;
  /** The table's key and TTL attribute names. Default `connectionsTable`'s (the History table has its own). */
  readonly keys?: { readonly partitionKey: string; readonly sortKey: string; readonly ttlAttribute: string };
  /** Pause between the end of one sweep and the start of the next. */
  readonly intervalMs: number;
  /** Epoch milliseconds. Default `Date.now`. */
  readonly now?: () => number;
  /** Items examined per Scan page. Default 1,000. */
  readonly pageSize?: number;
  /** BatchWriteItem calls in flight. Default 4. */
  readonly concurrency?: number;
  readonly log?: Log;
}

export interface SweepResult {
  /** Items the scans examined. */
  readonly scanned: number;
  readonly deleted: number;
}

export interface Sweeper {
  /** One full sweep now (waits for a running one first, so sweeps never overlap). */
  sweepOnce(): Promise<SweepResult>;
  /** Stops the timer and waits for a running sweep. */
  stop(): Promise<void>;
}

const MAX_WRITE_ATTEMPTS = 8;

/**
 * Starts sweeping every `intervalMs` (the first sweep runs after one interval).
 *
 * Contract: deletes every item whose `expiresAt` is a number below now (in seconds), as DynamoDB TTL does;
 * items without a numeric `expiresAt` are never touched. Scans page by page (memory stays bounded), deletes in
 * BatchWriteItem calls of 25 with at most `concurrency` in flight, and retries `UnprocessedItems` with
 * exponential backoff. A failed sweep is logged and the next one runs on schedule; `sweepOnce` rejects with the
 * error instead.
 *
 * There is no condition on the delete (BatchWriteItem cannot carry one): an item whose expiry is extended
 * between the scan and the delete is deleted anyway. Expiries are 2 h 15 min past the connection's start and
 * connections live at most 2 h, so an item that has expired belongs to a connection that is already gone.
 *
 * @example
 * const sweeper = startSweeper({ ddb, intervalMs: 60_000 });
 * await sweeper.stop();
 */
export function startSweeper(options: SweeperOptions): Sweeper {
  const ddb = options.ddb instanceof DynamoDBDocumentClient ? options.ddb : DynamoDBDocumentClient.from(options.ddb);
  const tableName = options.tableName ?? connectionsTable.localName;
  const now = options.now ?? Date.now;
  const pageSize = options.pageSize ?? 1_000;
  const concurrency = options.concurrency ?? 4;
  const log = options.log ?? stderrLog('local-sweeper');
  const { partitionKey, sortKey, ttlAttribute } = options.keys ?? connectionsTable;
  numberOption('intervalMs', options.intervalMs, Number.NaN, { min: 0, aboveMin: true });

  let running: Promise<SweepResult> | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function sweep(): Promise<SweepResult> {
    const nowSeconds = Math.floor(now() / 1000);
    let scanned = 0;
    let deleted = 0;
    const pages = paginateScan(
      { client: ddb, pageSize },
      {
        TableName: tableName,
        FilterExpression: '#ttl < :now',
        ProjectionExpression: '#pk, #sk',
        ExpressionAttributeNames: { '#ttl': ttlAttribute, '#pk': partitionKey, '#sk': sortKey },
        ExpressionAttributeValues: { ':now': nowSeconds },
      },
    );
    for await (const page of pages) {
      scanned += page.ScannedCount ?? 0;
      const keys = (page.Items ?? []).map((item) => ({ [partitionKey]: item[partitionKey], [sortKey]: item[sortKey] }));
      // One page's deletes at a time: the next page is not read until these are written.
      const written = await batchWriteAll(
        ddb,
        tableName,
        keys.map((Key) => ({ DeleteRequest: { Key } })),
        { concurrency, maxAttempts: MAX_WRITE_ATTEMPTS, retryBaseMs: 50, retryMaxMs: 2_000, log },
      );
      if (!written.ok) throw new Error(`deleting expired items failed: ${written.error.message}`);
      deleted += keys.length;
      if (stopped) break;
    }
    if (deleted > 0) log.info('swept expired items', { tableName, deleted, scanned });
    return { scanned, deleted };
  }

  function sweepOnce(): Promise<SweepResult> {
    const next = (running ?? Promise.resolve()).catch(() => undefined).then(sweep);
    const tracked = next.finally(() => {
      if (running === tracked) running = null;
    });
    running = tracked;
    return tracked;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      sweepOnce()
        .catch((e: unknown) => log.error('sweep failed', { tableName, error: describeError(e) }))
        .finally(schedule);
    }, options.intervalMs);
    timer.unref();
  }
  schedule();

  return {
    sweepOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
