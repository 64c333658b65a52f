/**
 * The rest of Pushpin's WebSocket-over-HTTP surface end to end (issue 11 §6): `Keep-Alive-Interval` polling, an
 * empty (deferring) OPEN reply, and the publish `refresh` action. Pushpin's minimum interval is 20 s; these runs
 * lower it to 1 s (`keepAliveIntervalMinSeconds`) so the behaviour shows in seconds (`npm run conformance` runs the
 * 20 s versions against Pushpin).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '#src/client/publisher.js';
import { WebSocketReply } from '#src/client/index.js';
import { ClientPool, E2E_KEY, startE2E, waitFor, type E2EStack } from '#test-helpers/e2e.js';

describe('Keep-Alive-Interval, deferred OPEN and refresh, end to end', () => {
  let e2e: E2EStack;
  const clients = new ClientPool();
  beforeAll(async () => {
    e2e = await startE2E({ delivery: 'direct', settings: { keepAliveIntervalMinSeconds: 1 } });
  });
  afterAll(async () => {
    await clients.closeAll();
    await e2e?.stop();
  });
  const emptyRequests = (id: string) => e2e.backend.of(id).filter((r) => !r.isOpening && r.events.length === 0);

  it('polls an idle connection with empty requests about an interval apart, and the backend’s answers reach the client', async () => {
    let polls = 0;
    e2e.backend.route('/poll', (ws) => {
      if (ws.isOpening) return new WebSocketReply().accept().pollEvery(1).toResponse();
      if (ws.events.length === 0) return new WebSocketReply().send(`poll ${++polls}`).toResponse();
      return new WebSocketReply().toResponse();
    });
    const client = await clients.connect(`${e2e.stack.wsUrl}/poll`);
    const id = e2e.backend.connectionIdOf('/poll');
    expect(await client.nth(1)).toBe('poll 1');
    expect(await client.nth(2)).toBe('poll 2');
    const [first, second] = emptyRequests(id).map((r) => r.receivedAt);
    // An interval of 1 s (due at most half a second early), fired through whole-second queue delays: never back to back.
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThan(300);
    client.ws.close(1000);
    await client.closed;
    const after = emptyRequests(id).length;
    await waitFor(async () => (await e2e.itemsOf(id)).length === 0, 'the connection to be forgotten');
    await new Promise((r) => setTimeout(r, 2_500));
    expect(emptyRequests(id).length).toBe(after);
  });

  it('turns polling off when a reply sets Keep-Alive-Interval to 0', async () => {
    // 2 s, so a slow lane on a busy machine cannot let the next poll fire before the reply that stops them lands.
    e2e.backend.route('/poll-off', (ws) =>
      ws.isOpening ? new WebSocketReply().accept().pollEvery(2).toResponse() : new WebSocketReply().pollEvery(0).send('off').toResponse(),
    );
    const client = await clients.connect(`${e2e.stack.wsUrl}/poll-off`);
    const id = e2e.backend.connectionIdOf('/poll-off');
    expect(await client.nth(1)).toBe('off');
    await new Promise((r) => setTimeout(r, 4_500));
    expect(emptyRequests(id)).toHaveLength(1);
  });

  it('an empty OPEN reply with Keep-Alive-Interval keeps the handshake pending until the OPEN asked again is accepted', async () => {
    let opens = 0;
    e2e.backend.route('/deferred', (ws) => {
      if (!ws.isOpening) return new WebSocketReply().toResponse();
      opens++;
      return opens === 1 ? new WebSocketReply().pollEvery(1).toResponse() : new WebSocketReply().accept().send('finally').toResponse();
    });
    const started = Date.now();
    const client = await clients.connect(`${e2e.stack.wsUrl}/deferred`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(opens).toBe(2);
    expect(await client.nth(1)).toBe('finally');
  });

  it('a refresh publish makes each subscriber’s session send the backend a request now', async () => {
    e2e.backend.route('/refresh', (ws) => {
      if (ws.isOpening) return new WebSocketReply().accept().subscribe('refresh-me').toResponse();
      return ws.events.length === 0 ? new WebSocketReply().send('state').toResponse() : new WebSocketReply().toResponse();
    });
    const a = await clients.connect(`${e2e.stack.wsUrl}/refresh`);
    const b = await clients.connect(`${e2e.stack.wsUrl}/refresh`);
    const ids = e2e.backend.requests.filter((r) => r.isOpening && r.path === '/refresh').map((r) => r.connectionId);
    await waitFor(async () => {
      const items = await Promise.all(ids.map((id) => e2e.itemsOf(id)));
      return items.every((i) => i.some((item) => item['channel'] === 'refresh-me'));
    }, 'both subscriptions');
    const control = new ControlClient({ url: e2e.stack.controlUrl, key: E2E_KEY, iss: 'e2e-tests', retry: false });
    await control.refreshChannel('refresh-me');
    expect(await a.nth(1)).toBe('state');
    expect(await b.nth(1)).toBe('state');
    for (const id of ids) expect(emptyRequests(id)).toHaveLength(1);
  });
});
