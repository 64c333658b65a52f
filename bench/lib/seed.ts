/**
 * Seeds subscribers straight into the `Connections` table with BatchWriteItem (25 items a call, bounded
 * concurrency): `DynamoConnectionStore.subscribe` writes one connection per call, which would make seeding
 * 100,000 subscribers take minutes. The items are exactly what `subscribe` writes (same keys, index attributes
 * from `subscriptionIndexKey`, expiry); connection items (`$connection`) are not needed by channel jobs.
 */
import { CreateTableCommand, ResourceInUseException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, type BatchWriteWriteRequest, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import { connectionsTable } from '../../src/config/resources.js';
import { subscriptionIndexKey } from '../../src/domain/channel.js';
import { sleep } from './clock.js';
import { connectionIdOf, type IdFamily } from './ids.js';

const T = connectionsTable;
const BATCH = 25;

/** Writes the requests in batches of 25, `concurrency` calls at a time, re-sending `UnprocessedItems`. */
export async function batchWriteAll(
  documents: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly BatchWriteWriteRequest[],
  concurrency = 8,
): Promise<void> {
  const limit = pLimit(concurrency);
  const chunks: BatchWriteWriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += BATCH) chunks.push(requests.slice(i, i + BATCH));
  await limit.map(chunks, async (chunk) => {
    let pending = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.min(1000, 25 * 2 ** attempt));
      if (attempt > 10) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed after ${attempt} attempts`);
      const out = await documents.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      pending = out.UnprocessedItems?.[tableName] ?? [];
    }
  });
}

/** Subscribes every id of `family` to `channel`, valid for a day. */
export async function seedSubscribers(documents: DynamoDBDocumentClient, channel: string, family: IdFamily): Promise<void> {
  const expiresAt = Math.floor(Date.now() / 1000) + 24 * 3600;
  const requests: BatchWriteWriteRequest[] = [];
  for (let i = 0; i < family.count; i++) {
    const connectionId = connectionIdOf(family.prefix, i);
    requests.push({
      PutRequest: {
        Item: {
          [T.partitionKey]: connectionId,
          [T.sortKey]: channel,
          [T.channelIndex.partitionKey]: channel,
          [T.channelIndex.sortKey]: subscriptionIndexKey(connectionId),
          [T.ttlAttribute]: expiresAt,
        },
      },
    });
  }
  await batchWriteAll(documents, T.localName, requests);
}

/** The AWS sample app's table: one item per connection, keyed by `connectionId` alone. */
export async function seedSampleAppTable(ddb: DynamoDBClient, documents: DynamoDBDocumentClient, tableName: string, family: IdFamily): Promise<void> {
  try {
    await ddb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'connectionId', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
      }),
    );
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
  }
  const requests: BatchWriteWriteRequest[] = [];
  for (let i = 0; i < family.count; i++) requests.push({ PutRequest: { Item: { connectionId: connectionIdOf(family.prefix, i) } } });
  await batchWriteAll(documents, tableName, requests);
}
