/**
 * GRIP keep-alives in local mode, end to end: a backend asks for heartbeats in its OPEN reply, they travel as
 * delayed queue messages (one per connection per period, never a table scan) through the real fauxqs queue,
 * reach the idle client, and the chain ends with one last check after the client leaves.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startLocal, type LocalStack } from '#src/local/start.js';
import { openClient, type TestClient } from '../local/support.js';
import { queueDepth, waitFor } from '#test-helpers/e2e.js';
import { startTestBackend, type TestBackend } from './support.js';
import { RecordingLog } from '#test-helpers/fakes.js';

describe('keep-alive heartbeats through the delayed queue', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('reach idle connections in interval and idle mode, and stop after the connection leaves', async () => {
    const log = new RecordingLog();
    const backend: TestBackend = await startTestBackend();
    cleanups.push(() => backend.stop());
    const stack: LocalStack = await startLocal({
      wsPort: 0,
      controlPort: 0,
      targetUrl: backend.url,
      log,
      worker: { waitTimeSeconds: 1 },
      sweepIntervalMs: 3_600_000,
    });
    cleanups.push(async () => void (await stack.stop()));

    const modes = ['interval', 'idle'] as const;
    const clients = new Map<string, TestClient>();
    for (const mode of modes) clients.set(mode, await openClient(`${stack.wsUrl}/?ka=hb-${mode}&kt=1&km=${mode}&tag=${mode}`));
    const heartbeats = (mode: string): number => clients.get(mode)?.received.filter((r) => r.data === `hb-${mode}`).length ?? 0;

    // Nothing but heartbeats is ever sent to these clients, and they send nothing: they are idle.
    await waitFor(() => modes.every((m) => heartbeats(m) >= 2), 'two heartbeats on each connection', 15_000);
    for (const c of clients.values()) expect(c.received.every((r) => typeof r.data === 'string' && r.data.startsWith('hb-'))).toBe(true);

    const ids = modes.map((m) => backend.opened.get(m) ?? '');
    for (const c of clients.values()) {
      c.ws.close(1000);
      await c.closed;
    }
    const ended = (id: string) =>
      log.entries.filter((l) => l.message === 'keep-alive chain ended' && l.attributes?.['connectionId'] === id).length;
    // The job already scheduled fires once more and schedules nothing: it finds the connection gone (the chain
    // ends), or, if it fires while the close is still being processed, its post answers 410 (the chain ends
    // and the connection's items are deleted). Either way the delayed lane empties and stays empty.
    const lastChecks = () => ids.reduce((n, id) => n + ended(id), 0) + stack.metrics.counter('DeliveriesGone');
    await waitFor(
      async () =>
        lastChecks() >= ids.length &&
        stack.pollers.delayed.stats().inFlight === 0 &&
        (await queueDepth(stack.clients.sqs, stack.queues.delayedQueueUrl)) === 0,
      'the keep-alive chains to end',
      10_000,
    );
    expect(ids.every((id) => id !== '' && ended(id) <= 1)).toBe(true);
    expect(lastChecks()).toBe(ids.length);
  }, 60_000);
});
