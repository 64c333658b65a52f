/**
 * The core flows of the channel server end to end, through `startLocal`: real `ws` clients, the local gateway,
 * the real handlers and adapters on dynalite and fauxqs, the fan-out worker, and a real backend written with our
 * client library. Each flow runs with in-process delivery (`direct`) and through the local Management API with
 * the real SDK client (`management-api`), where the one visible difference is the close code a server-side close
 * reaches the client with: API Gateway's `DeleteConnection` cannot carry a code, so the client always sees 1000.
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketReply } from '#src/client/index.js';
import { ControlClient } from '#src/client/publisher.js';
import { DynamoConnectionStore } from '#src/adapters/dynamo-connection-store.js';
import { connectionsTable } from '#src/config/resources.js';
import { expiryFor } from '#src/domain/connection.js';
import type { LocalDelivery } from '#src/local/start.js';
import { ClientPool, E2E_KEY, startE2E, waitFor, type E2EStack } from '#test-helpers/e2e.js';

describe.each<LocalDelivery>(['direct', 'management-api'])('end to end, %s delivery', (delivery) => {
  let e2e: E2EStack;
  let control: ControlClient;
  const clients = new ClientPool();
  /** What a server-initiated close with `code` reaches the client as. */
  const closeCodeSeen = (code: number) => (delivery === 'direct' ? code : 1000);

  beforeAll(async () => {
    e2e = await startE2E({ delivery });
    control = new ControlClient({ url: e2e.stack.controlUrl, key: E2E_KEY, iss: 'e2e-tests', retry: false });
  });
  afterEach(() => clients.closeAll());
  afterAll(() => e2e?.stop());

  const ws = (path: string) => `${e2e.stack.wsUrl}${path}`;

  it('delivers a publish to every subscriber of the channel and to nobody else; unsubscribe stops it', async () => {
    const a1 = await clients.connect(ws(`/pub/a1?channel=news-${delivery}`));
    const a2 = await clients.connect(ws(`/pub/a2?channel=news-${delivery}`));
    const b = await clients.connect(ws(`/pub/b?channel=sport-${delivery}`));

    await control.publish(`news-${delivery}`, 'first');
    // A second publish on the same channel is processed after the first one has finished (one FIFO group).
    await control.publish(`news-${delivery}`, 'second');
    await Promise.all([a1.nth(2), a2.nth(2)]);
    await control.publish(`sport-${delivery}`, 'score');
    await b.nth(1);
    expect(a1.messages).toEqual(['first', 'second']);
    expect(a2.messages).toEqual(['first', 'second']);
    expect(b.messages).toEqual(['score']);

    a2.ws.send(`unsub:news-${delivery}`);
    const a2Id = e2e.backend.connectionIdOf('/pub/a2');
    await waitFor(async () => !(await e2e.itemsOf(a2Id)).some((i) => i['channel'] === `news-${delivery}`), 'the unsubscribe to be stored');
    await control.publish(`news-${delivery}`, 'third');
    await control.publish(`news-${delivery}`, 'fourth');
    await a1.nth(4);
    // Barrier for a2: a message to it alone. 'third' (whose job had finished once 'fourth' reached a1) would
    // have been sent to a2 before it.
    await control.sendToConnection(a2Id, 'barrier');
    await a2.nth(3);
    expect(a1.messages).toEqual(['first', 'second', 'third', 'fourth']);
    expect(a2.messages).toEqual(['first', 'second', 'barrier']);

    // Subscribing again in a later reply brings the channel back.
    a2.ws.send(`sub:news-${delivery}`);
    await waitFor(async () => (await e2e.itemsOf(a2Id)).some((i) => i['channel'] === `news-${delivery}`), 'the subscribe to be stored');
    await control.publish(`news-${delivery}`, 'fifth');
    expect(await a2.nth(4)).toBe('fifth');
  });

  it('delivers the publishes of a channel in the order they were accepted', async () => {
    const client = await clients.connect(ws(`/order?channel=order-${delivery}`));
    const expected = Array.from({ length: 12 }, (_, i) => `m${i}`);
    for (const text of expected.slice(0, 6)) await control.publish(`order-${delivery}`, text);
    // Several items in one request are applied in their order too.
    await control.publishItems(
      expected.slice(6).map((text) => ({ channel: `order-${delivery}`, formats: { 'ws-message': { content: text } } })),
    );
    await client.nth(expected.length);
    expect(client.messages).toEqual(expected);
  });

  it('shows the client the status and body of a rejection', async () => {
    e2e.backend.route('/reject', () => new WebSocketReply().reject(403, 'members only', { 'X-Reason': 'not-a-member' }));
    const rejection = await clients.rejection(ws('/reject'));
    expect(rejection.status).toBe(403);
    expect(rejection.body).toBe('members only');
    expect(rejection.headers['x-reason']).toBe('not-a-member');
    // No $disconnect for a refused handshake, and nothing stored for it.
    const id = e2e.backend.connectionIdOf('/reject');
    expect(await e2e.itemsOf(id)).toEqual([]);
  });

  it('echoes the subprotocol the backend picked among the client offers, and passes its other headers on', async () => {
    e2e.backend.route('/proto', (request) => {
      const accepted = new WebSocketReply().accept({ subprotocol: 'chat.v2' }).toResponse();
      if (request.isOpening) accepted.headers.set('Set-Cookie', 'theme=dark; Expires=Wed, 21 Oct 2099 07:28:00 GMT');
      return accepted;
    });
    const client = await clients.connect(ws('/proto'), { protocols: ['chat.v1', 'chat.v2'] });
    expect(client.ws.protocol).toBe('chat.v2');
    expect(client.upgradeHeaders['set-cookie']).toEqual(['theme=dark; Expires=Wed, 21 Oct 2099 07:28:00 GMT']);
    const open = e2e.backend.requests.find((r) => r.path === '/proto' && r.isOpening);
    expect(open?.requestedProtocols).toEqual(['chat.v1', 'chat.v2']);
  });

  it('forwards the path and query of the handshake, and the text of messages both ways', async () => {
    const client = await clients.connect(ws('/some/deep/path?room=a%20b&x=1&x=2'));
    client.ws.send('echo:héllo ✓ 🎉');
    expect(await client.nth(1)).toBe('héllo ✓ 🎉');
    client.ws.send('burst:3');
    await client.nth(4);
    expect(client.messages.slice(1)).toEqual(['burst 1', 'burst 2', 'burst 3']);
    const id = e2e.backend.connectionIdOf('/some/deep/path');
    const requests = e2e.backend.of(id);
    expect(requests.map((r) => r.path)).toEqual(['/some/deep/path', '/some/deep/path', '/some/deep/path']);
    expect(requests.map((r) => r.query.getAll('x'))).toEqual([
      ['1', '2'],
      ['1', '2'],
      ['1', '2'],
    ]);
    expect(requests[0]?.query.get('room')).toBe('a b');
    expect(requests[1]?.events).toEqual([{ type: 'TEXT', text: 'echo:héllo ✓ 🎉' }]);
  });

  it('delivers binary publishes as binary frames', async () => {
    const client = await clients.connect(ws(`/binary?channel=bin-${delivery}`));
    await control.publishBinary(`bin-${delivery}`, new Uint8Array([0, 1, 2, 254, 255]));
    expect(await client.nth(1)).toBe('<binary:000102feff>');
  });

  it('keeps at most 20 subscriptions per connection and ignores the rest', async () => {
    const channels = Array.from({ length: 21 }, (_, i) => `many-${delivery}-${String(i).padStart(2, '0')}`);
    await clients.connect(ws(`/many?${channels.map((c) => `channel=${c}`).join('&')}`));
    const id = e2e.backend.connectionIdOf('/many');
    const subscribed = (await e2e.itemsOf(id)).map((i) => i['channel']).filter((c) => c !== '$connection');
    expect(subscribed.sort()).toEqual(channels.slice(0, 20));
  });

  it('sends meta set on open back as Meta-* on later requests, and never the client own Meta-* headers', async () => {
    const client = await clients.connect(ws('/meta?meta-user=alice&meta-room=lobby'), {
      headers: { 'Meta-User': 'mallory', 'X-Custom': 'kept' },
    });
    const id = e2e.backend.connectionIdOf('/meta');
    const open = e2e.backend.of(id)[0];
    expect(open?.headers.get('meta-user')).toBeNull();
    expect(open?.headers.get('x-custom')).toBe('kept');
    client.ws.send('echo:hi');
    await client.nth(1);
    const text = e2e.backend.of(id).find((r) => r.events.some((e) => e.type === 'TEXT'));
    expect(text?.meta).toEqual({ user: 'alice', room: 'lobby' });
    expect(text?.headers.get('meta-user')).toBe('alice');
    expect(text?.headers.get('x-custom')).toBe('kept');
    expect(text?.signed).toBe(true);

    // Meta changed in a later reply is what the requests after it carry.
    // (One message at a time: like API Gateway, the gateway may run one connection's messages concurrently.)
    client.ws.send('meta:user=bob');
    expect(await client.nth(2)).toBe('meta user set');
    client.ws.send('meta:room=');
    expect(await client.nth(3)).toBe('meta room deleted');
    client.ws.send('echo:again');
    await client.nth(4);
    expect(e2e.backend.of(id).at(-1)?.meta).toEqual({ user: 'bob' });
  });

  it('closes the client with the backend close code (1000 through the Management API, as on AWS)', async () => {
    const client = await clients.connect(ws('/backend-close'));
    const id = e2e.backend.connectionIdOf('/backend-close');
    client.ws.send('close:4000:server-bye');
    const closed = await client.closed;
    expect(closed.code).toBe(closeCodeSeen(4000));
    if (delivery === 'direct') expect(closed.reason).toBe('server-bye');
    // As with Pushpin, the close handshake ends with one last CLOSE request to the backend.
    const last = await waitFor(
      () =>
        e2e.backend
          .of(id)
          .flatMap((r) => r.events)
          .find((e) => e.type === 'CLOSE'),
      'the final CLOSE request',
    );
    expect(last).toEqual(
      delivery === 'direct' ? { type: 'CLOSE', code: 4000, reason: 'server-bye' } : { type: 'CLOSE', code: 1000, reason: '' },
    );
    await waitFor(async () => (await e2e.itemsOf(id)).length === 0, 'the connection items to be deleted');
  });

  it('closes every connection of a channel on a publish with action close', async () => {
    const c1 = await clients.connect(ws(`/close-channel/1?channel=doomed-${delivery}`));
    const c2 = await clients.connect(ws(`/close-channel/2?channel=doomed-${delivery}`));
    const other = await clients.connect(ws(`/close-channel/3?channel=safe-${delivery}`));
    await control.closeChannel(`doomed-${delivery}`, { code: 4001, reason: 'room closed' });
    const [closed1, closed2] = await Promise.all([c1.closed, c2.closed]);
    expect(closed1.code).toBe(closeCodeSeen(4001));
    expect(closed2.code).toBe(closeCodeSeen(4001));
    if (delivery === 'direct') expect(closed1.reason).toBe('room closed');
    await control.publish(`safe-${delivery}`, 'still here');
    expect(await other.nth(1)).toBe('still here');
    expect(other.ws.readyState).toBe(other.ws.OPEN);
    // The backend hears of it, and the items go, with the $disconnect that follows the close.
    const id1 = e2e.backend.connectionIdOf('/close-channel/1');
    const close = await waitFor(
      () =>
        e2e.backend
          .of(id1)
          .flatMap((r) => r.events)
          .find((e) => e.type === 'CLOSE'),
      'the CLOSE request',
    );
    expect(close).toMatchObject({ type: 'CLOSE', code: closeCodeSeen(4001) });
    await waitFor(async () => (await e2e.itemsOf(id1)).length === 0, 'the closed connection items to be deleted');
  });

  it('drops the client when the backend answers DISCONNECT, and cleans up', async () => {
    e2e.backend.route('/backend-drop', (request) =>
      request.isOpening
        ? new WebSocketReply().accept().subscribe(`dropped-${delivery}`).toResponse()
        : new WebSocketReply().drop().toResponse(),
    );
    const client = await clients.connect(ws('/backend-drop'));
    const id = e2e.backend.connectionIdOf('/backend-drop');
    client.ws.send('anything');
    // API Gateway cannot drop a connection without a close frame: DeleteConnection closes it with 1000.
    expect((await client.closed).code).toBe(1000);
    await waitFor(async () => (await e2e.itemsOf(id)).length === 0, 'the connection items to be deleted');
  });

  it('tells the backend about a clean client close with its code and reason', async () => {
    const client = await clients.connect(ws('/client-close'));
    const id = e2e.backend.connectionIdOf('/client-close');
    client.ws.close(1000, 'done for today');
    await client.closed;
    const close = await waitFor(
      () =>
        e2e.backend
          .of(id)
          .flatMap((r) => r.events)
          .find((e) => e.type === 'CLOSE' || e.type === 'DISCONNECT'),
      'the CLOSE request',
    );
    expect(close).toEqual({ type: 'CLOSE', code: 1000, reason: 'done for today' });
    await waitFor(async () => (await e2e.itemsOf(id)).length === 0, 'the connection items to be deleted');
  });

  it('tells the backend about an abrupt drop and deletes the connection items', async () => {
    const client = await clients.connect(ws(`/drop?channel=drop-${delivery}&channel=drop2-${delivery}`));
    const id = e2e.backend.connectionIdOf('/drop');
    const before = await e2e.itemsOf(id);
    expect(before.map((i) => i['channel']).sort()).toEqual(['$connection', `drop-${delivery}`, `drop2-${delivery}`]);
    client.ws.terminate();
    const last = await waitFor(
      () =>
        e2e.backend
          .of(id)
          .flatMap((r) => r.events)
          .find((e) => e.type === 'CLOSE' || e.type === 'DISCONNECT'),
      'the DISCONNECT request',
    );
    expect(last.type === 'DISCONNECT' || (last.type === 'CLOSE' && last.code === null)).toBe(true);
    await waitFor(async () => (await e2e.itemsOf(id)).length === 0, 'the connection items to be deleted');
  });

  it('delivers the messages of the OPEN reply right after the handshake', async () => {
    const client = await clients.connect(ws(`/welcome?welcome=hello%20there&channel=welcome-${delivery}`));
    expect(await client.nth(1)).toBe('hello there');
    await control.publish(`welcome-${delivery}`, 'then this');
    expect(await client.nth(2)).toBe('then this');
  });

  it('delivers the messages of an OPEN reply that accepts and closes at once, then closes', async () => {
    e2e.backend.route('/full', () => new WebSocketReply().accept().send('sorry, the room is full').close(4002, 'full').toResponse());
    const client = await clients.connect(ws('/full'));
    const closed = await client.closed;
    expect(client.messages).toEqual(['sorry, the room is full']);
    expect(closed.code).toBe(closeCodeSeen(4002));
  });

  it('deletes the items of a connection that is gone when a delivery finds it', async () => {
    // Connections whose $disconnect never reached the store: their items exist, their sockets do not. Their ids
    // hold the characters API Gateway ids may have and URL paths must escape.
    const ghost = `ghost/${delivery === 'direct' ? 'D' : 'M'}+1=`;
    const ghostByRoute = `ghost/${delivery === 'direct' ? 'D' : 'M'}+2=`;
    const channel = `haunted-${delivery}`;
    const store = new DynamoConnectionStore({
      client: DynamoDBDocumentClient.from(e2e.stack.clients.dynamo),
      tableName: connectionsTable.localName,
    });
    // Accepted a minute ago: past the join grace, so a 410 for them means gone (a younger one is retried).
    const now = Date.now() - 60_000;
    for (const connectionId of [ghost, ghostByRoute]) {
      const record = {
        connectionId,
        handshake: { path: '/', query: '', headers: {} },
        subprotocol: null,
        grip: { enabled: true, messagePrefix: 'm:' },
        meta: {},
      };
      expect((await store.putConnection({ ...record, connectedAt: now, expiresAt: expiryFor(now) })).ok).toBe(true);
    }
    expect((await store.subscribe({ connectionId: ghost, connectedAt: now, expiresAt: expiryFor(now) }, [channel])).ok).toBe(true);
    expect(
      (await store.subscribe({ connectionId: ghostByRoute, connectedAt: now, expiresAt: expiryFor(now) }, [`elsewhere-${delivery}`])).ok,
    ).toBe(true);
    const live = await clients.connect(ws(`/ghost?channel=${channel}`));
    const liveId = e2e.backend.connectionIdOf('/ghost');
    const gone410 = e2e.stack.managementApi.stats().byStatus[410] ?? 0;

    // A publish to the channel finds the first ghost among the subscribers...
    await control.publishItems([{ channel, formats: { 'ws-message': { content: 'boo' } } }]);
    expect(await live.nth(1)).toBe('boo');
    await waitFor(async () => (await e2e.itemsOf(ghost)).length === 0, 'the gone connection items to be deleted');
    expect(await e2e.itemsOf(ghostByRoute)).toHaveLength(2);
    // ...and a message to the second one, by the REST-style route, finds it gone too.
    const viaRoute = await fetch(`${e2e.stack.controlUrl}/connections/${encodeURIComponent(ghostByRoute)}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${E2E_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ content: 'anyone there?' }),
    });
    expect(viaRoute.status).toBe(200);
    await waitFor(async () => (await e2e.itemsOf(ghostByRoute)).length === 0, 'the second gone connection items to be deleted');
    if (delivery === 'management-api') expect(e2e.stack.managementApi.stats().byStatus[410] ?? 0).toBeGreaterThanOrEqual(gone410 + 2);
    // The live subscriber is untouched.
    expect(await e2e.itemsOf(liveId)).toHaveLength(2);
  });

  it('serves channel names with spaces, slashes and non-ASCII characters, up to the 256-byte limit', async () => {
    const long = `café ☕ room/${'x'.repeat(256 - new TextEncoder().encode('café ☕ room/').length)}`;
    const odd = `odd:${delivery} #1 / ümlaut`;
    const client = await clients.connect(ws(`/names?channel=${encodeURIComponent(long)}&channel=${encodeURIComponent(odd)}`));
    await control.publish(long, 'to the long one');
    expect(await client.nth(1)).toBe('to the long one');
    await control.publish(odd, 'to the odd one');
    expect(await client.nth(2)).toBe('to the odd one');
    const tooLong = await fetch(`${e2e.stack.controlUrl}/publish/`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${E2E_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ items: [{ channel: `${long}y`, formats: { 'ws-message': { content: 'never' } } }] }),
    });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.text()).toMatch(/items\[0\]\.channel: .*256 bytes/);
  });

  it('sends to one connection and closes one connection through the extension routes', async () => {
    const target = await clients.connect(ws(`/one/target?channel=pair-${delivery}`));
    const bystander = await clients.connect(ws(`/one/bystander?channel=pair-${delivery}`));
    const targetId = e2e.backend.connectionIdOf('/one/target');

    await control.sendToConnection(targetId, 'just for you');
    expect(await target.nth(1)).toBe('just for you');
    await control.publish(`pair-${delivery}`, 'for both');
    expect(await target.nth(2)).toBe('for both');
    expect(await bystander.nth(1)).toBe('for both');
    expect(bystander.messages).toEqual(['for both']);

    // The REST-style route does the same as a `connection` item.
    const viaRoute = await fetch(`${e2e.stack.controlUrl}/connections/${encodeURIComponent(targetId)}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${E2E_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ content: 'via the route' }),
    });
    expect(viaRoute.status).toBe(200);
    expect(await target.nth(3)).toBe('via the route');

    await control.closeConnection(targetId, { code: 4003, reason: 'kicked' });
    const closed = await target.closed;
    expect(closed.code).toBe(closeCodeSeen(4003));
    if (delivery === 'direct') expect(closed.reason).toBe('kicked');
    await control.publish(`pair-${delivery}`, 'after the kick');
    expect(await bystander.nth(2)).toBe('after the kick');
    expect(bystander.ws.readyState).toBe(bystander.ws.OPEN);
  });
});
