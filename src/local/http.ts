/** Shared plumbing for the local HTTP servers (the WebSocket gateway and the Management API). */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Log } from '../domain/ports.js';
import { describeError } from './log.js';

/**
 * Makes `server` robust and listening: malformed requests get a 400 and are logged, later server errors are
 * logged instead of crashing the process. Resolves with the bound port (useful with port 0) and a URL-ready host.
 */
export async function listen(server: Server, port: number, host: string, log: Log): Promise<{ port: number; authority: string }> {
  server.on('clientError', (e, socket) => {
    log.warn('malformed HTTP request', { error: describeError(e) });
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log.error('server error', { error: describeError(e) }));
  const bound = (server.address() as AddressInfo).port;
  return { port: bound, authority: `${host.includes(':') ? `[${host}]` : host}:${bound}` };
}
