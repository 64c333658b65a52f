/**
 * One request at a time per connection, in order (issue 11 §1): a client that logs in and asks "whoami" right
 * away gets its name, because the second message reaches the backend only after the first reply's Set-Meta was
 * stored — as with Pushpin. Before the ordered lane, each message was its own concurrent invocation reading the
 * record as it was: "whoami" saw no user in 10 of 10 runs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketReply } from '#src/client/index.js';
import { ClientPool, startE2E, waitFor, type E2EStack, type Route } from '#test-helpers/e2e.js';

/** A backend where `login:<name>` sets meta `user` and `whoami` answers with it; every message is echoed in order. */
function routeLogin(e2e: E2EStack): void {
  for (const path of ['/login', '/fast']) e2e.backend.route(path, login);
}

const login: Route = async (request) => {
  const reply = new WebSocketReply({ request });
  if (request.isOpening) return reply.accept().toResponse();
  let user = request.meta['user'];
  for (const event of request.events) {
    if (event.type !== 'TEXT') continue;
    if (event.text.startsWith('login:')) {
      user = event.text.slice('login:'.length);
      reply.setMeta('user', user).send(`logged in as ${user}`);
    } else if (event.text === 'whoami') {
      reply.send(`you are ${user ?? 'nobody'}`);
    } else {
      reply.send(`echo ${event.text}`);
    }
  }
  return reply.toResponse();
};

describe('client messages, ordered (the default)', () => {
  let e2e: E2EStack;
  const clients = new ClientPool();
  beforeAll(async () => {
    e2e = await startE2E({ delivery: 'direct' });
    routeLogin(e2e);
  });
  afterEach(() => clients.closeAll());
  afterAll(() => e2e?.stop());

  it('applies a reply’s Set-Meta before the next message reaches the backend (10 runs)', async () => {
    for (let run = 0; run < 10; run++) {
      const client = await clients.connect(`${e2e.stack.wsUrl}/login`);
      client.ws.send(`login:user${run}`);
      client.ws.send('whoami');
      await client.nth(2);
      expect(client.messages).toEqual([`logged in as user${run}`, `you are user${run}`]);
    }
  });

  it('keeps a fast client’s 50 messages in order, several per backend request once they queue up', async () => {
    const client = await clients.connect(`${e2e.stack.wsUrl}/fast`);
    const id = e2e.backend.connectionIdOf('/fast');
    for (let i = 0; i < 50; i++) client.ws.send(`m${i}`);
    await client.nth(50);
    expect(client.messages).toEqual(Array.from({ length: 50 }, (_, i) => `echo m${i}`));
    await waitFor(() => e2e.backend.of(id).filter((r) => !r.isOpening).length > 0, 'the requests');
    const texts = e2e.backend
      .of(id)
      .filter((r) => !r.isOpening)
      .flatMap((r) => r.events.flatMap((e) => (e.type === 'TEXT' ? [e.text] : [])));
    expect(texts).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });
});

describe('client messages, concurrent', () => {
  let e2e: E2EStack;
  const clients = new ClientPool();
  beforeAll(async () => {
    e2e = await startE2E({ delivery: 'direct', settings: { clientMessages: 'concurrent' } });
    routeLogin(e2e);
  });
  afterEach(() => clients.closeAll());
  afterAll(() => e2e?.stop());

  it('forwards each message at once, in its own request (no order promised)', async () => {
    const client = await clients.connect(`${e2e.stack.wsUrl}/login`);
    client.ws.send('a');
    client.ws.send('b');
    await client.nth(2);
    expect([...client.messages].sort()).toEqual(['echo a', 'echo b']);
    expect(e2e.stack.pollers.lane.stats().received).toBe(0);
  });
});
