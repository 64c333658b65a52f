/** Local mode's AWS emulators listen on loopback only (fauxqs's own start listens on every interface). */
import { createRequire } from 'node:module';
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

describe('dynalite’s storage iterators', () => {
  it('close when dynalite ends a query stream with return() (dynalite 4.0.0 left every one open: a leak)', async () => {
    const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
    const { MemoryLevel } = fromDynalite('memory-level') as { MemoryLevel: new (o: object) => MemoryDb };
    const db = new MemoryLevel({ valueEncoding: 'json' });
    await db.put('a', 1);
    const services = await startLocalAwsServices();
    try {
      const iterator = db.values();
      await iterator.return();
      await expect(iterator.next()).rejects.toMatchObject({ code: 'LEVEL_ITERATOR_NOT_OPEN' });
    } finally {
      await services.stop();
      await db.close();
    }
  });
});

interface MemoryDb {
  put(key: string, value: unknown): Promise<void>;
  values(): { next(): Promise<unknown>; return(): Promise<unknown> };
  close(): Promise<void>;
}
