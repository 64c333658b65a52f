import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyTooLargeError, createNodeHandler, RequestAbortedError, toWebRequest } from '#src/client/node.js';
import { readWebSocketRequest } from '#src/client/request.js';
import { WebSocketReply } from '#src/client/response.js';

const servers: Server[] = [];

async function listen(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(listener);
  server.on('error', (e) => console.error('test server error', e));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A raw node:http request, for what fetch cannot do: chunked bodies of our choosing, aborting mid-body. */
function rawRequest(
  base: string,
  options: { headers?: Record<string, string>; chunks: string[]; abortWhen?: Promise<void> },
): Promise<{ status: number; body: string } | 'aborted'> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/raw`, { method: 'POST', headers: options.headers ?? {} }, (res) => {
      res.on('error', reject);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e) => (options.abortWhen ? resolve('aborted') : reject(e)));
    for (const chunk of options.chunks) req.write(chunk);
    if (options.abortWhen) void options.abortWhen.then(() => req.destroy());
    else req.end();
  });
}

describe('createNodeHandler with a real node:http server and fetch', () => {
  it('hands the handler a Request with the method, URL, every header and the body', async () => {
    let seen: { method: string; url: string; multi: string | null; body: string } | null = null;
    const base = await listen(
      createNodeHandler(async (request) => {
        seen = { method: request.method, url: request.url, multi: request.headers.get('x-multi'), body: await request.text() };
        return new Response('ok');
      }),
    );
    const headers = new Headers([
      ['X-Multi', 'a'],
      ['X-Multi', 'b'],
    ]);
    const response = await fetch(`${base}/ws?room=1`, { method: 'POST', headers, body: 'OPEN\r\n' });
    expect(await response.text()).toBe('ok');
    expect(seen).toEqual({ method: 'POST', url: `${base}/ws?room=1`, multi: 'a, b', body: 'OPEN\r\n' });
  });

  it('uses baseUrl for the scheme and authority when given', async () => {
    let url = '';
    const base = await listen(
      createNodeHandler(
        async (request) => {
          url = request.url;
          return new Response(null, { status: 204 });
        },
        { baseUrl: 'https://api.example.com' },
      ),
    );
    expect((await fetch(`${base}/a/b?c=d`)).status).toBe(204);
    expect(url).toBe('https://api.example.com/a/b?c=d');
  });

  it('writes status, status text, several Set-Cookie headers and a streamed body', async () => {
    const base = await listen(
      createNodeHandler(async () => {
        const chunks = ['one,', 'two,', 'three'];
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            const next = chunks.shift();
            if (next === undefined) controller.close();
            else controller.enqueue(new TextEncoder().encode(next));
          },
        });
        const headers = new Headers([
          ['Set-Cookie', 'a=1'],
          ['Set-Cookie', 'b=2'],
          ['X-Kind', 'stream'],
        ]);
        return new Response(body, { status: 202, statusText: 'Queued', headers });
      }),
    );
    const response = await fetch(base);
    expect(response.status).toBe(202);
    expect(response.statusText).toBe('Queued');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(response.headers.get('x-kind')).toBe('stream');
    expect(await response.text()).toBe('one,two,three');
  });

  it('answers 413 to a body over the limit, declared or chunked, without calling the handler', async () => {
    let calls = 0;
    const base = await listen(
      createNodeHandler(
        async () => {
          calls++;
          return new Response('ok');
        },
        { maxBodyBytes: 10 },
      ),
    );
    const declared = await fetch(base, { method: 'POST', body: 'x'.repeat(11) });
    expect(declared.status).toBe(413);
    expect(await declared.text()).toContain('larger than 10 bytes');
    const chunked = await rawRequest(base, { chunks: ['x'.repeat(6), 'x'.repeat(6)] });
    expect(chunked).toEqual({ status: 413, body: 'request body is larger than 10 bytes\n' });
    const fits = await fetch(base, { method: 'POST', body: 'x'.repeat(10) });
    expect(fits.status).toBe(200);
    expect(calls).toBe(1);
  });

  it('answers 500 and reports the error when the handler throws', async () => {
    const reported: unknown[] = [];
    const boom = new Error('boom');
    const base = await listen(
      createNodeHandler(
        async () => {
          throw boom;
        },
        { onError: (error) => reported.push(error) },
      ),
    );
    const response = await fetch(base);
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('Internal Server Error\n');
    expect(reported).toEqual([boom]);
  });

  it('serves a WebSocket-over-HTTP exchange end to end', async () => {
    const base = await listen(
      createNodeHandler(async (request) => {
        const read = await readWebSocketRequest(request);
        if (!read.ok) return new Response(read.error.message, { status: 400 });
        const reply = new WebSocketReply();
        if (read.value.isOpening) reply.accept().subscribe('room');
        return reply.send(`hello ${read.value.meta['user'] ?? 'stranger'}`).toResponse();
      }),
    );
    const response = await fetch(base, {
      method: 'POST',
      headers: { 'Content-Type': 'application/websocket-events', 'Connection-Id': 'c1', 'Meta-User': 'alice' },
      body: 'OPEN\r\n',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/websocket-events');
    expect(response.headers.get('sec-websocket-extensions')).toBe('grip');
    expect(await response.text()).toBe('OPEN\r\nTEXT 27\r\nc:{"type":"subscribe","channel":"room"}\r\nTEXT d\r\nm:hello alice\r\n');
    const bad = await fetch(base, { method: 'POST', body: 'OPEN\r\n' });
    expect(bad.status).toBe(400);
  });
});

describe('toWebRequest', () => {
  it('rejects with RequestAbortedError when the client goes away mid-body', async () => {
    let outcome: Promise<Request> | null = null;
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const base = await listen((req) => {
      outcome = toWebRequest(req);
      outcome.catch(() => undefined);
      arrived();
    });
    const client = rawRequest(base, { headers: { 'Content-Length': '100' }, chunks: ['partial'], abortWhen: requestArrived });
    expect(await client).toBe('aborted');
    await expect(outcome).rejects.toBeInstanceOf(RequestAbortedError);
  });

  it('rejects with BodyTooLargeError naming the limit', async () => {
    let outcome: Promise<Request> | null = null;
    const base = await listen((req, res) => {
      outcome = toWebRequest(req, { maxBodyBytes: 3 });
      outcome.catch(() => undefined).finally(() => res.end());
    });
    await fetch(base, { method: 'POST', body: 'abcd' });
    await expect(outcome).rejects.toEqual(expect.objectContaining({ name: 'BodyTooLargeError', code: 'body-too-large', limit: 3 }));
    await expect(outcome).rejects.toBeInstanceOf(BodyTooLargeError);
  });
});
