/**
 * Publish filters and `set-meta` end to end (issue 11 §2): a chat backend written with our client library sets
 * each connection's filter meta `user`, subscribes it with `skip-self`, and publishes what a client says with
 * item meta `sender`; the fan-out worker decides per subscriber from the channel index alone. A subscribe with
 * more than 5 filters closes the client with 1011, as upstream Pushpin does.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient, WebSocketReply } from '#src/client/index.js';
import { encodeEvents } from '#src/domain/protocol/codec.js';
import { WEBSOCKET_EVENTS_CONTENT_TYPE } from '#src/domain/protocol/events.js';
import { ClientPool, E2E_KEY, startE2E, type E2EStack } from '#test-helpers/e2e.js';

describe('publish filters end to end', () => {
  let e2e: E2EStack;
  let control: ControlClient;
  const clients = new ClientPool();

  beforeAll(async () => {
    e2e = await startE2E({ delivery: 'direct' });
    control = new ControlClient({ url: e2e.stack.controlUrl, key: E2E_KEY, iss: 'e2e-tests', retry: false });
  });
  afterEach(() => clients.closeAll());
  afterAll(() => e2e?.stop());

  const ws = (path: string) => `${e2e.stack.wsUrl}${path}`;

  it('skip-self: a chat sender does not get its own message, the others do; a later set-meta takes effect', async () => {
    const room = 'filters-room';
    for (const user of ['alice', 'bob']) {
      e2e.backend.route(`/chat/${user}`, async (request) => {
        const reply = new WebSocketReply({ request });
        if (request.isOpening) {
          return reply
            .accept()
            .setMeta('user', user)
            .setFilterMeta('user', user)
            .subscribe(room, { filters: ['skip-self'] })
            .toResponse();
        }
        for (const event of request.events) {
          if (event.type !== 'TEXT') continue;
          if (event.text.startsWith('rename:')) {
            // Filter meta changes after subscribing: the subscription's index entry must follow.
            reply.setFilterMeta('user', event.text.slice('rename:'.length)).send('renamed');
          } else {
            await control.publish(room, `${request.meta['user'] ?? '?'}: ${event.text}`, { meta: { sender: request.meta['user'] ?? '' } });
          }
        }
        return reply.toResponse();
      });
    }
    const alice = await clients.connect(ws('/chat/alice'));
    const bob = await clients.connect(ws('/chat/bob'));

    alice.ws.send('hello');
    expect(await bob.nth(1)).toBe('alice: hello');
    bob.ws.send('hi');
    expect(await alice.nth(1)).toBe('bob: hi');
    // A fence without a sender reaches both: anything published before it on the channel has arrived by then.
    await control.publish(room, 'fence');
    await Promise.all([alice.nth(2), bob.nth(2)]);
    expect(alice.messages).toEqual(['bob: hi', 'fence']);
    expect(bob.messages).toEqual(['alice: hello', 'fence']);

    alice.ws.send('rename:carol');
    expect(await alice.nth(3)).toBe('renamed');
    await control.publish(room, 'as alice', { meta: { sender: 'alice' } });
    await control.publish(room, 'as carol', { meta: { sender: 'carol' } });
    await control.publish(room, 'fence 2');
    await Promise.all([alice.nth(5), bob.nth(5)]);
    expect(alice.messages.slice(3)).toEqual(['as alice', 'fence 2']);
    expect(bob.messages.slice(2)).toEqual(['as alice', 'as carol', 'fence 2']);
  });

  it('closes the client with 1011 when a subscribe has more than 5 filters', async () => {
    // Built by hand: the client library refuses more than 5 filters.
    e2e.backend.route(
      '/many-filters',
      () =>
        new Response(
          new Uint8Array(
            encodeEvents([
              { type: 'OPEN' },
              { type: 'TEXT', text: 'c:{"type":"subscribe","channel":"many","filters":["a","b","c","d","e","f"]}' },
            ]),
          ),
          { headers: { 'content-type': WEBSOCKET_EVENTS_CONTENT_TYPE, 'sec-websocket-extensions': 'grip' } },
        ),
    );
    const client = await clients.connect(ws('/many-filters'));
    expect(await client.closed).toEqual({ code: 1011, reason: '' });
    expect(await e2e.itemsOf(e2e.backend.connectionIdOf('/many-filters'))).not.toContainEqual(expect.objectContaining({ channel: 'many' }));
  });
});
