import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoConnectionStore } from '#src/adapters/dynamo-connection-store.js';
import { DynamoJobCheckpoints } from '#src/adapters/dynamo-job-checkpoints.js';
import { BUCKET_SPACE } from '#src/domain/channel.js';
import { createConnectionsTable } from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';

/** Progress after the pages up to `cursor`. */
const at = (cursor: string) => ({ cursor, split: false, handedOver: false });

describe('DynamoJobCheckpoints against dynalite', () => {
  let services: LocalAwsServices;
  let ddb: DynamoDBClient;
  let checkpoints: DynamoJobCheckpoints;
  let store: DynamoConnectionStore;
  const tableName = 'Checkpoints-Test';

  beforeAll(async () => {
    services = await startLocalAwsServices();
    ddb = new DynamoDBClient({ endpoint: services.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    await createConnectionsTable(ddb, tableName);
    const client = DynamoDBDocumentClient.from(ddb);
    checkpoints = new DynamoJobCheckpoints({ client, tableName });
    store = new DynamoConnectionStore({ client, tableName });
  });
  afterAll(async () => {
    ddb.destroy();
    await services.stop();
  });

  it('keeps the split and hand-over marks a redelivered job must not repeat', async () => {
    const progress = { cursor: null, split: true, handedOver: false };
    expect((await checkpoints.save('msg-5', progress, 2_000_000_000)).ok).toBe(true);
    expect(await checkpoints.load('msg-5')).toEqual({ ok: true, value: progress });
  });

  it('loads null before any save, then the last saved cursor, then null after clear', async () => {
    expect(await checkpoints.load('msg-1')).toEqual({ ok: true, value: null });
    expect((await checkpoints.save('msg-1', at('cursor-a'), 2_000_000_000)).ok).toBe(true);
    expect((await checkpoints.save('msg-1', at('cursor-b'), 2_000_000_000)).ok).toBe(true);
    expect((await checkpoints.save('msg-2', at('other'), 2_000_000_000)).ok).toBe(true);
    expect(await checkpoints.load('msg-1')).toEqual({ ok: true, value: at('cursor-b') });
    expect((await checkpoints.clear('msg-1')).ok).toBe(true);
    expect((await checkpoints.clear('msg-1')).ok).toBe(true);
    expect(await checkpoints.load('msg-1')).toEqual({ ok: true, value: null });
    expect(await checkpoints.load('msg-2')).toEqual({ ok: true, value: at('other') });
  });

  it('stores the expiry for TTL and stays out of the channel index and the connections', async () => {
    await checkpoints.save('msg-3', at('c'), 1_999_999_999);
    const items = (await ddb.send(new ScanCommand({ TableName: tableName }))).Items ?? [];
    const item = items.find((i) => i.connectionId?.S === '$job#msg-3');
    expect(item).toEqual({
      connectionId: { S: '$job#msg-3' },
      channel: { S: '$checkpoint' },
      cursor: { S: 'c' },
      split: { BOOL: false },
      handedOver: { BOOL: false },
      expiresAt: { N: '1999999999' },
    });
    expect(await store.getConnection('$job#msg-3')).toEqual({ ok: true, value: null });
    const page = await store.pageSubscribers('$checkpoint', { from: 0, to: BUCKET_SPACE }, null, 10);
    expect(page.ok && page.value.subscribers).toEqual([]);
  });

  it("is also reachable through DynamoConnectionStore, the worker's single table adapter", async () => {
    expect((await store.save('msg-4', at('via-store'), 2_000_000_000)).ok).toBe(true);
    expect(await checkpoints.load('msg-4')).toEqual({ ok: true, value: at('via-store') });
    expect(await store.load('msg-4')).toEqual({ ok: true, value: at('via-store') });
    expect((await store.clear('msg-4')).ok).toBe(true);
    expect(await checkpoints.load('msg-4')).toEqual({ ok: true, value: null });
  });

  it('reports a missing table as invalid', async () => {
    const missing = new DynamoJobCheckpoints({ client: DynamoDBDocumentClient.from(ddb), tableName: 'Nope' });
    const r = await missing.load('x');
    expect(!r.ok && r.error.kind).toBe('invalid');
  });
});
