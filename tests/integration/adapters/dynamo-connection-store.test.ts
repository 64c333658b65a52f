import { DynamoDBClient, QueryCommand as RawQueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeaderSealer } from '#src/adapters/header-sealing.js';
import { DynamoConnectionStore } from '#src/adapters/dynamo-connection-store.js';
import { connectionsTable } from '#src/config/resources.js';
import { BUCKET_SPACE, bucketOf, subscriptionIndexKey } from '#src/domain/channel.js';
import type { ConnectionRecord } from '#src/domain/connection.js';
import type { SubscriberFilters } from '#src/domain/filters.js';
import type { SubscriberIndex } from '#src/domain/ports.js';
import { createConnectionsTable } from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';

const NOW_MS = Date.UTC(2026, 10, 27, 12, 0, 0);
const NOW_S = NOW_MS / 1000;
const LATER = NOW_S + 7200;

function record(connectionId: string, overrides: Partial<ConnectionRecord> = {}): ConnectionRecord {
  return {
    connectionId,
    handshake: {
      path: '/chat',
      query: '',
      headers: { 'user-agent': 'test', origin: 'http://example.com', 'sec-websocket-protocol': 'a, b', 'x-empty': '' },
    },
    subprotocol: null,
    grip: { enabled: false },
    meta: {},
    connectedAt: NOW_MS,
    expiresAt: LATER,
    ...overrides,
  };
}

/** A subscription owner accepted at NOW_MS. */
function owner(connectionId: string, expiresAt: number) {
  return { connectionId, connectedAt: NOW_MS, expiresAt };
}

async function allPages(index: SubscriberIndex, channel: string, from: number, to: number, limit: number) {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await index.pageSubscribers(channel, { from, to }, cursor, limit);
    if (!page.ok) throw new Error(page.error.message);
    ids.push(...page.value.subscribers.map((s) => s.connectionId));
    cursor = page.value.cursor;
    pages++;
  } while (cursor !== null);
  return { ids, pages };
}

