import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBackendClient } from '#src/adapters/http-backend-client.js';

interface Captured {
  readonly method: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe('HttpBackendClient against real HTTP servers', () => {
  const captured: Captured[] = [];
  const sockets = new Set<Socket>();
  let server: Server;
  let base: string;
  let raw: TcpServer;
  let rawBase: string;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        captured.push({ method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        switch (req.url) {
          case '/ok':
            res.setHeader('Set-Cookie', ['a=1', 'b=2']);
            res.writeHead(200, { 'Content-Type': 'application/websocket-events', 'Sec-WebSocket-Extensions': 'grip' });
            return res.end('OPEN\r\n');
          case '/forbidden':
            res.writeHead(403, { 'content-type': 'text/plain' });
            return res.end('go away');
          case '/empty':
            res.writeHead(204);
            return res.end();
          case '/hang':
            return; // never answers
          case '/slow-body':
            res.writeHead(200, { 'content-type': 'text/plain' });
            return res.write('partial'); // and never ends
          case '/huge':
            res.writeHead(200, { 'content-length': String(5_000_000) });
            return res.end(Buffer.alloc(5_000_000, 0x61));
          case '/huge-chunked': {
            res.writeHead(200, { 'content-type': 'text/plain' });
            const chunk = Buffer.alloc(64 * 1024, 0x62);
            let sent = 0;
            const pump = () => {
              while (sent < 80 && res.write(chunk)) sent++;
              if (sent < 80) res.once('drain', pump);
              else res.end();
            };
            return pump();
          }
          case '/reset':
            return req.socket.destroy();
          case '/reset-mid-body':
            res.writeHead(200, { 'content-length': '100' });
            res.write('only some');
            return setImmediate(() => req.socket.destroy());
          default:
            res.writeHead(404);
            return res.end();
        }
      });
    });
    server.on('connection', (s: Socket) => {
      s.on('error', () => undefined);
      sockets.add(s);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    // a server that does not speak HTTP
    raw = createTcpServer((s: Socket) => {
      s.on('error', () => undefined);
      s.once('data', () => s.end('this is not HTTP at all\r\n\r\n'));
    });
    raw.listen(0, '127.0.0.1');
    await once(raw, 'listening');
    rawBase = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => raw.close(() => r()));
  });

  const client = new HttpBackendClient({ timeoutMs: 1_000 });

  it('POSTs the headers and body and returns status, lower-cased headers and the body', async () => {
    captured.length = 0;
    const r = await client.send({
      url: `${base}/ok`,
      headers: {
        'Content-Type': 'application/websocket-events',
        'Connection-Id': 'abc=',
        'Meta-User': 'alice',
        Connection: 'Upgrade',
        Upgrade: 'websocket',
      },
      body: encoder.encode('OPEN\r\n'),
    });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.status).toBe(200);
    expect(r.value.headers['content-type']).toBe('application/websocket-events');
    expect(r.value.headers['sec-websocket-extensions']).toBe('grip');
    expect(r.value.headers['set-cookie']).toBe('a=1, b=2');
    expect(Object.keys(r.value.headers).every((k) => k === k.toLowerCase())).toBe(true);
    expect(decoder.decode(r.value.body)).toBe('OPEN\r\n');
    expect(captured[0]?.method).toBe('POST');
    expect(captured[0]?.headers['connection-id']).toBe('abc=');
    expect(captured[0]?.headers['meta-user']).toBe('alice');
    expect(captured[0]?.headers.upgrade).toBeUndefined();
    expect(captured[0]?.body.toString()).toBe('OPEN\r\n');
  });

  it('treats any HTTP status as a response: 403 with its body, 204 with none', async () => {
    const r = await client.send({ url: `${base}/forbidden`, headers: {}, body: new Uint8Array() });
    expect(r.ok && r.value.status).toBe(403);
    expect(r.ok && decoder.decode(r.value.body)).toBe('go away');
    const e = await client.send({ url: `${base}/empty`, headers: {}, body: new Uint8Array() });
    expect(e.ok && e.value.status).toBe(204);
    expect(e.ok && e.value.body.byteLength).toBe(0);
  });

  it('reports a closed port as connect', async () => {
    const probe = createTcpServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const r = await client.send({ url: `http://127.0.0.1:${port}/chat?token=s3cret#x`, headers: {}, body: new Uint8Array() });
    expect(!r.ok && r.error.kind).toBe('connect');
    expect(!r.ok && r.error.message).toMatch(/ECONNREFUSED/);
    // Error messages end up in logs: the client's query string (often a token) never does.
    expect(!r.ok && r.error.message).toContain(`http://127.0.0.1:${port}/chat:`);
    expect(!r.ok && r.error.message).not.toContain('s3cret');
  });

  it('reports an unresolvable host as connect', async () => {
    const r = await client.send({ url: 'http://no-such-host.invalid/', headers: {}, body: new Uint8Array() });
    expect(!r.ok && r.error.kind).toBe('connect');
  });

  it('reports a server that resets the socket before answering as connect', async () => {
    const r = await client.send({ url: `${base}/reset`, headers: {}, body: new Uint8Array() });
    expect(!r.ok && r.error.kind).toBe('connect');
  });

  it('reports a connection dropped in the middle of the body as protocol', async () => {
    const r = await client.send({ url: `${base}/reset-mid-body`, headers: {}, body: new Uint8Array() });
    expect(!r.ok && r.error.kind).toBe('protocol');
  });

  it('reports a server that never answers, or never finishes the body, as timeout', async () => {
    const quick = new HttpBackendClient({ timeoutMs: 200 });
    const r = await quick.send({ url: `${base}/hang`, headers: {}, body: new Uint8Array() });
    expect(!r.ok && r.error.kind).toBe('timeout');
    expect(!r.ok && r.error.message).toMatch(/200 ms/);
    const b = await quick.send({ url: `${base}/slow-body`, headers: {}, body: new Uint8Array() });
    expect(!b.ok && b.error.kind).toBe('timeout');
  });

  it('reports a body over the cap as too-large, declared or streamed', async () => {
    const capped = new HttpBackendClient({ timeoutMs: 5_000, maxResponseBytes: 1_000_000 });
    const declared = await capped.send({ url: `${base}/huge`, headers: {}, body: new Uint8Array() });
    expect(!declared.ok && declared.error.kind).toBe('too-large');
    const streamed = await capped.send({ url: `${base}/huge-chunked`, headers: {}, body: new Uint8Array() });
    expect(!streamed.ok && streamed.error.kind).toBe('too-large');
    // the cap is inclusive: a body of exactly the limit is fine
    const exact = new HttpBackendClient({ timeoutMs: 1_000, maxResponseBytes: 6 });
    const r = await exact.send({ url: `${base}/ok`, headers: {}, body: new Uint8Array() });
    expect(r.ok && r.value.body.byteLength).toBe(6);
  });

  it('reports a server that does not speak HTTP as protocol', async () => {
    const r = await client.send({ url: `${rawBase}/`, headers: {}, body: new Uint8Array() });
    expect(!r.ok && r.error.kind).toBe('protocol');
  });

  it('reports an invalid URL or header value as protocol instead of throwing', async () => {
    const u = await client.send({ url: 'not a url', headers: {}, body: new Uint8Array() });
    expect(!u.ok && u.error.kind).toBe('protocol');
    const h = await client.send({ url: `${base}/ok`, headers: { 'x-bad': 'line\nbreak' }, body: new Uint8Array() });
    expect(!h.ok && h.error.kind).toBe('protocol');
  });

  it('keeps the connection alive between calls', async () => {
    let connections = 0;
    const fresh = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    fresh.on('connection', (s: Socket) => {
      s.on('error', () => undefined);
      connections++;
    });
    fresh.listen(0, '127.0.0.1');
    await once(fresh, 'listening');
    const url = `http://127.0.0.1:${(fresh.address() as AddressInfo).port}/`;
    for (let i = 0; i < 10; i++) {
      const r = await client.send({ url, headers: {}, body: new Uint8Array([1]) });
      expect(r.ok && decoder.decode(r.value.body)).toBe('ok');
    }
    // one keep-alive socket, never one per call
    expect(connections).toBe(1);
    fresh.closeAllConnections();
    await new Promise<void>((r) => fresh.close(() => r()));
  });
});
