/**
 * One noisy client must not slow the others (issue 10: a 2,000-message burst from one client raised another's
 * round trip from 8 ms to 3.7 s). Each connection gets a bounded number of `$default` invocations in flight and a
 * message rate; past them its socket is not read (backpressure): nothing is dropped, and a quiet client's
 * message overtakes the noisy client's backlog. Asserted by counts and order, never by time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketReply } from '#src/client/index.js';
import { ClientPool, startE2E, waitFor, type E2EStack } from '#test-helpers/e2e.js';

const BURST = 200;
const CONCURRENCY = 4;

describe('fair share per connection in the local gateway', () => {
  let e2e: E2EStack;
  const clients = new ClientPool();
  let inFlight = 0;
  let maxInFlight = 0;
  let answered = 0;

  beforeAll(async () => {
    e2e = await startE2E({ delivery: 'direct', limits: { clientMessageConcurrency: CONCURRENCY, clientMessageRate: 2_000 } });
    e2e.backend.route('/noisy', async (ws) => {
      if (ws.isOpening) return new WebSocketReply().accept().toResponse();
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(2);
      inFlight--;
      answered += ws.events.filter((e) => e.type === 'TEXT').length;
      return new WebSocketReply().toResponse();
    });
  });
  afterAll(async () => {
    await clients.closeAll();
    await e2e?.stop();
  });

  it('bounds one client’s invocations in flight, drops none of its burst, and lets a quiet client through first', async () => {
    const noisy = await clients.connect(`${e2e.stack.wsUrl}/noisy`);
    const quiet = await clients.connect(`${e2e.stack.wsUrl}/quiet`);
    for (let i = 0; i < BURST; i++) noisy.ws.send(`n${i}`);
    await waitFor(() => answered > 0, 'the noisy burst to start reaching the backend');
    quiet.ws.send('echo:hello');
    expect(await quiet.nth(1)).toBe('hello');
    const answeredWhenQuietWasServed = answered;

    await waitFor(() => answered === BURST, 'every message of the burst to reach the backend', 30_000);
    expect(maxInFlight).toBeLessThanOrEqual(CONCURRENCY);
    expect(answeredWhenQuietWasServed).toBeLessThan(BURST / 2);
  });
});
