import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoChannelHistory } from '#src/adapters/dynamo-channel-history.js';
import type { HistoryEntry } from '#src/domain/history.js';
import { createHistoryTable } from '#src/local/provision.js';
import { localClientConfig, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';

const NOW = Date.UTC(2026, 11, 4, 12, 0, 0);

const entry = (sequence: string, id: string, overrides: Partial<HistoryEntry> = {}): HistoryEntry => ({
  channel: 'room',
  sequence,
  id,
  publishedAt: NOW,
  message: { kind: 'text', text: `text of ${id}` },
  expiresAt: NOW + 60_000,
  ...overrides,
});

describe('DynamoChannelHistory against dynalite', () => {
  let services: LocalAwsServices;
  let ddb: DynamoDBClient;
  let history: DynamoChannelHistory;

  beforeAll(async () => {
    services = await startLocalAwsServices();
    ddb = new DynamoDBClient(localClientConfig(services.dynamoEndpoint));
    await createHistoryTable(ddb);
    history = new DynamoChannelHistory({ client: DynamoDBDocumentClient.from(ddb), tableName: 'History' });
  });
  afterAll(async () => {
    ddb.destroy();
    await services.stop();
  });

  it('keeps items in sequence order across digit lengths (SQS sequences grow), and reads ranges with exclusive bounds', async () => {
    for (const [seq, id] of [
      ['99', 'a'],
      ['100', 'b'],
      ['00000000000000000101', 'c'],
      ['18849496460467696128', 'd'],
    ] as const) {
      expect((await history.record(entry(seq, id))).ok).toBe(true);
    }
    const all = await history.readAfter('room', null, null, 10, NOW);
    expect(all.ok && all.value.map((e) => [e.sequence, e.id])).toEqual([
      ['99', 'a'],
      ['100', 'b'],
      ['101', 'c'],
      ['18849496460467696128', 'd'],
    ]);
    const between = await history.readAfter('room', '99', '18849496460467696128', 10, NOW);
    expect(between.ok && between.value.map((e) => e.id)).toEqual(['b', 'c']);
    const limited = await history.readAfter('room', '99', null, 1, NOW);
    expect(limited.ok && limited.value.map((e) => e.id)).toEqual(['b']);
    const latest = await history.readLatest('room', 2, NOW);
    expect(latest.ok && latest.value.map((e) => e.id)).toEqual(['c', 'd']);
  });

  it('finds the newest unexpired item with an id; a rewrite of the same sequence replaces the item', async () => {
    await history.record(entry('5', 'x', { channel: 'ids', expiresAt: NOW + 10 }));
    await history.record(entry('7', 'x', { channel: 'ids' }));
    await history.record(entry('9', 'y', { channel: 'ids', message: { kind: 'binary', base64: 'AQID' } }));
    await history.record(entry('9', 'y', { channel: 'ids', message: { kind: 'binary', base64: 'AQID' } }));
    expect(await history.findSequence('ids', 'x', NOW)).toEqual({ ok: true, value: '7' });
    expect(await history.findSequence('ids', 'nope', NOW)).toEqual({ ok: true, value: null });
    const items = await history.readAfter('ids', null, null, 10, NOW);
    expect(items.ok && items.value.map((e) => e.message)).toEqual([
      { kind: 'text', text: 'text of x' },
      { kind: 'text', text: 'text of x' },
      { kind: 'binary', base64: 'AQID' },
    ]);
  });

  it('never serves an expired item, even before TTL deletes it', async () => {
    await history.record(entry('1', 'old', { channel: 'expiring', expiresAt: NOW + 1 }));
    await history.record(entry('2', 'new', { channel: 'expiring' }));
    expect(await history.findSequence('expiring', 'old', NOW + 1)).toEqual({ ok: true, value: null });
    const items = await history.readLatest('expiring', 10, NOW + 1);
    expect(items.ok && items.value.map((e) => e.id)).toEqual(['new']);
  });

  it('refuses invalid channels and sequences as invalid (never retried)', async () => {
    expect(await history.record(entry('12a', 'z'))).toMatchObject({ ok: false, error: { kind: 'invalid' } });
    expect(await history.record(entry('1', 'z', { channel: '' }))).toMatchObject({ ok: false, error: { kind: 'invalid' } });
    expect(await history.readAfter('room', 'x', null, 1, NOW)).toMatchObject({ ok: false, error: { kind: 'invalid' } });
    expect(await history.readLatest('room', 0, NOW)).toMatchObject({ ok: false, error: { kind: 'invalid' } });
  });
});
