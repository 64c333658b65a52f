/**
 * Attacks from issue 10, end to end in local mode: what a backend's access log or a debugging proxy reveals (the
 * Grip-Sig of one backend request) must not let anyone publish or kick users through the control API.
 */
import { statSync } from 'node:fs';
import { request } from 'node:http';
import { dirname } from 'node:path';
import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#src/local/services.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientPool, startE2E, waitFor, type E2EStack } from '#test-helpers/e2e.js';

describe('security, end to end', () => {
  let e2e: E2EStack;
  const clients = new ClientPool();

  beforeAll(async () => {
    e2e = await startE2E({ delivery: 'direct' });
  });
  afterEach(() => clients.closeAll());
  afterAll(() => e2e?.stop());

  it('a Grip-Sig replayed as a control credential is refused (401): no publish, no close', async () => {
    const victim = await clients.connect(`${e2e.stack.wsUrl}/pub/victim?channel=secure`);
    const victimId = e2e.backend.connectionIdOf('/pub/victim');
    const gripSig = e2e.backend.requests.find((r) => r.connectionId === victimId)?.headers.get('grip-sig');
    expect(gripSig).toBeTruthy();

    const publish = await fetch(`${e2e.stack.controlUrl}/publish/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gripSig}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ channel: 'secure', formats: { 'ws-message': { content: 'forged' } } }] }),
    });
    expect(publish.status).toBe(401);
    expect(await publish.text()).toContain('Grip-Sig issuer');
    const kick = await fetch(`${e2e.stack.controlUrl}/connections/${encodeURIComponent(victimId)}/close`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gripSig}` },
    });
    expect(kick.status).toBe(401);
    expect(victim.messages).toEqual([]);
    expect(victim.ws.readyState).toBe(victim.ws.OPEN);
  });

  /** A raw WebSocket handshake with this exact path (a `ws` client would normalize dot segments away). */
  const handshake = (path: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const url = new URL(e2e.stack.wsUrl);
      const req = request({
        host: url.hostname,
        port: url.port,
        path,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res.statusCode ?? 0);
      });
      req.end();
    });

  it.each(['/../admin', '/%2e%2e/admin', '/a/..\\..\\admin', '/a/%252e%252e/admin', '/.%2E/admin'])(
    'refuses the handshake for %s with 400, and the backend never hears of it',
    async (path) => {
      expect(await handshake(path)).toBe(400);
      expect(e2e.backend.requests.filter((r) => r.path.includes('admin'))).toEqual([]);
    },
  );

  it('a flood of unauthenticated control requests writes a bounded number of log lines', async () => {
    const before = e2e.log.entries.filter((l) => l.message === 'control request refused').length;
    for (let i = 0; i < 50; i++) {
      const r = await fetch(`${e2e.stack.controlUrl}/publish/`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: '{}' });
      expect(r.status).toBe(401);
    }
    const written = e2e.log.entries.filter((l) => l.message === 'control request refused').length - before;
    expect(written).toBeLessThanOrEqual(10);
  });

  it('still accepts an ordinary path', async () => {
    expect(await handshake('/pub/ordinary')).toBe(101);
  });

  it('local side doors are shut: the store and queues listen only on sockets of this user, the Management API wants this run’s key', async () => {
    for (const endpoint of [e2e.stack.dynamoEndpoint, e2e.stack.sqsEndpoint]) {
      expect(endpoint).toMatch(/^unix:\//);
      const socketPath = endpoint.slice('unix:'.length);
      expect(statSync(dirname(socketPath)).mode & 0o777).toBe(0o700);
    }
    // The well-known emulator credentials, or any others, no longer close a connection.
    const client = new ApiGatewayManagementApiClient({
      endpoint: e2e.stack.managementApiEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const refused = await client.send(new DeleteConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=' })).then(
        () => 200,
        (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
      );
      expect(refused).toBe(403);
    } finally {
      client.destroy();
    }
  });

  it('keeps the handshake’s Cookie and Authorization encrypted in the table and replays them in clear to the backend', async () => {
    const cookie = 'session=s3cr3t-cookie-value';
    const authorization = 'Bearer s3cr3t-token-value';
    const client = await clients.connect(`${e2e.stack.wsUrl}/pub/sealed`, { headers: { Cookie: cookie, Authorization: authorization } });
    const id = e2e.backend.connectionIdOf('/pub/sealed');
    const stored = JSON.stringify(await e2e.itemsOf(id));
    expect(stored).not.toContain('s3cr3t');

    client.ws.send('hello');
    await waitFor(() => e2e.backend.of(id).some((r) => r.events.some((e) => e.type === 'TEXT')), 'the message to reach the backend');
    const message = e2e.backend.of(id).find((r) => r.events.some((e) => e.type === 'TEXT'));
    expect(message?.headers.get('cookie')).toBe(cookie);
    expect(message?.headers.get('authorization')).toBe(authorization);
  });
});