describe('DynamoConnectionStore against dynalite', () => {
  let services: LocalAwsServices;
  let ddb: DynamoDBClient;
  let doc: DynamoDBDocumentClient;
  let store: DynamoConnectionStore;
  let mainTable: string;
  let tableSeq = 0;
  const newTable = async () => {
    const name = `Connections-${++tableSeq}`;
    await createConnectionsTable(ddb, name);
    return name;
  };

  beforeAll(async () => {
    services = await startLocalAwsServices();
    ddb = new DynamoDBClient({ endpoint: services.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    doc = DynamoDBDocumentClient.from(ddb);
    mainTable = await newTable();
    store = new DynamoConnectionStore({ client: doc, tableName: mainTable, clock: () => NOW_MS });
  });
  afterAll(async () => {
    ddb.destroy();
    await services.stop();
  });

  it('puts and gets a connection record, headers in their original order', async () => {
    const r = record('put-get=', {
      subprotocol: 'chat.v1',
      grip: { enabled: true, messagePrefix: 'm:' },
      meta: { user: 'alice' },
      handshake: { path: '/x', query: 'room=1&a=', headers: { zeta: '1', alpha: '2', 'x-empty': '' } },
    });
    expect(await store.putConnection(r)).toEqual({ ok: true, value: undefined });
    const got = await store.getConnection('put-get=');
    expect(got).toEqual({ ok: true, value: r });
    expect(got.ok && got.value && Object.keys(got.value.handshake.headers)).toEqual(['zeta', 'alpha', 'x-empty']);
  });

  it('writes a resumed subscription catching up, ends the resume only with its token, and pages carry the state', async () => {
    await store.putConnection(record('resume-a='));
    await store.subscribe(owner('resume-a=', LATER), ['resume-room'], undefined, new Map([['resume-room', 'tok-1']]));
    expect(await store.readSubscriber('resume-room', 'resume-a=')).toEqual({
      ok: true,
      value: { connectionId: 'resume-a=', connectedAt: NOW_MS, resume: 'tok-1' },
    });
    expect(await store.finishResume('resume-a=', 'resume-room', 'other-token', '42')).toEqual({ ok: true, value: false });
    expect(await store.finishResume('resume-a=', 'resume-room', 'tok-1', '42')).toEqual({ ok: true, value: true });
    // Once live, the token is gone: a second finish (a redelivered catch-up) changes nothing.
    expect(await store.finishResume('resume-a=', 'resume-room', 'tok-1', '43')).toEqual({ ok: true, value: false });
    const page = await store.pageSubscribers('resume-room', { from: 0, to: BUCKET_SPACE }, null, 10);
    expect(page.ok && page.value.subscribers).toEqual([{ connectionId: 'resume-a=', connectedAt: NOW_MS, liveAfter: '42' }]);
    // A finish for a subscription that no longer exists does not create one.
    await store.unsubscribe('resume-a=', ['resume-room']);
    expect(await store.finishResume('resume-a=', 'resume-room', 'tok-1', '44')).toEqual({ ok: true, value: false });
    expect(await store.readSubscriber('resume-room', 'resume-a=')).toEqual({ ok: true, value: null });
  });

  it('keeps the newest publish mark per channel, and reads the marks of several channels', async () => {
    expect(await store.markPublished('marks-a', 2_000)).toEqual({ ok: true, value: undefined });
    expect(await store.markPublished('marks-a', 1_000)).toEqual({ ok: true, value: undefined });
    await store.markPublished('marks-b', 5_000);
    const marks = await store.lastPublished(['marks-a', 'marks-b', 'marks-never']);
    expect(marks.ok && [...marks.value].sort()).toEqual([
      ['marks-a', 2_000],
      ['marks-b', 5_000],
    ]);
  });

  it('keeps the sequencer state: last id, one held item per predecessor within the cap, atomic release', async () => {
    expect(await store.sequencerState('seq-a')).toEqual({ ok: true, value: { lastId: null, held: 0 } });
    await store.setLastId('seq-a', 'p0');
    expect(await store.hold('seq-a', 'gone', 'job-x', 100, 2)).toEqual({ ok: true, value: 'held' });
    expect(await store.hold('seq-a', 'gone', 'job-y', 101, 2)).toEqual({ ok: true, value: 'duplicate' });
    expect(await store.hold('seq-a', 'other', 'job-z', 102, 2)).toEqual({ ok: true, value: 'held' });
    expect(await store.hold('seq-a', 'third', 'job-w', 103, 2)).toEqual({ ok: true, value: 'full' });
    expect(await store.sequencerState('seq-a')).toEqual({ ok: true, value: { lastId: 'p0', held: 2 } });
    // A release for another holding (a stale timer) takes nothing; the right one takes it once.
    expect(await store.takeHeld('seq-a', 'gone', 999)).toEqual({ ok: true, value: null });
    expect(await store.takeHeld('seq-a', 'gone', 100)).toEqual({ ok: true, value: { job: 'job-x', heldAt: 100 } });
    expect(await store.takeHeld('seq-a', 'gone')).toEqual({ ok: true, value: null });
    await store.setLastId('seq-a', null);
    expect(await store.sequencerState('seq-a')).toEqual({ ok: true, value: { lastId: null, held: 1 } });
  });

  it('gets null for an unknown connection', async () => {
    expect(await store.getConnection('nobody')).toEqual({ ok: true, value: null });
  });

  it('gets many records at once, past BatchGetItem’s 100 keys, leaving unknown ids out', async () => {
    const ids = Array.from({ length: 130 }, (_, i) => `many-${i}`);
    for (const id of ids) await store.putConnection(record(id, { meta: { n: id } }));
    const found = await store.getConnections([...ids, 'many-unknown']);
    expect(found.ok && found.value.size).toBe(130);
    expect(found.ok && found.value.get('many-129')?.meta).toEqual({ n: 'many-129' });
  });

  it('remembers item ids per channel: first, seen by another claim, first again for its own claim or once expired', async () => {
    const now = 1_800_000_000_000;
    expect(await store.rememberItemId('ids', 'm-1', 'job-a', now, now + 60_000)).toEqual({ ok: true, value: 'first' });
    expect(await store.rememberItemId('ids', 'm-1', 'job-b', now + 1, now + 60_001)).toEqual({ ok: true, value: 'seen' });
    expect(await store.rememberItemId('ids', 'm-1', 'job-a', now + 2, now + 60_002)).toEqual({ ok: true, value: 'first' });
    expect(await store.rememberItemId('ids-2', 'm-1', 'job-c', now, now + 60_000)).toEqual({ ok: true, value: 'first' });
    expect(await store.rememberItemId('ids', 'm-1', 'job-d', now + 60_003, now + 120_000)).toEqual({ ok: true, value: 'first' });
  });

  it('put overwrites the record', async () => {
    await store.putConnection(record('overwrite', { meta: { a: '1' } }));
    await store.putConnection(record('overwrite', { meta: { b: '2' } }));
    const got = await store.getConnection('overwrite');
    expect(got.ok && got.value?.meta).toEqual({ b: '2' });
  });

  it('updates meta per key (set and delete) and the subprotocol, returning the new record', async () => {
    await store.putConnection(record('upd', { meta: { keep: 'k', drop: 'd', change: 'old' } }));
    const updated = await store.updateConnection('upd', {
      meta: { drop: null, change: 'new', added: 'x', 'odd.name #1': 'v' },
      subprotocol: 'p2',
    });
    expect(updated.ok).toBe(true);
    const expected = record('upd', { meta: { keep: 'k', change: 'new', added: 'x', 'odd.name #1': 'v' }, subprotocol: 'p2' });
    expect(updated.ok && updated.value).toEqual(expected);
    expect(await store.getConnection('upd')).toEqual({ ok: true, value: expected });
    const cleared = await store.updateConnection('upd', { subprotocol: null });
    expect(cleared.ok && cleared.value.subprotocol).toBeNull();
  });

  it('stores and updates the keep-alive setting and last activity', async () => {
    const keepAlive = { payload: { kind: 'text' as const, text: '{}' }, timeoutSeconds: 30, mode: 'idle' as const, since: NOW_MS };
    await store.putConnection(record('ka', { keepAlive, lastActivityAt: NOW_MS }));
    expect(await store.getConnection('ka')).toEqual({ ok: true, value: record('ka', { keepAlive, lastActivityAt: NOW_MS }) });
    const binary = {
      payload: { kind: 'binary' as const, base64: 'AAE=' },
      timeoutSeconds: 60,
      mode: 'interval' as const,
      since: NOW_MS + 1,
    };
    const u = await store.updateConnection('ka', { keepAlive: binary, lastActivityAt: NOW_MS + 5 });
    expect(u.ok && u.value).toEqual(record('ka', { keepAlive: binary, lastActivityAt: NOW_MS + 5 }));
    const off = await store.updateConnection('ka', { keepAlive: null });
    expect(off.ok && off.value.keepAlive).toBeNull();
    const plain = await store.getConnection('nobody-ka');
    expect(plain).toEqual({ ok: true, value: null });
    await store.putConnection(record('no-ka'));
    const got = await store.getConnection('no-ka');
    expect(got.ok && got.value && 'keepAlive' in got.value).toBe(false);
  });

  it('deleting a meta key that is not there is fine; empty changes return the record', async () => {
    await store.putConnection(record('noop', { meta: { a: '1' } }));
    const r = await store.updateConnection('noop', { meta: { missing: null } });
    expect(r.ok && r.value.meta).toEqual({ a: '1' });
    const same = await store.updateConnection('noop', {});
    expect(same.ok && same.value.meta).toEqual({ a: '1' });
  });

  it('update of a deleted or unknown connection is a conflict and creates nothing', async () => {
    await store.putConnection(record('gone'));
    expect((await store.deleteConnections(['gone'])).ok).toBe(true);
    const r = await store.updateConnection('gone', { meta: { a: '1' } });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.kind).toBe('conflict');
    const empty = await store.updateConnection('gone', {});
    expect(!empty.ok && empty.error.kind).toBe('conflict');
    expect(await store.getConnection('gone')).toEqual({ ok: true, value: null });
  });

  it('subscribe is idempotent, refreshes the expiry, and lists channels; unsubscribe removes only those', async () => {
    await store.putConnection(record('sub'));
    expect((await store.subscribe(owner('sub', LATER), ['b', 'a', 'a'])).ok).toBe(true);
    expect((await store.subscribe(owner('sub', LATER + 60), ['a'])).ok).toBe(true);
    expect(await store.listSubscriptions('sub')).toEqual({ ok: true, value: ['a', 'b'] });
    const raw = await ddb.send(
      new RawQueryCommand({
        TableName: mainTable,
        KeyConditionExpression: 'connectionId = :id AND channel = :c',
        ExpressionAttributeValues: { ':id': { S: 'sub' }, ':c': { S: 'a' } },
      }),
    );
    expect(raw.Items?.[0]).toEqual({
      connectionId: { S: 'sub' },
      channel: { S: 'a' },
      subChannel: { S: 'a' },
      subKey: { S: subscriptionIndexKey('sub') },
      expiresAt: { N: String(LATER + 60) },
      connectedAt: { N: String(NOW_MS) },
    });
    expect((await store.unsubscribe('sub', ['b', 'never-joined'])).ok).toBe(true);
    expect(await store.listSubscriptions('sub')).toEqual({ ok: true, value: ['a'] });
    expect(await store.listSubscriptions('nobody')).toEqual({ ok: true, value: [] });
  });

  it('carries publish filters into the channel index, rewrites them in place, and never recreates a gone subscription', async () => {
    await store.putConnection(record('filt', { filterMeta: { user: 'alice' } }));
    const skipSelf = { names: ['skip-self'], meta: { user: 'alice' } };
    const requireSub = { names: ['require-sub', 'var-subst'], meta: { user: 'alice' }, channels: ['f-a', 'f-b'] };
    const filters = new Map<string, SubscriberFilters>([
      ['f-a', skipSelf],
      ['f-b', requireSub],
    ]);
    expect((await store.subscribe(owner('filt', LATER), ['f-a', 'f-b', 'f-plain'], filters)).ok).toBe(true);
    expect(await store.listSubscriptionFilters('filt')).toEqual({
      ok: true,
      value: [
        { channel: 'f-a', filters: ['skip-self'] },
        { channel: 'f-b', filters: ['require-sub', 'var-subst'] },
        { channel: 'f-plain', filters: [] },
      ],
    });
    const subscriberOf = async (channel: string) => {
      const page = await store.pageSubscribers(channel, { from: 0, to: BUCKET_SPACE }, null, 10);
      if (!page.ok) throw new Error(page.error.message);
      return page.value.subscribers.find((s) => s.connectionId === 'filt');
    };
    expect(await subscriberOf('f-a')).toEqual({ connectionId: 'filt', connectedAt: NOW_MS, filters: skipSelf });
    expect(await subscriberOf('f-b')).toEqual({ connectionId: 'filt', connectedAt: NOW_MS, filters: requireSub });
    expect(await subscriberOf('f-plain')).toEqual({ connectionId: 'filt', connectedAt: NOW_MS });

    await store.unsubscribe('filt', ['f-b']);
    const renamed = { names: ['require-sub'], meta: { user: 'bob' }, channels: ['f-a'] };
    const updated = await store.updateSubscriptionFilters(
      'filt',
      new Map<string, SubscriberFilters>([
        ['f-a', { names: ['skip-self'], meta: { user: 'bob' } }],
        ['f-b', renamed],
      ]),
    );
    expect(updated).toEqual({ ok: true, value: undefined });
    expect(await subscriberOf('f-a')).toEqual({
      connectionId: 'filt',
      connectedAt: NOW_MS,
      filters: { names: ['skip-self'], meta: { user: 'bob' } },
    });
    expect(await subscriberOf('f-b')).toBeUndefined();
    expect(await store.listSubscriptions('filt')).toEqual({ ok: true, value: ['f-a', 'f-plain'] });

    // The record's filter meta is replaced as a whole, apart from Set-Meta-* meta.
    const changed = await store.updateConnection('filt', { filterMeta: { user: 'bob', room: 'r1' }, meta: { user: 'header' } });
    expect(changed.ok && changed.value.filterMeta).toEqual({ user: 'bob', room: 'r1' });
    expect(changed.ok && changed.value.meta).toEqual({ user: 'header' });
  });

  it('rejects the reserved channel and bad channels without writing anything', async () => {
    await store.putConnection(record('reserved'));
    const r = await store.subscribe(owner('reserved', LATER), ['ok', '$connection']);
    expect(!r.ok && r.error.kind).toBe('invalid');
    expect(await store.listSubscriptions('reserved')).toEqual({ ok: true, value: [] });
    expect((await store.getConnection('reserved')).ok).toBe(true);
    const u = await store.unsubscribe('reserved', ['$connection']);
    expect(!u.ok && u.error.kind).toBe('invalid');
    const got = await store.getConnection('reserved');
    expect(got.ok && got.value?.connectionId).toBe('reserved');
  });

  it('deleteConnections removes every item of each connection, in batches, idempotently', async () => {
    const tableName = await newTable();
    const s = new DynamoConnectionStore({ client: doc, tableName, clock: () => NOW_MS, concurrency: 3 });
    const ids = Array.from({ length: 12 }, (_, i) => `del-${i}`);
    for (const id of ids) {
      await s.putConnection(record(id));
      // 30 channels: more than one BatchWriteItem per connection
      expect(
        (
          await s.subscribe(
            owner(id, LATER),
            Array.from({ length: 30 }, (_, c) => `ch-${c}`),
          )
        ).ok,
      ).toBe(true);
    }
    await s.putConnection(record('survivor'));
    await s.subscribe(owner('survivor', LATER), ['ch-1']);
    expect((await s.deleteConnections([...ids, ids[0]!, 'never-existed'])).ok).toBe(true);
    const left = await ddb.send(new ScanCommand({ TableName: tableName }));
    expect(left.Items?.map((i) => i.connectionId?.S).sort()).toEqual(['survivor', 'survivor']);
    expect((await s.deleteConnections(ids)).ok).toBe(true);
    expect((await s.deleteConnections([])).ok).toBe(true);
  });

  it('stores Cookie and Authorization sealed, and reads them back in clear with the key', async () => {
    const tableName = await newTable();
    const s = new DynamoConnectionStore({ client: doc, tableName, clock: () => NOW_MS, sealer: new HeaderSealer('grip-key-0123456789') });
    const headers = { cookie: 'sid=s3cret', authorization: 'Bearer t0ken', 'x-app': 'v1' };
    await s.putConnection(record('sealed', { handshake: { path: '/', query: '', headers } }));
    const raw = await ddb.send(new ScanCommand({ TableName: tableName }));
    expect(JSON.stringify(raw.Items)).not.toMatch(/s3cret|t0ken/);
    const got = await s.getConnection('sealed');
    expect(got.ok && got.value?.handshake.headers).toEqual(headers);
  });

  it('reserves subscription slots with one conditional write: concurrent reservations never pass the cap', async () => {
    const tableName = await newTable();
    const s = new DynamoConnectionStore({ client: doc, tableName, clock: () => NOW_MS });
    await s.putConnection(record('capped'));
    const reserved = await Promise.all(Array.from({ length: 10 }, () => s.reserveSubscriptionSlots('capped', 20, 20)));
    expect(reserved.filter((r) => r.ok && r.value)).toHaveLength(1);
    expect(await s.reserveSubscriptionSlots('capped', 1, 20)).toEqual({ ok: true, value: false });
    expect((await s.releaseSubscriptionSlots('capped', 5)).ok).toBe(true);
    expect(await s.reserveSubscriptionSlots('capped', 5, 20)).toEqual({ ok: true, value: true });
    expect(await s.reserveSubscriptionSlots('no-such-connection', 1, 20)).toEqual({ ok: true, value: false });
    const got = await s.getConnection('capped');
    expect(got.ok && got.value?.subscriptionCount).toBe(20);
  });

  it('claims keep-alive generations with one conditional write each: duplicates lose, release undoes, a new chain starts over', async () => {
    const tableName = await newTable();
    const s = new DynamoConnectionStore({ client: doc, tableName, clock: () => NOW_MS });
    expect(await s.claimKeepAlive('ka', { since: 5, generation: 0 })).toEqual({ ok: true, value: false }); // no connection
    await s.putConnection(record('ka'));
    const claims = await Promise.all([0, 1, 2, 3].map(() => s.claimKeepAlive('ka', { since: 5, generation: 0 })));
    expect(claims.filter((c) => c.ok && c.value)).toHaveLength(1);
    expect(await s.claimKeepAlive('ka', { since: 5, generation: 0 })).toEqual({ ok: true, value: false });
    expect(await s.claimKeepAlive('ka', { since: 5, generation: 1 })).toEqual({ ok: true, value: true });
    expect((await s.releaseKeepAlive('ka', { since: 5, generation: 1 })).ok).toBe(true);
    expect(await s.claimKeepAlive('ka', { since: 5, generation: 1 })).toEqual({ ok: true, value: true });
    expect(await s.claimKeepAlive('ka', { since: 9, generation: 0 })).toEqual({ ok: true, value: true });
  });

  it('deleteConnections with ifConnectedAt deletes only the same connection (or one whose record is gone)', async () => {
    const tableName = await newTable();
    const s = new DynamoConnectionStore({ client: doc, tableName, clock: () => NOW_MS });
    for (const id of ['same', 'other', 'orphan']) {
      if (id !== 'orphan') await s.putConnection(record(id, { connectedAt: id === 'same' ? NOW_MS : NOW_MS + 1 }));
      await s.subscribe(owner(id, LATER), ['ch-a', 'ch-b']);
    }
    const ifConnectedAt = new Map([
      ['same', NOW_MS],
      ['other', NOW_MS],
      ['orphan', NOW_MS],
    ]);
    expect((await s.deleteConnections(['same', 'other', 'orphan'], { ifConnectedAt })).ok).toBe(true);
    const left = await ddb.send(new ScanCommand({ TableName: tableName }));
    expect(left.Items?.map((i) => `${i.connectionId?.S}/${i.channel?.S}`).sort()).toEqual([
      'other/$connection',
      'other/ch-a',
      'other/ch-b',
    ]);
  });

  it('pages 2,500 subscribers: disjoint ranges cover every one exactly once, other channels excluded', async () => {
    const tableName = await newTable();
    const s = new DynamoConnectionStore({ client: doc, tableName, clock: () => NOW_MS, concurrency: 16 });
    const ids = Array.from({ length: 2500 }, (_, i) => `conn-${i.toString(36)}-${(i * 7919) % 10007}`);
    const limitWrites = 16;
    for (let i = 0; i < ids.length; i += limitWrites) {
      await Promise.all(ids.slice(i, i + limitWrites).map((id) => s.subscribe(owner(id, LATER), ['big'])));
    }
    await s.subscribe(owner('other-conn', LATER), ['small']);

    const whole = await allPages(s, 'big', 0, BUCKET_SPACE, 300);
    expect(whole.ids).toHaveLength(2500);
    expect(new Set(whole.ids)).toEqual(new Set(ids));
    expect(whole.pages).toBeGreaterThanOrEqual(9);
    const keys = whole.ids.map(subscriptionIndexKey);
    expect(keys).toEqual([...keys].sort());

    // uneven split points, including the edges of the bucket space
    const cuts = [0, 1, 4096, 4097, 30_000, 65_000, 65_535, BUCKET_SPACE];
    const pieces: string[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const part = await allPages(s, 'big', cuts[i]!, cuts[i + 1]!, 97);
      for (const id of part.ids) {
        expect(bucketOf(id)).toBeGreaterThanOrEqual(cuts[i]!);
        expect(bucketOf(id)).toBeLessThan(cuts[i + 1]!);
      }
      pieces.push(...part.ids);
    }
    expect(pieces).toHaveLength(2500);
    expect(new Set(pieces)).toEqual(new Set(ids));

    // a single bucket: exactly the ids hashing to it
    const b = bucketOf(ids[0]!);
    const single = await allPages(s, 'big', b, b + 1, 10);
    expect(single.ids).toEqual(
      ids.filter((id) => bucketOf(id) === b).sort((x, y) => (subscriptionIndexKey(x) < subscriptionIndexKey(y) ? -1 : 1)),
    );

    // the index carries what fan-out decides per subscriber: here, when the connection was accepted
    const small = await s.pageSubscribers('small', { from: 0, to: BUCKET_SPACE }, null, 10);
    expect(small).toEqual({
      ok: true,
      value: { subscribers: [{ connectionId: 'other-conn', connectedAt: NOW_MS }], cursor: null, lastBucket: null },
    });
    const none = await s.pageSubscribers('nobody-here', { from: 0, to: BUCKET_SPACE }, null, 10);
    expect(none).toEqual({ ok: true, value: { subscribers: [], cursor: null, lastBucket: null } });
  });

  it('a cursor resumes exactly where the previous page stopped', async () => {
    const tableName = await newTable();
    const s = new DynamoConnectionStore({ client: doc, tableName, clock: () => NOW_MS });
    const ids = Array.from({ length: 25 }, (_, i) => `resume-${i}`);
    for (const id of ids) await s.subscribe(owner(id, LATER), ['r']);
    const first = await s.pageSubscribers('r', { from: 0, to: BUCKET_SPACE }, null, 10);
    if (!first.ok) throw new Error(first.error.message);
    const firstIds = first.value.subscribers.map((sub) => sub.connectionId);
    expect(firstIds).toHaveLength(10);
    expect(first.value.cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(first.value.lastBucket).toBe(bucketOf(firstIds[9]!));
    const second = await s.pageSubscribers('r', { from: 0, to: BUCKET_SPACE }, first.value.cursor, 100);
    if (!second.ok) throw new Error(second.error.message);
    const secondIds = second.value.subscribers.map((sub) => sub.connectionId);
    expect(second.value.cursor).toBeNull();
    expect([...firstIds, ...secondIds].sort()).toEqual([...ids].sort());
    // a cursor is bound to its range: reusing it with a range that excludes its position is invalid
    const pos = bucketOf(firstIds[9]!);
    expect(pos).toBeGreaterThan(0); // the ids are fixed: the tenth in index order is never in bucket 0
    const wrong = await s.pageSubscribers('r', { from: 0, to: pos }, first.value.cursor, 10);
    expect(!wrong.ok && wrong.error.kind).toBe('invalid');
  });

  it('filters expired subscriptions out of pages, still reaching the live ones behind them', async () => {
    const tableName = await newTable();
    const s = new DynamoConnectionStore({ client: doc, tableName, clock: () => NOW_MS });
    const live = Array.from({ length: 5 }, (_, i) => `live-${i}`);
    const dead = Array.from({ length: 40 }, (_, i) => `dead-${i}`);
    for (const id of live) await s.subscribe(owner(id, LATER), ['exp']);
    for (const id of dead) await s.subscribe(owner(id, NOW_S - 1), ['exp']);
    await s.subscribe(owner('edge', NOW_S), ['exp']); // expiresAt == now counts as expired
    const all = await allPages(s, 'exp', 0, BUCKET_SPACE, 3);
    expect(all.ids.sort()).toEqual([...live].sort());
  });

  it('reports malformed cursors, bad ranges and limits as invalid, never throwing', async () => {
    const whole = { from: 0, to: BUCKET_SPACE };
    for (const cursor of ['%%%', 'bm90IGpzb24', Buffer.from('{"x":1}').toString('base64url'), '']) {
      const r = await store.pageSubscribers('c', whole, cursor, 10);
      expect(!r.ok && r.error.kind).toBe('invalid');
    }
    for (const range of [
      { from: 5, to: 5 },
      { from: -1, to: 3 },
      { from: 0, to: BUCKET_SPACE + 1 },
      { from: 1.5, to: 3 },
    ]) {
      const r = await store.pageSubscribers('c', range, null, 10);
      expect(!r.ok && r.error.kind).toBe('invalid');
    }
    const r = await store.pageSubscribers('c', whole, null, 0);
    expect(!r.ok && r.error.kind).toBe('invalid');
  });

  it('a stored item of the wrong shape is an invalid error, not a throw', async () => {
    await doc.send(new PutCommand({ TableName: mainTable, Item: { connectionId: 'broken', channel: '$connection', meta: 'x' } }));
    const r = await store.getConnection('broken');
    expect(!r.ok && r.error.kind).toBe('invalid');
  });

  it('translates a missing table into invalid and an unreachable endpoint into unavailable', async () => {
    const missing = new DynamoConnectionStore({ client: doc, tableName: 'NoSuchTable' });
    const r = await missing.getConnection('x');
    expect(!r.ok && r.error.kind).toBe('invalid');
    expect(!r.ok && r.error.message).toMatch(/ResourceNotFoundException/);

    const deadClient = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:1',
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    const dead = new DynamoConnectionStore({ client: DynamoDBDocumentClient.from(deadClient), tableName: connectionsTable.localName });
    const d = await dead.putConnection(record('x'));
    expect(!d.ok && d.error.kind).toBe('unavailable');
    deadClient.destroy();
  });
});
