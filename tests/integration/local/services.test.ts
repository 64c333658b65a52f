/** Local mode's AWS emulators listen on loopback only (fauxqs's own start listens on every interface). */
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';

const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

let services: LocalAwsServices;
beforeAll(async () => {
  services = await startLocalAwsServices();
});
afterAll(() => services.stop());

const reachable = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

describe('local AWS services', () => {
  it('answer on loopback', async () => {
    expect(await reachable('127.0.0.1', Number(new URL(services.sqsEndpoint).port))).toBe(true);
    expect(await reachable('127.0.0.1', Number(new URL(services.dynamoEndpoint).port))).toBe(true);
  });

  it.skipIf(external === undefined)('are not reachable through this machine’s other addresses', async () => {
    expect(await reachable(external ?? '', Number(new URL(services.sqsEndpoint).port))).toBe(false);
    expect(await reachable(external ?? '', Number(new URL(services.dynamoEndpoint).port))).toBe(false);
  });
});
