import { describe, expect, it } from 'vitest';
import { closingEvent, onDisconnect, tellBackendAtShutdown } from '#src/domain/session/disconnect.js';
import { backendError, httpReply, storeError } from '#test-helpers/fakes.js';
import { connectionRecord, sessionHarness } from '#test-helpers/harness.js';

const ID = 'L0SM9cOFvHcCIhw=';

function connected() {
  const h = sessionHarness();
  h.store.seedConnection(connectionRecord(ID, { meta: { user: 'alice' } }));
  h.store.seedSubscribers('room', [ID]);
  h.store.seedSubscribers('news', [ID]);
  return h;
}

describe('closingEvent', () => {
  it('maps API Gateway’s close codes the way Pushpin reports closes', () => {
    expect(closingEvent(1000, 'bye')).toEqual({ type: 'CLOSE', code: 1000, reason: 'bye' });
    expect(closingEvent(4001, null)).toEqual({ type: 'CLOSE', code: 4001, reason: '' });
    expect(closingEvent(1005, 'Client-side close frame status not set')).toEqual({ type: 'CLOSE', code: null, reason: '' });
    expect(closingEvent(1006, 'Going away')).toEqual({ type: 'DISCONNECT' });
    expect(closingEvent(null, null)).toEqual({ type: 'DISCONNECT' });
    expect(closingEvent(1015, null)).toEqual({ type: 'DISCONNECT' });
    expect(closingEvent(999, null)).toEqual({ type: 'DISCONNECT' });
    expect(closingEvent(5000, null)).toEqual({ type: 'DISCONNECT' });
  });
});

