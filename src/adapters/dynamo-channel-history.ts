/**
 * `ChannelHistory` on the DynamoDB `History` table (see `config/resources.ts`, `historyTable`): one item per
 * retained item, keyed by channel and 40-digit sequence, with the local index `byId` to find a `since` id.
 */
import { PutCommand, QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { historyTable } from '../config/resources.js';
import { validateChannel } from '../domain/channel.js';
import { isSequence, sequenceFromSortable, sortableSequence, type HistoryEntry } from '../domain/history.js';
import { messageSchema } from '../domain/message.js';
import type { ChannelHistory, StoreError } from '../domain/ports.js';
import { err, ok, type Result } from '../domain/result.js';
import { storeErrorFrom } from './aws-errors.js';

const H = historyTable;

export interface DynamoChannelHistoryOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

const idEntrySchema = z.object({ [H.sortKey]: z.string().regex(/^[0-9]{40}$/), retainUntil: z.number() });

const itemSchema = z.object({
  [H.partitionKey]: z.string(),
  [H.sortKey]: z.string().regex(/^[0-9]{40}$/),
  [H.idIndex.sortKey]: z.string(),
  publishedAt: z.number(),
  message: messageSchema,
  retainUntil: z.number(),
});

/**
 * @example
 * const history = new DynamoChannelHistory({ client: doc, tableName: process.env.HISTORY_TABLE_NAME });
 * await history.record({ channel: 'room', sequence: '18', id: 'm-1', publishedAt, message, expiresAt });
 */
export class DynamoChannelHistory implements ChannelHistory {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(options: DynamoChannelHistoryOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
  }

  /** One PutItem, keyed by (channel, sequence): writing the same entry again changes nothing. */
  async record(entry: HistoryEntry): Promise<Result<void, StoreError>> {
    const checked = checkKeys(entry.channel, entry.sequence);
    if (!checked.ok) return checked;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [H.partitionKey]: entry.channel,
            [H.sortKey]: sortableSequence(entry.sequence),
            [H.idIndex.sortKey]: entry.id,
            publishedAt: entry.publishedAt,
            message: entry.message,
            // Epoch ms for reads (TTL deletion runs up to days late), epoch seconds for DynamoDB TTL.
            retainUntil: entry.expiresAt,
            [H.ttlAttribute]: Math.ceil(entry.expiresAt / 1000),
          },
        }),
      );
      return ok(undefined);
    } catch (e) {
      return err(storeErrorFrom(e, 'PutItem (history)'));
    }
  }

  /** A strongly consistent Query on `byId` (keys and expiry only), skipping expired items; the newest one wins. */
  async findSequence(channel: string, id: string, now: number): Promise<Result<string | null, StoreError>> {
    const found = await this.query(
      {
        IndexName: H.idIndex.name,
        KeyConditionExpression: '#pk = :pk AND #id = :id',
        ProjectionExpression: '#sk, #until',
        ExpressionAttributeNames: { '#pk': H.partitionKey, '#id': H.idIndex.sortKey, '#sk': H.sortKey, '#until': 'retainUntil' },
        ExpressionAttributeValues: { ':pk': channel, ':id': id },
      },
      idEntrySchema,
      Number.MAX_SAFE_INTEGER,
      now,
    );
    if (!found.ok) return found;
    const newest = found.value.reduce<string | null>((max, e) => (max === null || e[H.sortKey] > max ? e[H.sortKey] : max), null);
    return ok(newest === null ? null : sequenceFromSortable(newest));
  }

  async readAfter(
    channel: string,
    after: string | null,
    before: string | null,
    limit: number,
    now: number,
  ): Promise<Result<HistoryEntry[], StoreError>> {
    for (const bound of [after, before])
      if (bound !== null && !isSequence(bound)) return err(invalid(`sequence ${JSON.stringify(bound)} is not 1–40 digits`));
    // BETWEEN is inclusive: the bounds are moved in by one so that both stay exclusive.
    const lo = after === null ? '0' : sortableSequence((BigInt(after) + 1n).toString());
    const hi = before === null ? '9'.repeat(40) : sortableSequence((BigInt(before) - 1n).toString());
    if (before !== null && BigInt(before) === 0n) return ok([]);
    const found = await this.query(
      {
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :lo AND :hi',
        ExpressionAttributeNames: { '#pk': H.partitionKey, '#sk': H.sortKey },
        ExpressionAttributeValues: { ':pk': channel, ':lo': lo, ':hi': hi },
      },
      itemSchema,
      limit,
      now,
    );
    return found.ok ? ok(found.value.map(toEntry(channel))) : found;
  }

  async readLatest(channel: string, limit: number, now: number): Promise<Result<HistoryEntry[], StoreError>> {
    const found = await this.query(
      {
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': H.partitionKey },
        ExpressionAttributeValues: { ':pk': channel },
        ScanIndexForward: false,
      },
      itemSchema,
      limit,
      now,
    );
    return found.ok ? ok(found.value.map(toEntry(channel)).reverse()) : found;
  }

  /**
   * Pages a strongly consistent Query until `limit` unexpired items are read or the key range ends. Expired items
   * are skipped in code rather than by a filter expression, whose evaluation after `Limit` would return short pages.
   */
  private async query<T extends { readonly retainUntil: number }>(
    input: Pick<
      QueryCommandInput,
      | 'IndexName'
      | 'KeyConditionExpression'
      | 'ProjectionExpression'
      | 'ExpressionAttributeNames'
      | 'ExpressionAttributeValues'
      | 'ScanIndexForward'
    >,
    schema: z.ZodType<T>,
    limit: number,
    now: number,
  ): Promise<Result<T[], StoreError>> {
    const channel = input.ExpressionAttributeValues?.[':pk'];
    if (typeof channel !== 'string' || !validateChannel(channel).ok) return err(invalid(`channel ${JSON.stringify(channel)} is not valid`));
    if (!Number.isInteger(limit) || limit < 1) return err(invalid(`limit ${limit} must be a positive integer`));
    const items: T[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      let out;
      try {
        out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            ...input,
            ConsistentRead: true,
            // A few extra, so that skipping expired items rarely costs another call; a page still stops at 1 MB.
            ...(limit < Number.MAX_SAFE_INTEGER ? { Limit: limit - items.length + 10 } : {}),
            ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
          }),
        );
      } catch (e) {
        return err(storeErrorFrom(e, `Query (history${input.IndexName ? ` index ${input.IndexName}` : ''})`));
      }
      for (const raw of out.Items ?? []) {
        const parsed = schema.safeParse(raw);
        if (!parsed.success) return err(invalid(`history item has an unexpected shape: ${z.prettifyError(parsed.error)}`));
        if (parsed.data.retainUntil <= now) continue;
        items.push(parsed.data);
        if (items.length >= limit) return ok(items);
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return ok(items);
  }
}

const toEntry =
  (channel: string) =>
  (item: z.infer<typeof itemSchema>): HistoryEntry => ({
    channel,
    sequence: sequenceFromSortable(item[H.sortKey]),
    id: item[H.idIndex.sortKey],
    publishedAt: item.publishedAt,
    message: item.message,
    expiresAt: item.retainUntil,
  });

function checkKeys(channel: string, sequence: string): Result<void, StoreError> {
  if (!validateChannel(channel).ok) return err(invalid(`channel ${JSON.stringify(channel)} is not valid`));
  if (!isSequence(sequence)) return err(invalid(`sequence ${JSON.stringify(sequence)} is not 1–40 digits`));
  return ok(undefined);
}

function invalid(message: string): StoreError {
  return { kind: 'invalid', message };
}
