/**
 * GRIP `keep-alive` end to end: a backend asks for heartbeats in its OPEN reply, an idle client receives them
 * through the delayed queue and the worker, and once the client has left the chain of scheduled heartbeats
 * ends: nothing more is posted to it and nothing is left on the queue.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketReply } from '#src/client/index.js';
import type { LocalDelivery } from '#src/local/start.js';
import { ClientPool, startE2E, waitFor, type E2EStack } from '#test-helpers/e2e.js';

describe.each<LocalDelivery>(['direct', 'management-api'])('keep-alive end to end, %s delivery', (delivery) => {
  let e2e: E2EStack;
  const clients = new ClientPool();

  beforeAll(async () => {
    e2e = await startE2E({ delivery });
  });
  afterEach(() => clients.closeAll());
  afterAll(() => e2e?.stop());

  it('sends heartbeats to an idle client and stops once it has left', async () => {
    e2e.backend.route('/heartbeat', (ws) =>
      ws.isOpening
        ? new WebSocketReply().accept().send('welcome').keepAlive({ content: '{"type":"hb"}', timeout: 1 }).toResponse()
        : new WebSocketReply().toResponse(),
    );
    const client = await clients.connect(`${e2e.stack.wsUrl}/heartbeat`);
    const id = e2e.backend.connectionIdOf('/heartbeat');
    expect(await client.nth(1)).toBe('welcome');
    await client.nth(3);
    expect(client.messages.slice(1, 3)).toEqual(['{"type":"hb"}', '{"type":"hb"}']);
    // The client never sent anything: the heartbeats alone kept it busy.
    expect(e2e.backend.of(id)).toHaveLength(1);
    // While the chain runs, its next heartbeat waits on the delayed queue.
    expect(await e2e.delayedQueueDepth()).toBeGreaterThan(0);

    client.ws.close(1000, 'bye');
    await client.closed;
    await waitFor(async () => (await e2e.itemsOf(id)).length === 0, 'the connection items to be deleted');
    // Each heartbeat job schedules the next before it is deleted, so a live chain always holds a message on the
    // delayed queue; an empty queue means the chain has ended and nothing is left that could post to the client.
    await waitFor(async () => (await e2e.delayedQueueDepth()) === 0, 'the keep-alive chain to end (delayed queue empty)');
    expect(e2e.log.entries.filter((l) => l.level === 'error')).toEqual([]);
  });
});
