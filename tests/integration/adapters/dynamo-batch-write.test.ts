import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchWriteAll } from '#src/adapters/dynamo-batch-write.js';
import { connectionsTable } from '#src/config/resources.js';
import { createConnectionsTable } from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';

const T = connectionsTable;

describe('batchWriteAll on dynalite', () => {
  let services: LocalAwsServices;
  let ddb: DynamoDBClient;
  let doc: DynamoDBDocumentClient;

  beforeAll(async () => {
    services = await startLocalAwsServices();
    ddb = new DynamoDBClient({ endpoint: services.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    doc = DynamoDBDocumentClient.from(ddb);
    await createConnectionsTable(ddb, 'BatchWrite');
  });

  afterAll(async () => {
    ddb?.destroy();
    await services?.stop();
  });

  const count = async () => (await ddb.send(new ScanCommand({ TableName: 'BatchWrite', Select: 'COUNT' }))).Count;
  const key = (i: number) => ({ [T.partitionKey]: `c${i}`, [T.sortKey]: '$connection' });

  it('writes more than one call of 25 with bounded concurrency, then deletes them all', async () => {
    const puts = Array.from({ length: 103 }, (_, i) => ({ PutRequest: { Item: { ...key(i), n: i } } }));
    expect(await batchWriteAll(doc, 'BatchWrite', puts, { concurrency: 2 })).toEqual({ ok: true, value: undefined });
    expect(await count()).toBe(103);

    const deletes = Array.from({ length: 103 }, (_, i) => ({ DeleteRequest: { Key: key(i) } }));
    expect((await batchWriteAll(doc, 'BatchWrite', deletes)).ok).toBe(true);
    expect(await count()).toBe(0);
  });

  it('makes no call for an empty list', async () => {
    expect(await batchWriteAll(doc, 'NoSuchTable', [])).toEqual({ ok: true, value: undefined });
  });

  it('returns the SDK error as a value, not a throw', async () => {
    const written = await batchWriteAll(doc, 'NoSuchTable', [{ PutRequest: { Item: key(1) } }]);
    expect(written.ok).toBe(false);
    if (!written.ok) expect(written.error.message).toMatch(/BatchWriteItem/);
  });
});
