import { describe, expect, it } from 'vitest';
import { ConnectionRegistry, type RegistrySocket } from '#src/local/connections.js';

/** A hand-written socket: records what the registry sends. */
function fakeSocket(overrides: Partial<{ readyState: number; bufferedAmount: number }> = {}) {
  const sent: { data: string | Uint8Array; binary: boolean }[] = [];
  const closes: { code: number; reason: string }[] = [];
  const socket: RegistrySocket & { readyState: number; bufferedAmount: number } = {
    readyState: overrides.readyState ?? 1,
    bufferedAmount: overrides.bufferedAmount ?? 0,
    send: (data, { binary }) => void sent.push({ data, binary }),
    close: (code, reason) => void closes.push({ code, reason }),
  };
  return { socket, sent, closes };
}

const identity = { sourceIp: '10.0.0.1', userAgent: 'ua' };

describe('ConnectionRegistry', () => {
  it('treats pending connections as gone and counts only open ones', () => {
    const registry = new ConnectionRegistry();
    const entry = registry.addPending('a', identity, 1_000);
    expect(registry.post('a', 'x')).toEqual({ kind: 'gone' });
    expect(registry.info('a')).toBeNull();
    expect(registry.count).toBe(0);
    const { socket, sent } = fakeSocket();
    registry.open(entry, socket);
    expect(registry.count).toBe(1);
    expect(registry.post('a', 'x')).toEqual({ kind: 'ok' });
    expect(sent).toEqual([{ data: 'x', binary: false }]);
    registry.remove(entry);
    registry.remove(entry);
    expect(registry.count).toBe(0);
    expect(registry.post('a', 'x')).toEqual({ kind: 'gone' });
  });

  it('measures the 128 KB limit in UTF-8 bytes and throttles a full client buffer', () => {
    const registry = new ConnectionRegistry({ maxBufferedBytes: 100 });
    const { socket } = fakeSocket();
    registry.open(registry.addPending('a', identity, 0), socket);
    expect(registry.post('a', 'é'.repeat(65_536)).kind).toBe('ok');
    expect(registry.post('a', 'é'.repeat(65_537)).kind).toBe('too-large');
    expect(registry.post('a', new Uint8Array(131_073)).kind).toBe('too-large');
    socket.bufferedAmount = 101;
    expect(registry.post('a', 'x')).toEqual({ kind: 'throttled', message: 'Client side buffer is full' });
  });

  it('stamps lastActiveAt on posts with the injected clock', () => {
    let now = 5_000;
    const registry = new ConnectionRegistry({ now: () => now });
    const { socket } = fakeSocket();
    registry.open(registry.addPending('a', identity, 1_000), socket);
    now = 9_000;
    registry.post('a', 'x');
    expect(registry.info('a')).toEqual({ connectedAt: 1_000, lastActiveAt: 9_000, identity });
  });

  it('closes once with a default code of 1000, then answers gone', () => {
    const registry = new ConnectionRegistry();
    const { socket, closes } = fakeSocket();
    registry.open(registry.addPending('a', identity, 0), socket);
    expect(registry.close('a', { reason: 'r'.repeat(200) })).toEqual({ kind: 'ok' });
    expect(closes).toEqual([{ code: 1000, reason: 'r'.repeat(123) }]);
    expect(registry.close('a').kind).toBe('gone');
    expect(registry.post('a', 'x').kind).toBe('gone');
  });

  it('answers gone when the socket is no longer open', () => {
    const registry = new ConnectionRegistry();
    const { socket } = fakeSocket({ readyState: 2 });
    registry.open(registry.addPending('a', identity, 0), socket);
    expect(registry.post('a', 'x').kind).toBe('gone');
  });
});
