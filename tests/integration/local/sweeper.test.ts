import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyTable } from '#src/config/resources.js';
import { createConnectionsTable, createHistoryTable } from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';
import { startSweeper } from '#src/local/sweeper.js';
import { waitFor } from './support.js';
import { RecordingLog } from '#test-helpers/fakes.js';

describe('local TTL sweeper', () => {
  let services: LocalAwsServices;
  let ddb: DynamoDBClient;
  let doc: DynamoDBDocumentClient;
  let n = 0;
  const NOW_MS = 1_800_000_000_000;
  const nowSeconds = NOW_MS / 1000;

  beforeAll(async () => {
    services = await startLocalAwsServices();
    ddb = new DynamoDBClient({ endpoint: services.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    doc = DynamoDBDocumentClient.from(ddb);
  });
  afterAll(async () => {
    ddb.destroy();
    await services.stop();
  });

  async function table(items: Record<string, unknown>[]): Promise<string> {
    const name = `Sweep${++n}`;
    await createConnectionsTable(ddb, name);
    for (let i = 0; i < items.length; i += 25) {
      await doc.send(new BatchWriteCommand({ RequestItems: { [name]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
    }
    return name;
  }

  async function remaining(name: string): Promise<string[]> {
    const out: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(new ScanCommand({ TableName: name, ...(start ? { ExclusiveStartKey: start } : {}) }));
      for (const item of page.Items ?? []) out.push(`${String(item.connectionId)}/${String(item.channel)}`);
      start = page.LastEvaluatedKey;
    } while (start);
    return out.sort();
  }

  it('deletes exactly the expired items, across scan pages and batches of 25', async () => {
    const expired = Array.from({ length: 60 }, (_, i) => ({
      connectionId: `old${String(i).padStart(2, '0')}`,
      channel: i % 2 ? '$connection' : 'room',
      ...(i % 2 ? {} : { subChannel: 'room', subKey: `0001#old${i}` }),
      expiresAt: nowSeconds - 1 - i,
    }));
    const live = [
      { connectionId: 'live', channel: '$connection', expiresAt: nowSeconds + 60 },
      { connectionId: 'live', channel: 'room', subChannel: 'room', subKey: '0002#live', expiresAt: nowSeconds },
      { connectionId: 'no-ttl', channel: '$connection' },
      { connectionId: 'text-ttl', channel: '$connection', expiresAt: 'soon' },
    ];
    const name = await table([...expired, ...live]);
    const sweeper = startSweeper({ ddb, tableName: name, intervalMs: 3_600_000, now: () => NOW_MS, pageSize: 7, log: new RecordingLog() });
    try {
      const result = await sweeper.sweepOnce();
      expect(result).toEqual({ scanned: 64, deleted: 60 });
      expect(await remaining(name)).toEqual(['live/$connection', 'live/room', 'no-ttl/$connection', 'text-ttl/$connection']);
      expect(await sweeper.sweepOnce()).toEqual({ scanned: 4, deleted: 0 });
    } finally {
      await sweeper.stop();
    }
  });

  it('sweeps the History table by its own keys', async () => {
    const name = `History${++n}`;
    await createHistoryTable(ddb, name);
    const item = (seq: string, expiresAt: number) => ({
      channel: 'room',
      seq,
      itemId: `id-${seq}`,
      retainUntil: expiresAt * 1000,
      expiresAt,
    });
    for (const it of [item('1', nowSeconds - 10), item('2', nowSeconds - 1), item('3', nowSeconds + 60)]) {
      await doc.send(new PutCommand({ TableName: name, Item: it }));
    }
    const sweeper = startSweeper({
      ddb,
      tableName: name,
      keys: historyTable,
      intervalMs: 3_600_000,
      now: () => NOW_MS,
      log: new RecordingLog(),
    });
    try {
      expect(await sweeper.sweepOnce()).toEqual({ scanned: 3, deleted: 2 });
      const left = await doc.send(new ScanCommand({ TableName: name }));
      expect(left.Items?.map((i) => i['seq'])).toEqual(['3']);
    } finally {
      await sweeper.stop();
    }
  });

  it('accepts a document client and sweeps on its interval', async () => {
    const name = await table([
      { connectionId: 'gone', channel: '$connection', expiresAt: 1 },
      { connectionId: 'here', channel: '$connection', expiresAt: 4_000_000_000 },
    ]);
    const sweeper = startSweeper({ ddb: doc, tableName: name, intervalMs: 20, log: new RecordingLog() });
    try {
      let left: string[] = [];
      for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
        left = await remaining(name);
        if (left.length === 1) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(left).toEqual(['here/$connection']);
    } finally {
      await sweeper.stop();
    }
  });

  it('logs a failed scheduled sweep and rejects sweepOnce, without crashing', async () => {
    const log = new RecordingLog();
    const sweeper = startSweeper({ ddb, tableName: 'NoSuchTable', intervalMs: 20, log });
    try {
      await expect(sweeper.sweepOnce()).rejects.toThrow();
      await waitFor(() => log.entries.find((l) => l.level === 'error' && l.message === 'sweep failed'), 10_000, 'the logged failure');
    } finally {
      await sweeper.stop();
    }
  });
});
