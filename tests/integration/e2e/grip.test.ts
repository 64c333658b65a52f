/**
 * Third-party GRIP code against the whole local stack, unmodified: a backend built on `@fanoutio/grip`'s
 * `WebSocketContext` (Node helpers, on a plain `node:http` server), a publisher using its `Publisher`
 * (`control_uri`, `control_iss`, `key`), and its signature check accepting our `Grip-Sig`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createWebSocketControlMessage,
  encodeWebSocketEvents,
  getWebSocketContextFromNodeReq,
  isNodeReqWsOverHttp,
  Publisher,
  validateSig,
  WebSocketMessageFormat,
} from '@fanoutio/grip';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalDelivery } from '#src/local/start.js';
import { ClientPool, E2E_KEY, startE2E, waitFor, type E2EStack } from '#test-helpers/e2e.js';

interface GripSeen {
  readonly connectionId: string;
  readonly path: string;
  readonly gripSig: string;
  readonly signed: boolean;
  readonly meta: Record<string, string>;
  /** What `recv()` returned for each message: text, null for a close (with `closeCode`), 'DISCONNECT' if it threw. */
  readonly received: (string | null)[];
  readonly closeCode: number | null;
}

/**
 * The backend a js-grip user would write: accept, subscribe to `grip-news`, remember the user in meta and greet;
 * `bye` closes with 4000, `quit` with `close()` (code 0), `vanish` disconnects, `forget` deletes the meta,
 * `heartbeat` asks for keep-alives, `leave` unsubscribes, anything else is echoed with the user from meta; a
 * client close is answered with a close, as js-grip's examples do.
 */
async function startGripBackend(key: string): Promise<{ url: string; seen: GripSeen[]; stop(): Promise<void> }> {
  const seen: GripSeen[] = [];
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isNodeReqWsOverHttp(req)) {
      res.writeHead(400).end('WebSocket-over-HTTP only\n');
      return;
    }
    const gripSig = String(req.headers['grip-sig'] ?? '');
    const signed = await validateSig(gripSig, key);
    const ctx = await getWebSocketContextFromNodeReq(req);
    const received: (string | null)[] = [];
    if (signed) {
      if (ctx.isOpening()) {
        ctx.accept();
        ctx.subscribe('grip-news');
        ctx.meta['user'] = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'anonymous';
        ctx.send('hello from js-grip');
      }
      while (ctx.canRecv()) {
        let message: string | null;
        try {
          message = ctx.recv();
        } catch {
          received.push('DISCONNECT');
          break;
        }
        received.push(message);
        if (message === null) {
          ctx.close();
          break;
        }
        if (message === 'bye') ctx.close(4000);
        else if (message === 'quit') ctx.close();
        else if (message === 'vanish') ctx.disconnect();
        else if (message === 'forget') {
          delete ctx.meta['user'];
          ctx.send('forgot');
        } else if (message === 'heartbeat') {
          // As Pushpin's docs show it, with the timeout as a string (createWebSocketControlMessage takes strings).
          ctx.sendControl(createWebSocketControlMessage('keep-alive', { content: 'ka', timeout: '1', mode: 'interval' }));
          ctx.send('heartbeats on');
        } else if (message === 'leave') {
          ctx.unsubscribe('grip-news');
          ctx.send('left');
        } else ctx.send(`echo: ${message} (user ${ctx.meta['user'] ?? '?'})`);
      }
    }
    seen.push({
      connectionId: ctx.id,
      path: new URL(req.url ?? '/', 'http://x').pathname,
      gripSig,
      signed,
      meta: { ...ctx.meta },
      received,
      closeCode: ctx.closeCode,
    });
    if (!signed) {
      res.writeHead(401).end('not signed\n');
      return;
    }
    res.writeHead(200, ctx.toHeaders());
    res.end(Buffer.from(encodeWebSocketEvents(ctx.getOutgoingEvents())));
  }
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      console.error('grip backend failed', e);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

