/**
 * Bad input and failing parts, end to end: publishers with wrong credentials or malformed bodies get a 401/400
 * and nothing reaches any client; a backend that is down or slow makes the handshake fail with 502; a backend
 * that answers garbage to a message gets the client closed with 1011 (1000 through the Management API, which
 * cannot carry a close code). "Nothing delivered" is proven with a barrier: a valid publish on the same channel
 * afterwards, which the queue's per-channel order delivers after anything published before it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketReply } from '#src/client/index.js';
import { ControlClient, PublishError } from '#src/client/publisher.js';
import type { LocalDelivery } from '#src/local/start.js';
import { ClientPool, E2E_KEY, startE2E, waitFor, type E2EStack } from '#test-helpers/e2e.js';

describe.each<LocalDelivery>(['direct', 'management-api'])('failures end to end, %s delivery', (delivery) => {
  let e2e: E2EStack;
  let control: ControlClient;
  const clients = new ClientPool();

  beforeAll(async () => {
    e2e = await startE2E({ delivery, settings: { backendTimeoutMs: 1_000 } });
    control = new ControlClient({ url: e2e.stack.controlUrl, key: E2E_KEY, iss: 'e2e-tests', retry: false });
  });
  afterEach(() => clients.closeAll());
  afterAll(() => e2e?.stop());

  const ws = (path: string) => `${e2e.stack.wsUrl}${path}`;
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${e2e.stack.controlUrl}/publish/`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
  const item = (channel: string, content: string) => ({ channel, formats: { 'ws-message': { content } } });

  it('answers bad control auth with 401 and delivers nothing', async () => {
    const channel = `auth-${delivery}`;
    const client = await clients.connect(ws(`/auth?channel=${channel}`));
    const body = JSON.stringify({ items: [item(channel, 'forged')] });

    const none = await post(body);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await post(body, { Authorization: 'Bearer not-the-key' })).status).toBe(401);
    for (const forger of [
      new ControlClient({ url: e2e.stack.controlUrl, key: 'some-other-key', iss: 'e2e-tests', retry: false }),
      // Signed with the right key, but expired an hour ago.
      new ControlClient({ url: e2e.stack.controlUrl, key: E2E_KEY, iss: 'e2e-tests', retry: false, now: () => Date.now() - 3_600_000 }),
    ]) {
      const failure = await forger.publish(channel, 'forged').then(
        () => null,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(PublishError);
      expect((failure as PublishError).code).toBe('unauthorized');
      expect((failure as PublishError).status).toBe(401);
    }

    await control.publish(channel, 'genuine');
    await client.nth(1);
    expect(client.messages).toEqual(['genuine']);
  });

  it('answers a bad body with 400 and its reason, and delivers none of its items', async () => {
    const channel = `body-${delivery}`;
    const client = await clients.connect(ws(`/body?channel=${channel}`));
    const auth = { Authorization: `Bearer ${E2E_KEY}` };

    const cases: [string, RegExp][] = [
      ['{"items": [', /^Bad Request: publish body is not valid JSON/],
      ['{"formats": {}}', /^Bad Request: items: required/],
      ['{"items": []}', /^Bad Request: items: must not be empty/],
      // One valid item before an invalid one: the whole publish is refused, the valid item too.
      [
        JSON.stringify({ items: [item(channel, 'valid but refused'), { formats: { 'ws-message': { content: 'x' } } }] }),
        /^Bad Request: items\[1\]/,
      ],
      [
        JSON.stringify({ items: [{ channel, formats: { 'ws-message': { action: 'close', code: 1005 } } }] }),
        /^Bad Request: items\[0\]\.formats\.ws-message\.code/,
      ],
    ];
    for (const [body, reason] of cases) {
      const response = await post(body, auth);
      expect(response.status, body).toBe(400);
      expect(await response.text(), body).toMatch(reason);
    }

    await control.publish(channel, 'genuine');
    await client.nth(1);
    expect(client.messages).toEqual(['genuine']);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('refuses the handshake with 502 when the backend is down, and serves again when it is back', async () => {
    await e2e.backend.down();
    try {
      const rejection = await clients.rejection(ws('/down'));
      expect(rejection.status).toBe(502);
      expect(e2e.log.entries.some((l) => l.level === 'error' && /backend unreachable on open/.test(l.message))).toBe(true);
    } finally {
      await e2e.backend.up();
    }
    const client = await clients.connect(ws('/back-up?welcome=back'));
    expect(await client.nth(1)).toBe('back');
  });

  it('a backend briefly unreachable (a rolling deploy) does not close a client that talks: the request is retried', async () => {
    const client = await clients.connect(ws('/rolling'));
    await e2e.backend.down();
    client.ws.send('echo:still here');
    await new Promise((resolve) => setTimeout(resolve, 150));
    await e2e.backend.up();
    expect(await client.nth(1)).toBe('still here');
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('deletes the items of a connection that closes while the backend is down', async () => {
    const client = await clients.connect(ws(`/orphan?channel=orphan-${delivery}`));
    const id = e2e.backend.connectionIdOf('/orphan');
    expect(await e2e.itemsOf(id)).toHaveLength(2);
    await e2e.backend.down();
    try {
      client.ws.close(1000);
      await client.closed;
      await waitFor(async () => (await e2e.itemsOf(id)).length === 0, 'the connection items to be deleted');
      // The items go first; the backend is told (here: tried, and given up on) afterwards.
      await waitFor(
        () => e2e.log.entries.some((l) => l.message === 'backend not told about a disconnect' && l.attributes['connectionId'] === id),
        'the failed disconnect notice to be logged',
      );
    } finally {
      await e2e.backend.up();
    }
  });

  it('refuses the handshake with 502 when the backend is slower than the timeout, and stores nothing', async () => {
    let release = (): void => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    e2e.backend.route('/slow', async () => {
      await released;
      return new WebSocketReply().accept().toResponse();
    });
    try {
      const rejection = await clients.rejection(ws('/slow'));
      expect(rejection.status).toBe(502);
    } finally {
      release();
    }
    const id = e2e.backend.connectionIdOf('/slow');
    expect(await e2e.itemsOf(id)).toEqual([]);
  });

  it('refuses the handshake with 502 when the OPEN reply is not a valid reply', async () => {
    e2e.backend.route(
      '/garbage-open',
      () => new Response('<html>oops</html>', { status: 200, headers: { 'Content-Type': 'application/websocket-events' } }),
    );
    const rejection = await clients.rejection(ws('/garbage-open'));
    expect(rejection.status).toBe(502);
  });

  it.each([
    [
      'a body that does not decode',
      () => new Response('TEXT zz\r\nnope', { status: 200, headers: { 'Content-Type': 'application/websocket-events' } }),
    ],
    ['HTML', () => new Response('<html>oops</html>', { status: 200, headers: { 'Content-Type': 'text/html' } })],
    ['a 500', () => new Response('Internal Server Error', { status: 500 })],
  ])('closes the client with 1011 when the backend answers a message with %s', async (_what, garbage) => {
    const path = `/garbage-${_what.replace(/\W+/g, '-')}`;
    e2e.backend.route(path, (request) => (request.isOpening ? new WebSocketReply().accept().toResponse() : garbage()));
    const client = await clients.connect(ws(path));
    const id = e2e.backend.connectionIdOf(path);
    client.ws.send('hello?');
    const closed = await client.closed;
    expect(closed.code).toBe(delivery === 'direct' ? 1011 : 1000);
    expect(e2e.log.entries.some((l) => l.level === 'error' && l.attributes['connectionId'] === id)).toBe(true);
    await waitFor(async () => (await e2e.itemsOf(id)).length === 0, 'the connection items to be deleted');
  });
});