describe('onDisconnect', () => {
  it('does not tell the backend about a detached connection (its side closed at the detach), and forgets it', async () => {
    const h = sessionHarness();
    h.store.seedConnection(connectionRecord(ID, { detached: true }));
    h.store.seedSubscribers('room', [ID]);

    const outcome = await onDisconnect(h.deps, { connectionId: ID, statusCode: 4003, reason: 'bye' });

    expect(outcome).toEqual({ kind: 'disconnected', backendNotified: false, itemsDeleted: true });
    expect(h.backend.requests).toEqual([]);
    expect(h.store.indexOf('room')).toEqual([]);
  });

  it('forgets the connection before asking the backend, so a slow or unreachable backend never delays it', async () => {
    const h = connected();
    let indexWhenAsked: unknown[] | null = null;
    h.backend.respond(() => {
      indexWhenAsked = h.store.indexOf('room');
      return { error: { kind: 'connect', message: 'ECONNREFUSED' } };
    });

    await onDisconnect(h.deps, { connectionId: ID, statusCode: 1000, reason: 'bye' });

    expect(indexWhenAsked).toEqual([]);
    expect(h.backend.requests[0]?.headers).toMatchObject({ 'Meta-user': 'alice' });
  });

  it('a close with a code sends CLOSE <code><reason>, then deletes every item', async () => {
    const h = connected();

    const outcome = await onDisconnect(h.deps, { connectionId: ID, statusCode: 1000, reason: 'bye' });

    expect(outcome).toEqual({ kind: 'disconnected', backendNotified: true, itemsDeleted: true });
    expect(h.backend.bodyText()).toBe('CLOSE 5\r\n\x03\xe8bye\r\n');
    expect(h.backend.requests[0]?.headers).toMatchObject({ 'Connection-Id': ID, 'Meta-user': 'alice', 'Grip-Sig': h.signer.token });
    expect(h.store.hasItems(ID)).toBe(false);
    expect(h.store.indexOf('room')).toEqual([]);
    expect(h.metrics.total('ConnectionsClosed')).toBe(1);
  });

  it('a close frame without a code (1005) sends CLOSE with no content', async () => {
    const h = connected();
    await onDisconnect(h.deps, { connectionId: ID, statusCode: 1005, reason: 'Client-side close frame status not set' });
    expect(h.backend.bodyText()).toBe('CLOSE\r\n');
  });

  it('a vanished client (1006) or an unknown code sends DISCONNECT', async () => {
    const h = connected();
    await onDisconnect(h.deps, { connectionId: ID, statusCode: 1006, reason: 'Going away' });
    expect(h.backend.bodyText()).toBe('DISCONNECT\r\n');

    const none = connected();
    await onDisconnect(none.deps, { connectionId: ID, statusCode: null, reason: null });
    expect(none.backend.bodyText()).toBe('DISCONNECT\r\n');
  });

  it('ignores what the backend answers and sends nothing to the client', async () => {
    const h = connected();
    h.backend.respond(httpReply(500, 'boom'));

    const outcome = await onDisconnect(h.deps, { connectionId: ID, statusCode: 1000, reason: '' });

    expect(outcome.itemsDeleted).toBe(true);
    expect(h.sender.calls).toEqual([]);
  });

  it('deletes the items even when the backend is down', async () => {
    const h = connected();
    h.backend.respond(backendError('timeout'));

    const outcome = await onDisconnect(h.deps, { connectionId: ID, statusCode: 1001, reason: null });

    expect(outcome).toEqual({ kind: 'disconnected', backendNotified: false, itemsDeleted: true });
    expect(h.store.hasItems(ID)).toBe(false);
    expect(h.log.find('warn', ID)).toHaveLength(1);
  });

  it('deletes the items even when the record is missing or cannot be read (no backend call then)', async () => {
    const missing = sessionHarness();
    missing.store.seedSubscribers('room', ['orphan']);
    const outcome = await onDisconnect(missing.deps, { connectionId: 'orphan', statusCode: 1000, reason: null });
    expect(outcome).toEqual({ kind: 'disconnected', backendNotified: false, itemsDeleted: true });
    expect(missing.backend.requests).toHaveLength(0);
    expect(missing.store.hasItems('orphan')).toBe(false);

    const unreadable = connected();
    unreadable.store.failOnce('getConnection');
    await onDisconnect(unreadable.deps, { connectionId: ID, statusCode: 1000, reason: null });
    expect(unreadable.backend.requests).toHaveLength(0);
    expect(unreadable.store.hasItems(ID)).toBe(false);
  });

  it('reports a failed delete (TTL will clean up) without throwing', async () => {
    const h = connected();
    h.store.fail('deleteConnections', storeError('throttled'));

    const outcome = await onDisconnect(h.deps, { connectionId: ID, statusCode: 1000, reason: null });

    expect(outcome).toEqual({ kind: 'disconnected', backendNotified: true, itemsDeleted: false });
    expect(h.log.find('error', ID)).toHaveLength(1);
  });

  it('is idempotent: a second disconnect finds nothing, tells nobody and still succeeds', async () => {
    const h = connected();
    await onDisconnect(h.deps, { connectionId: ID, statusCode: 1000, reason: null });

    const again = await onDisconnect(h.deps, { connectionId: ID, statusCode: 1000, reason: null });

    expect(again).toEqual({ kind: 'disconnected', backendNotified: false, itemsDeleted: true });
    expect(h.backend.requests).toHaveLength(1);
    expect(h.store.hasItems(ID)).toBe(false);
  });
});

describe('tellBackendAtShutdown', () => {
  const map = <T, R>(items: readonly T[], fn: (item: T) => Promise<R>) => Promise.all(items.map(fn));

  it('tells the backend about each known connection in one batch read, and touches no item', async () => {
    const h = connected();
    const outcome = await tellBackendAtShutdown(
      { ...h.deps, connections: h.store },
      [
        { connectionId: ID, statusCode: 1001, reason: 'Going away' },
        { connectionId: 'UNKNOWNUNKNOWN==', statusCode: 1001, reason: 'Going away' },
      ],
      map,
    );
    expect(outcome).toEqual({ told: 1, failed: 0, unknown: 1, dropped: 0 });
    expect(h.backend.bodyText()).toContain('CLOSE');
    expect(h.backend.requests[0]?.headers).toMatchObject({ 'Connection-Id': ID, 'Meta-user': 'alice' });
    expect(h.store.hasItems(ID)).toBe(true);
  });

  it('starts no request past its deadline, and counts what it dropped', async () => {
    const h = connected();
    const outcome = await tellBackendAtShutdown(
      { ...h.deps, connections: h.store },
      [{ connectionId: ID, statusCode: 1001, reason: '' }],
      map,
      h.time.now - 1,
    );
    expect(outcome).toEqual({ told: 0, failed: 0, unknown: 0, dropped: 1 });
    expect(h.backend.requests).toEqual([]);
  });
});
