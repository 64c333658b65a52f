/** Local mode's port check: every busy port and every doubly named port, reported at once (real sockets). */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portProblems } from '#src/local/ports.js';

const taken: Server[] = [];
const takePort = async (): Promise<number> => {
  const server = createServer();
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  taken.push(server);
  return (server.address() as AddressInfo).port;
};
let busyA: number;
let busyB: number;

beforeAll(async () => {
  busyA = await takePort();
  busyB = await takePort();
});
afterAll(async () => {
  for (const server of taken) await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('portProblems', () => {
  it('reports every busy port at once, naming its setting', async () => {
    const problems = await portProblems('127.0.0.1', [
      { setting: 'WS_PORT', port: busyA },
      { setting: 'CONTROL_PORT', port: busyB },
      { setting: 'EXAMPLE_PORT', port: 0 },
    ]);
    expect(problems).toEqual([
      `port ${busyA} (WS_PORT) is already in use on 127.0.0.1`,
      `port ${busyB} (CONTROL_PORT) is already in use on 127.0.0.1`,
    ]);
  });

  it('reports two settings naming the same port, and nothing for free ports or 0', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const free = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(
      await portProblems('127.0.0.1', [
        { setting: 'WS_PORT', port: free },
        { setting: 'CONTROL_PORT', port: free },
        { setting: 'EXAMPLE_PORT', port: 0 },
      ]),
    ).toEqual([`WS_PORT and CONTROL_PORT both name port ${free}`]);
    expect(await portProblems('127.0.0.1', [{ setting: 'WS_PORT', port: 0 }])).toEqual([]);
  });
});
