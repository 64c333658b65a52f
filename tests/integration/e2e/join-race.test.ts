/**
 * The join race (issue 9): a channel job that reaches a client while its `$connect` is still completing gets a
 * 410 (API Gateway answers 410 until the handshake is done, and so does the local gateway). That 410 must not
 * delete the joining client's items: the client must stay subscribed and receive every publish made after its
 * handshake completed. Without the join grace it fails every run: 25 clients join while about 50 publishes/s arrive (measured here).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '#src/client/publisher.js';
import { ClientPool, E2E_KEY, startE2E, waitFor, type E2EClient, type E2EStack } from '#test-helpers/e2e.js';

describe('clients joining a busy channel', () => {
  let e2e: E2EStack;
  let control: ControlClient;
  const clients = new ClientPool();

  beforeAll(async () => {
    e2e = await startE2E({ delivery: 'direct' });
    control = new ControlClient({ url: e2e.stack.controlUrl, key: E2E_KEY, iss: 'e2e-tests', retry: false });
  });
  afterEach(() => clients.closeAll());
  afterAll(() => e2e?.stop());

  it('stay subscribed and receive every publish made after their handshake, while publishes keep arriving', async () => {
    const channel = 'busy';
    const started: number[] = []; // publish n (its content) → when its request started
    let publishing = true;
    const publisher = (async () => {
      // At least 20 publishes, however slow a loaded machine makes them, and on until every client has joined.
      for (let n = 0; publishing || n < 20; n++) {
        started[n] = Date.now();
        await control.publish(channel, String(n));
        await sleep(5);
      }
    })();

    const joined: { client: E2EClient; openedAt: number }[] = [];
    await Promise.all(
      Array.from({ length: 25 }, async (_, i) => {
        await sleep(i * 40);
        const client = await clients.connect(`${e2e.stack.wsUrl}/pub/j${i}?channel=${channel}`);
        joined.push({ client, openedAt: Date.now() });
      }),
    );
    await sleep(300);
    publishing = false;
    await publisher;
    await control.publish(channel, 'end');

    for (const { client, openedAt } of joined) {
      await waitFor(() => client.messages.includes('end'), 'every joined client to get the last publish');
      const received = new Set(client.messages);
      const missed = started.flatMap((at, n) => (at > openedAt && !received.has(String(n)) ? [n] : []));
      expect(missed).toEqual([]);
    }
    expect(started.length).toBeGreaterThanOrEqual(20);
  });
});
