/**
 * `detach` end to end (issue 11 §4): the backend gets one code-less CLOSE, later client frames never reach it,
 * publishes still reach the client, and the client's own close is not reported to the backend.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ControlClient } from '#src/client/publisher.js';
import { WebSocketReply } from '#src/client/index.js';
import { ClientPool, E2E_KEY, startE2E, waitFor, type E2EStack } from '#test-helpers/e2e.js';
import { setTimeout as sleep } from 'node:timers/promises';

describe('detach, end to end', () => {
  let e2e: E2EStack;
  const clients = new ClientPool();
  afterAll(async () => {
    await clients.closeAll();
    await e2e?.stop();
  });

  it('closes the backend side once, drops later frames, keeps the client subscribed', async () => {
    e2e = await startE2E({ delivery: 'direct' });
    e2e.backend.route('/detach', (ws) => {
      if (ws.isOpening) return new WebSocketReply().accept().subscribe('detached-news').toResponse();
      if (ws.events.some((e) => e.type === 'TEXT' && e.text === 'detach-me'))
        return new WebSocketReply().send('detaching').detach().toResponse();
      return new WebSocketReply().toResponse();
    });
    const client = await clients.connect(`${e2e.stack.wsUrl}/detach`);
    const id = e2e.backend.connectionIdOf('/detach');
    client.ws.send('detach-me');
    expect(await client.nth(1)).toBe('detaching');
    await waitFor(() => e2e.backend.of(id).some((r) => r.events.some((e) => e.type === 'CLOSE')), 'the backend side to be closed');

    client.ws.send('after-1');
    client.ws.send('after-2');
    const control = new ControlClient({ url: e2e.stack.controlUrl, key: E2E_KEY, iss: 'e2e-tests', retry: false });
    await control.publish('detached-news', 'still here');
    expect(await client.nth(2)).toBe('still here');
    client.ws.close(4003, 'bye');
    await client.closed;
    await sleep(300); // give a (wrong) forwarded frame or disconnect report time to arrive

    const events = e2e.backend.of(id).flatMap((r) => r.events.map((e) => e.type + (e.type === 'TEXT' ? `:${e.text}` : '')));
    expect(events).toEqual(['OPEN', 'TEXT:detach-me', 'CLOSE']);
  });
});
