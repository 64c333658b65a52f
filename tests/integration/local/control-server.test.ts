/**
 * The local control server under oversized and unauthenticated bodies (issue 10: a 2 MB or chunked body ended in a
 * TypeError and a 500, which clients retry). Real sockets; the handler records what reached it.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpApiEvent } from '#src/handlers/aws-events.js';
import { startControlServer, type LocalControlServer } from '#src/local/control-server.js';
import { RecordingLog } from '#test-helpers/fakes.js';

let server: LocalControlServer;
const seen: HttpApiEvent[] = [];
const log = new RecordingLog();

beforeAll(async () => {
  server = await startControlServer({
    handler: async (event) => {
      seen.push(event);
      return { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: 'Published\n' };
    },
    host: '127.0.0.1',
    port: 0,
    log,
    limits: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 1_000 },
  });
});
afterAll(() => server.stop());

/** POSTs `size` bytes, declared or chunked; resolves with the status (or 0 if the socket was cut first). */
function post(size: number, options: { chunked?: boolean; auth?: boolean } = {}): Promise<number> {
  return new Promise((resolve) => {
    const url = new URL(server.url);
    const req = request({
      host: url.hostname,
      port: url.port,
      path: '/publish/',
      method: 'POST',
      headers: {
        ...(options.auth === false ? {} : { authorization: 'Bearer k' }),
        ...(options.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(size) }),
      },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const write = (): void => {
      while (sent < size) {
        const piece = chunk.subarray(0, Math.min(chunk.length, size - sent));
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

describe('local control server', () => {
  it('answers 413 for a declared body over 1 MB without passing it on', async () => {
    const before = seen.length;
    expect(await post(2 * 1024 * 1024)).toBe(413);
    expect(seen.length).toBe(before);
  });

  it('answers 413 for a chunked body once it passes 1 MB', async () => {
    const before = seen.length;
    expect(await post(3 * 1024 * 1024, { chunked: true })).toBe(413);
    expect(seen.length).toBe(before);
  });

  it('answers 401 to a POST without credentials before reading its body', async () => {
    expect(await post(512 * 1024, { auth: false })).toBe(401);
  });

  it('passes a body within the limit to the handler, and logs no error', async () => {
    expect(await post(1024)).toBe(200);
    expect(log.find('error', '')).toEqual([]);
  });
});
