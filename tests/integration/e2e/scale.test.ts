/**
 * A thousand clients on one channel all receive a publish, through the whole local stack. Correctness only: how
 * fast belongs to the benchmarks. Clients open in bounded batches, as real traffic would ramp up.
 *
 * The channel is read in pages of 100. With 1,000 subscribers the first job splits the rest of its bucket range
 * into jobs of their own; with 250 one job usually reads three pages in turn (it splits when the first page's
 * random ids happen to be sparse, about one run in fifty). Either way every subscriber must get each
 * message exactly once, in order. The Management API path runs with the smaller crowd (still more deliveries than
 * its connection pool has sockets) to keep the suite's time down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '#src/client/publisher.js';
import type { LocalDelivery } from '#src/local/start.js';
import { ClientPool, E2E_KEY, startE2E, waitFor, type E2EStack } from '#test-helpers/e2e.js';

const PAGE_SIZE = 100;

describe.each<[LocalDelivery, number]>([
  ['direct', 1_000],
  ['management-api', 250],
])('one channel, %s delivery, %i subscribers', (delivery, crowd) => {
  let e2e: E2EStack;
  const clients = new ClientPool();

  beforeAll(async () => {
    e2e = await startE2E({ delivery, settings: { fanoutPageSize: PAGE_SIZE } });
  });
  afterAll(async () => {
    await clients.closeAll();
    await e2e?.stop();
  });

  it('delivers each publish to every subscriber exactly once, in order', async () => {
    const all = await clients.connectMany(crowd, (i) => `${e2e.stack.wsUrl}/crowd/${i}?channel=crowd`, 50);
    const control = new ControlClient({ url: e2e.stack.controlUrl, key: E2E_KEY, iss: 'e2e-tests', retry: false });
    await control.publish('crowd', 'to everyone');
    // A second publish: every subscriber must get both, once each and in order (a duplicate or a swap would show).
    await control.publish('crowd', 'and again');
    for (const client of all) await client.nth(2, 60_000);
    // A duplicate would come from a retry or a redelivery: only once no work is left can "exactly once" be judged.
    await waitFor(() => e2e.drained(), 'the fan-out work to drain');
    const wrong = all.filter((c) => c.messages.length !== 2 || c.messages[0] !== 'to everyone' || c.messages[1] !== 'and again');
    expect(wrong.map((c) => c.messages)).toEqual([]);
    // Ten pages: the first page's density predicts far more than two further pages, so the channel really was split
    // across jobs. With 250 the estimate straddles the threshold (random ids), so either path is correct there.
    if (crowd >= 10 * PAGE_SIZE) expect(e2e.stack.metrics.counter('JobsSplit')).toBeGreaterThan(0);
  }, 120_000);
});
