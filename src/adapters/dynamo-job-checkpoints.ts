import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { connectionsTable } from '../config/resources.js';
import type { JobCheckpoints, JobProgress, StoreError } from '../domain/ports.js';
import { err, ok, type Result } from '../domain/result.js';
import { storeErrorFrom } from './aws-errors.js';

const T = connectionsTable;

/** The sort key of checkpoint items; their partition key is `$job#<jobId>`, which no connection id can be. */
export const CHECKPOINT_SORT_KEY = '$checkpoint';

export interface DynamoJobCheckpointsOptions {
  readonly client: DynamoDBDocumentClient;
  /** The `Connections` table: checkpoints live beside the connections, outside the channel index. */
  readonly tableName: string;
}

const checkpointSchema = z.object({
  cursor: z.string().nullable().optional(),
  split: z.boolean().optional(),
  handedOver: z.boolean().optional(),
});

/**
 * `JobCheckpoints` in the `Connections` table: one item per job, partition key `$job#<jobId>` (API Gateway
 * connection ids never start with `$`), sort key `$checkpoint`, holding `cursor` and `expiresAt` (TTL, or the
 * local sweeper). It carries no index attributes, so it never enters the channel index, and the worker needs no
 * table beyond the one it already reads and writes.
 *
 * `save` overwrites (last page wins), `load` is a consistent read (`null` when none), `clear` is idempotent.
 *
 * @example
 * const checkpoints = new DynamoJobCheckpoints({ client: doc, tableName });
 * await checkpoints.save(record.id, { cursor, split: false, handedOver: false }, nowSeconds + 3600);
 */
export class DynamoJobCheckpoints implements JobCheckpoints {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(options: DynamoJobCheckpointsOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
  }

  async load(jobId: string): Promise<Result<JobProgress | null, StoreError>> {
    try {
      const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key(jobId), ConsistentRead: true }));
      if (out.Item === undefined) return ok(null);
      const parsed = checkpointSchema.safeParse(out.Item);
      if (!parsed.success) return err({ kind: 'invalid', message: `checkpoint of job ${jobId} is malformed` });
      const { cursor = null, split = false, handedOver = false } = parsed.data;
      return ok({ cursor, split, handedOver });
    } catch (e) {
      return err(storeErrorFrom(e, 'GetItem (checkpoint)'));
    }
  }

  async save(jobId: string, progress: JobProgress, expiresAt: number): Promise<Result<void, StoreError>> {
    const { cursor, split, handedOver } = progress;
    try {
      await this.client.send(
        new PutCommand({ TableName: this.tableName, Item: { ...key(jobId), cursor, split, handedOver, [T.ttlAttribute]: expiresAt } }),
      );
      return ok(undefined);
    } catch (e) {
      return err(storeErrorFrom(e, 'PutItem (checkpoint)'));
    }
  }

  async clear(jobId: string): Promise<Result<void, StoreError>> {
    try {
      await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: key(jobId) }));
      return ok(undefined);
    } catch (e) {
      return err(storeErrorFrom(e, 'DeleteItem (checkpoint)'));
    }
  }
}

function key(jobId: string): Record<string, string> {
  return { [T.partitionKey]: `$job#${jobId}`, [T.sortKey]: CHECKPOINT_SORT_KEY };
}
