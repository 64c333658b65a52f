import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiGatewayConnectionGateway, createManagementApiClient } from '../../../src/adapters/apigw-connection-gateway.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../src/local/services.js';

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly body: Buffer;
  readonly signed: boolean;
}

/** A stand-in Management API answering with AWS's real error shapes, chosen by connection id. */
function managementApi(seen: Seen[], sockets: Set<Socket>, inFlight: { now: number; max: number }): Server {
  const error = (res: ServerResponse, status: number, type: string | null, body = '{"message":null}') => {
    res.writeHead(status, { 'content-type': 'application/json', ...(type ? { 'x-amzn-errortype': type } : {}) });
    res.end(body);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      seen.push({ method: req.method ?? '', path, body: Buffer.concat(chunks), signed: /^AWS4-HMAC-SHA256 /.test(req.headers.authorization ?? '') });
      const id = decodeURIComponent(path.split('/').pop() ?? '');
      inFlight.now++;
      inFlight.max = Math.max(inFlight.max, inFlight.now);
      res.on('close', () => inFlight.now--);
      switch (id) {
        case 'gone':
          return error(res, 410, 'GoneException');
        case 'gone-bare':
          res.writeHead(410);
          return res.end();
        case 'limit':
          return error(res, 429, 'LimitExceededException', '{"message":"Rate exceeded"}');
        case 'big':
          return error(res, 413, 'PayloadTooLargeException');
        case 'forbidden':
          return error(res, 403, 'ForbiddenException', '{"message":"Forbidden"}');
        case 'boom':
          res.writeHead(500);
          return res.end();
        case 'hang':
          return; // never answers
        default:
          res.writeHead(req.method === 'DELETE' ? 204 : 200);
          return res.end();
      }
    });
  });
  server.on('connection', (s: Socket) => {
    s.on('error', () => undefined);
    sockets.add(s);
  });
  return server;
}

describe('ApiGatewayConnectionGateway against an HTTP server with AWS error shapes', () => {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const inFlight = { now: 0, max: 0 };
  let server: Server;
  let endpoint: string;
  let gateway: ApiGatewayConnectionGateway;
  let client: ReturnType<typeof createManagementApiClient>;

  beforeAll(async () => {
    server = managementApi(seen, sockets, inFlight);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
    client = createManagementApiClient({ endpoint, region: LOCAL_REGION, maxSockets: 3, requestTimeoutMs: 300, credentials: LOCAL_CREDENTIALS });
    gateway = new ApiGatewayConnectionGateway({ client });
  });
  afterAll(async () => {
    client.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('posts the raw bytes, signed, to /{stage}/@connections/{url-encoded id}', async () => {
    seen.length = 0;
    expect(await gateway.post('abc=', 'héllo')).toEqual({ kind: 'ok' });
    expect(await gateway.post('bin', new Uint8Array([0, 255, 1]))).toEqual({ kind: 'ok' });
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/prod/@connections/abc%3D', signed: true });
    expect(seen[0]?.body.toString('utf8')).toBe('héllo');
    expect([...(seen[1]?.body ?? [])]).toEqual([0, 255, 1]);
  });

  it('close is a DELETE of the connection', async () => {
    seen.length = 0;
    expect(await gateway.close('abc=', { code: 4000, reason: 'ignored' })).toEqual({ kind: 'ok' });
    expect(seen[0]).toMatchObject({ method: 'DELETE', path: '/prod/@connections/abc%3D' });
  });

  it('maps 410 (with or without the error header) to gone, for post and close', async () => {
    expect(await gateway.post('gone', 'x')).toEqual({ kind: 'gone' });
    expect(await gateway.post('gone-bare', 'x')).toEqual({ kind: 'gone' });
    expect(await gateway.close('gone')).toEqual({ kind: 'gone' });
  });

  it('maps 429 to throttled and 413 to too-large', async () => {
    expect(await gateway.post('limit', 'x')).toMatchObject({ kind: 'throttled', message: expect.stringMatching(/LimitExceededException/) });
    expect(await gateway.post('big', 'x')).toMatchObject({ kind: 'too-large', message: expect.stringMatching(/PayloadTooLarge/) });
  });

  it('maps 403 to a non-retryable failure and 500 to a retryable one', async () => {
    expect(await gateway.post('forbidden', 'x')).toMatchObject({ kind: 'failed', retryable: false, message: expect.stringMatching(/Forbidden/) });
    expect(await gateway.post('boom', 'x')).toMatchObject({ kind: 'failed', retryable: true });
  });

  it('makes exactly one attempt per call (the SDK does not retry a 500)', async () => {
    seen.length = 0;
    await gateway.post('boom', 'x');
    expect(seen).toHaveLength(1);
  });

  it('fails a call with no answer within the request timeout as retryable', async () => {
    const r = await gateway.post('hang', 'x');
    expect(r).toMatchObject({ kind: 'failed', retryable: true, message: expect.stringMatching(/Timeout|timed out/i) });
  });

  it('refuses data over 128 KB without calling API Gateway', async () => {
    seen.length = 0;
    const r = await gateway.post('ok', 'x'.repeat(128 * 1024 + 1));
    expect(r).toMatchObject({ kind: 'too-large', message: expect.stringMatching(/131073 bytes/) });
    expect(seen).toHaveLength(0);
    expect(await gateway.post('ok', 'x'.repeat(128 * 1024))).toEqual({ kind: 'ok' });
  });

  it('never opens more than maxSockets connections, however many calls are in flight', async () => {
    const fresh = createManagementApiClient({ endpoint, region: LOCAL_REGION, maxSockets: 3, credentials: LOCAL_CREDENTIALS });
    const capped = new ApiGatewayConnectionGateway({ client: fresh });
    await new Promise((r) => setImmediate(r));
    sockets.clear();
    inFlight.max = 0;
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => capped.post(`many-${i}`, 'x')));
    expect(results.filter((r) => r.kind !== 'ok')).toEqual([]);
    // all 12 were started at once: without the cap each would have opened its own connection
    expect(sockets.size).toBe(3);
    expect(inFlight.max).toBeLessThanOrEqual(3);
    fresh.destroy();
  });

  it('fails retryably when nothing listens on the endpoint', async () => {
    const dead = createManagementApiClient({ endpoint: 'http://127.0.0.1:1', region: LOCAL_REGION, maxSockets: 1, credentials: LOCAL_CREDENTIALS });
    const r = await new ApiGatewayConnectionGateway({ client: dead }).post('x', 'y');
    expect(r).toMatchObject({ kind: 'failed', retryable: true, message: expect.stringMatching(/ECONNREFUSED/) });
    dead.destroy();
  });
});
