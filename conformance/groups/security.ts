/**
 * Security differences (issue 10), run against Pushpin so they are visible at a glance: a client path that
 * climbs out of the route with encoded dot segments, and a header spelled to be folded into `Meta-User` by
 * CGI/WSGI stacks. Pushpin forwards both; this server refuses the first and strips the second (README, Security).
 */
import { connect } from 'node:net';
import { echoClose, openReply } from '../backend.js';
import { settle } from '../client.js';
import type { Group } from '../scenario.js';

/** A raw WebSocket handshake for a path no URL parser has normalised; resolves with the status code (0: none). */
function rawHandshake(wsUrl: string, path: string): Promise<number> {
  const { hostname, port } = new URL(wsUrl);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let head = '';
    const done = (status: number) => {
      socket.destroy();
      resolve(status);
    };
    socket.setTimeout(5_000, () => done(0));
    socket.on('error', () => done(0));
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (match) done(Number(match[1]));
    });
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
  });
}

export const security: Group = {
  name: 'security',
  title: 'deliberate security differences',
  scenarios: [
    {
      id: 'security.dot-segments',
      title: 'a client path with encoded dot segments that climbs out of the route',
      async run(ctx) {
        const requests = ctx.route((req) => (req.events[0]?.type === 'OPEN' ? openReply() : (echoClose(req) ?? {})));
        const status = await rawHandshake(ctx.system.wsUrl, `${ctx.prefix}/a/%2e%2e/%2e%2e/escaped`);
        await settle(() => requests.length, 300, 2_000);
        return `handshake ${status}; backend requests under the route: ${requests.length}`;
      },
    },
    {
      id: 'security.meta-spelling',
      title: 'a client header Meta_User (what CGI/WSGI stacks fold into Meta-User)',
      async run(ctx) {
        const requests = ctx.route((req) => (req.events[0]?.type === 'OPEN' ? openReply() : (echoClose(req) ?? {})));
        await ctx.connect('c', 10_000, { Meta_User: 'mallory' });
        await settle(() => requests.length, 300, 2_000);
        const open = requests.find((r) => r.events[0]?.type === 'OPEN');
        return `backend got Meta_User: ${open?.headers['meta_user'] === undefined ? 'no' : 'yes'}`;
      },
    },
  ],
};
