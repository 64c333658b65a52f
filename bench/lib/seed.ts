/**
 * Seeds subscribers straight into the `Connections` table with BatchWriteItem (25 items a call, bounded
 * concurrency): `DynamoConnectionStore.subscribe` writes one connection per call, which would make seeding
 * 100,000 subscribers take minutes. The items are exactly what `subscribe` writes (same keys, index attributes
 * from `subscriptionIndexKey`, expiry); connection items (`$connection`) are not needed by channel jobs.
 */
import { CreateTableCommand, ResourceInUseException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { BatchWriteWriteRequest, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchWriteAll } from '#src/adapters/dynamo-batch-write.js';
import { connectionsTable } from '#src/config/resources.js';
import { subscriptionItem } from '#src/adapters/connection-items.js';
import { connectionIdOf, type IdFamily } from './ids.js';

const T = connectionsTable;

/** Writes the requests with the adapters' `batchWriteAll`, patiently (seeding is not a hot path); throws on failure. */
async function writeAll(documents: DynamoDBDocumentClient, tableName: string, requests: readonly BatchWriteWriteRequest[]): Promise<void> {
  const written = await batchWriteAll(documents, tableName, requests, { maxAttempts: 12 });
  if (!written.ok) throw new Error(`seeding ${tableName} failed: ${written.error.message}`);
}

/** Subscribes every id of `family` to `channel`, valid for a day. */
export async function seedSubscribers(documents: DynamoDBDocumentClient, channel: string, family: IdFamily): Promise<void> {
  const connectedAt = Date.now();
  const expiresAt = Math.floor(connectedAt / 1000) + 24 * 3600;
  const requests: BatchWriteWriteRequest[] = [];
  for (let i = 0; i < family.count; i++) {
    const connectionId = connectionIdOf(family.prefix, i);
    requests.push({ PutRequest: { Item: subscriptionItem({ connectionId, channel, expiresAt, connectedAt }) } });
  }
  await writeAll(documents, T.localName, requests);
}

/** The AWS sample app's table: one item per connection, keyed by `connectionId` alone. */
export async function seedSampleAppTable(
  ddb: DynamoDBClient,
  documents: DynamoDBDocumentClient,
  tableName: string,
  family: IdFamily,
): Promise<void> {
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
  await writeAll(documents, tableName, requests);
}
