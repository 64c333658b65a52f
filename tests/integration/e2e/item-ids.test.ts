/**
 * Pushpin's id cache (issue 11 §3): an item published twice with the same `id` to a channel reaches subscribers
 * once; the same id on another channel is another item. On main the repeat arrived twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '#src/client/publisher.js';
import { ClientPool, E2E_KEY, startE2E, type E2EStack } from '#test-helpers/e2e.js';

describe('item ids, end to end', () => {
  let e2e: E2EStack;
  const clients = new ClientPool();
  beforeAll(async () => {
    e2e = await startE2E({ delivery: 'direct' });
  });
  afterAll(async () => {
    await clients.closeAll();
    await e2e?.stop();
  });

  it('delivers a repeated id once per channel, within the id cache TTL', async () => {
    const client = await clients.connect(`${e2e.stack.wsUrl}/pub/ids?channel=ids-a&channel=ids-b`);
    const control = new ControlClient({ url: e2e.stack.controlUrl, key: E2E_KEY, iss: 'e2e-tests', retry: false });
    await control.publish('ids-a', 'first', { id: 'same-id' });
    await control.publish('ids-a', 'repeat', { id: 'same-id' });
    await control.publish('ids-b', 'other channel', { id: 'same-id' });
    await control.publish('ids-a', 'last', { id: 'another-id' });
    await client.nth(3);
    await control.publish('ids-a', 'end');
    await client.nth(4);
    // One channel's items arrive in order ('end' after any repeat); the two channels' relative order is free.
    expect([...client.messages].sort()).toEqual(['end', 'first', 'last', 'other channel']);
  });
});