describe.each<LocalDelivery>(['direct', 'management-api'])('@fanoutio/grip end to end, %s delivery', (delivery) => {
  let grip: Awaited<ReturnType<typeof startGripBackend>>;
  let e2e: E2EStack;
  let publisher: Publisher;
  const clients = new ClientPool();

  beforeAll(async () => {
    grip = await startGripBackend(E2E_KEY);
    e2e = await startE2E({ delivery, targetUrl: grip.url });
    publisher = new Publisher({ control_uri: e2e.stack.controlUrl, control_iss: 'grip-publisher', key: E2E_KEY });
  });
  afterEach(() => clients.closeAll());
  afterAll(async () => {
    await e2e?.stop();
    await grip?.stop();
  });

  const ws = (path: string) => `${e2e.stack.wsUrl}${path}`;
  const connectionIdOf = (path: string) => {
    const found = grip.seen.find((s) => s.path === path);
    if (!found) throw new Error(`js-grip backend saw nothing for ${path}`);
    return found.connectionId;
  };

  it('accepts, subscribes, greets and echoes with the meta it stored, through WebSocketContext', async () => {
    const client = await clients.connect(ws('/grip/echo?user=bob'));
    expect(await client.nth(1)).toBe('hello from js-grip');
    client.ws.send('ping');
    expect(await client.nth(2)).toBe('echo: ping (user bob)');
    const id = connectionIdOf('/grip/echo');
    expect(grip.seen.filter((s) => s.connectionId === id).map((s) => s.meta)).toEqual([{ user: 'bob' }, { user: 'bob' }]);
  });

  it('delivers what its Publisher publishes to every subscriber, and not after an unsubscribe', async () => {
    const alice = await clients.connect(ws('/grip/pub-alice?user=alice'));
    const carol = await clients.connect(ws('/grip/pub-carol?user=carol'));
    await Promise.all([alice.nth(1), carol.nth(1)]);
    await publisher.publishFormats('grip-news', new WebSocketMessageFormat('breaking news'));
    expect(await alice.nth(2)).toBe('breaking news');
    expect(await carol.nth(2)).toBe('breaking news');

    carol.ws.send('leave');
    expect(await carol.nth(3)).toBe('left');
    await publisher.publishFormats('grip-news', new WebSocketMessageFormat('only for alice'));
    await publisher.publishFormats('grip-news', new WebSocketMessageFormat('still only alice'));
    expect(await alice.nth(4)).toBe('still only alice');
    expect(alice.messages.slice(2)).toEqual(['only for alice', 'still only alice']);
    expect(carol.messages).toEqual(['hello from js-grip', 'breaking news', 'left']);
  });

  it('closes the subscribers on a Publisher close format (1000 through the Management API)', async () => {
    const client = await clients.connect(ws('/grip/pub-close'));
    await client.nth(1);
    await publisher.publishFormats('grip-news', new WebSocketMessageFormat(null, true, 4000));
    const closed = await client.closed;
    expect(closed.code).toBe(delivery === 'direct' ? 4000 : 1000);
  });

  it('sees our Grip-Sig as signed with the shared key, and not with another key', async () => {
    const client = await clients.connect(ws('/grip/sig'));
    await client.nth(1);
    const open = grip.seen.find((s) => s.path === '/grip/sig');
    expect(open?.signed).toBe(true);
    expect(await validateSig(open?.gripSig ?? '', E2E_KEY, 'pushpin')).toBe(true);
    expect(await validateSig(open?.gripSig ?? '', 'some-other-key')).toBe(false);
    expect(await publisher.validateGripSig(open?.gripSig ?? null)).toEqual({ isProxied: true, needsSigned: true, isSigned: true });
  });

  it('reaches the client with the close code of ctx.close(4000) (1000 through the Management API)', async () => {
    const client = await clients.connect(ws('/grip/bye'));
    await client.nth(1);
    client.ws.send('bye');
    const closed = await client.closed;
    expect(closed.code).toBe(delivery === 'direct' ? 4000 : 1000);
  });

  it('closes with 1000 on close() without a code, and drops the client on disconnect()', async () => {
    const quitter = await clients.connect(ws('/grip/quit'));
    const vanisher = await clients.connect(ws('/grip/vanish'));
    await Promise.all([quitter.nth(1), vanisher.nth(1)]);
    quitter.ws.send('quit');
    vanisher.ws.send('vanish');
    expect((await quitter.closed).code).toBe(1000);
    // API Gateway has no close without a handshake: a drop is a DeleteConnection, which the client sees as 1000.
    expect((await vanisher.closed).code).toBe(1000);
  });

  it('deletes meta the backend deleted from ctx.meta', async () => {
    const client = await clients.connect(ws('/grip/forget?user=dave'));
    await client.nth(1);
    client.ws.send('forget');
    expect(await client.nth(2)).toBe('forgot');
    client.ws.send('who');
    expect(await client.nth(3)).toBe('echo: who (user ?)');
  });

  it('sends the heartbeats a js-grip keep-alive control message asks for', async () => {
    const client = await clients.connect(ws('/grip/heartbeat'));
    await client.nth(1);
    client.ws.send('heartbeat');
    expect(await client.nth(2)).toBe('heartbeats on');
    await client.nth(4);
    expect(client.messages.slice(2, 4)).toEqual(['ka', 'ka']);
  });

  it('gives recv() the close code of a clean client close, and a throw for an abrupt drop', async () => {
    const clean = await clients.connect(ws('/grip/clean'));
    const dropped = await clients.connect(ws('/grip/dropped'));
    await Promise.all([clean.nth(1), dropped.nth(1)]);
    clean.ws.close(1000);
    dropped.ws.terminate();
    const cleanId = connectionIdOf('/grip/clean');
    const droppedId = connectionIdOf('/grip/dropped');
    const last = (id: string) => grip.seen.filter((s) => s.connectionId === id && s.received.length > 0).at(-1);
    const cleanClose = await waitFor(() => last(cleanId), 'the CLOSE request');
    expect(cleanClose.received).toEqual([null]);
    expect(cleanClose.closeCode).toBe(1000);
    const drop = await waitFor(() => last(droppedId), 'the DISCONNECT request');
    expect(drop.received).toEqual(['DISCONNECT']);
    expect(grip.seen.every((s) => s.signed)).toBe(true);
  });
});
