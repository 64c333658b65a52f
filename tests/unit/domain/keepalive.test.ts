import { describe, expect, it } from 'vitest';
import type { KeepAlive } from '#src/domain/connection.js';
import type { KeepAliveJob } from '#src/domain/fanout/jobs.js';
import { decideKeepAlive, keepAliveEntry, keepAliveFromActions } from '#src/domain/keepalive.js';
import { MAX_QUEUE_DELAY_SECONDS } from '#src/domain/ports.js';
import type { KeepAliveMessage } from '#src/domain/protocol/grip-control.js';
import type { SessionAction } from '#src/domain/protocol/reply.js';

const NOW = 1_800_000_000_000;
const ID = 'L0SM9cOFvHcCIhw=';

const keepAliveAction = (message: KeepAliveMessage | null, timeoutSeconds = 30, mode: 'idle' | 'interval' = 'idle'): SessionAction => ({
  kind: 'control',
  message: { type: 'keep-alive', message, timeoutSeconds, mode },
});

const setting = (overrides: Partial<KeepAlive> = {}): KeepAlive => ({
  payload: { kind: 'text', text: 'hb' },
  timeoutSeconds: 30,
  mode: 'interval',
  since: NOW - 60_000,
  ...overrides,
});

const job = (overrides: Partial<KeepAliveJob> = {}): KeepAliveJob => ({
  v: 1,
  kind: 'keepalive',
  connectionId: ID,
  since: NOW - 60_000,
  dueAt: NOW,
  ...overrides,
});

describe('keepAliveFromActions', () => {
  it('leaves keep-alives alone when the reply has no keep-alive message', () => {
    const actions: SessionAction[] = [
      { kind: 'send', message: { kind: 'text', text: 'hi' } },
      { kind: 'control', message: { type: 'subscribe', channel: 'room', filters: [] } },
    ];
    expect(keepAliveFromActions(actions, NOW)).toEqual({ change: undefined, ignored: [] });
  });

  it('turns a text or binary keep-alive into a setting named by now; the last one wins', () => {
    expect(keepAliveFromActions([keepAliveAction({ kind: 'text', text: 'hb' }, 20, 'interval')], NOW)).toEqual({
      change: { payload: { kind: 'text', text: 'hb' }, timeoutSeconds: 20, mode: 'interval', since: NOW },
      ignored: [],
    });
    const last = keepAliveFromActions(
      [keepAliveAction({ kind: 'text', text: 'first' }), keepAliveAction({ kind: 'binary', data: new Uint8Array([1, 2]) }, 45)],
      NOW,
    );
    expect(last.change).toEqual({ payload: { kind: 'binary', base64: 'AQI=' }, timeoutSeconds: 45, mode: 'idle', since: NOW });
  });

  it('a keep-alive without content turns heartbeats off', () => {
    expect(keepAliveFromActions([keepAliveAction({ kind: 'text', text: 'hb' }), keepAliveAction(null)], NOW).change).toBeNull();
  });

  it('refuses ping and pong heartbeats with a reason, keeping what came before', () => {
    const result = keepAliveFromActions(
      [keepAliveAction({ kind: 'text', text: 'hb' }), keepAliveAction({ kind: 'ping', data: new Uint8Array() })],
      NOW,
    );
    expect(result.change).toMatchObject({ payload: { kind: 'text', text: 'hb' } });
    expect(result.ignored).toEqual([expect.stringContaining('message-type ping ignored')]);
  });
});

describe('keepAliveEntry', () => {
  it('queues a keep-alive job on the delayed lane, due in whole seconds, at least 1 and at most 900', () => {
    const keepAlive = setting();
    expect(keepAliveEntry(ID, keepAlive, NOW + 30_000, NOW)).toEqual({
      job: { v: 1, kind: 'keepalive', connectionId: ID, since: keepAlive.since, dueAt: NOW + 30_000 },
      delaySeconds: 30,
    });
    expect(keepAliveEntry(ID, keepAlive, NOW + 1_200, NOW).delaySeconds).toBe(2);
    expect(keepAliveEntry(ID, keepAlive, NOW - 5_000, NOW).delaySeconds).toBe(1);
    expect(keepAliveEntry(ID, keepAlive, NOW + 3_600_000, NOW).delaySeconds).toBe(MAX_QUEUE_DELAY_SECONDS);
  });
});

describe('decideKeepAlive', () => {
  it('stops when the keep-alive is off or the connection is gone, or a newer setting runs its own chain', () => {
    expect(decideKeepAlive(job(), null, undefined, NOW)).toMatchObject({ kind: 'stop' });
    expect(decideKeepAlive(job(), setting({ since: NOW - 1 }), undefined, NOW)).toMatchObject({
      kind: 'stop',
      reason: expect.stringContaining('changed'),
    });
  });

  it('interval mode: sends when due and schedules the next one a period later', () => {
    expect(decideKeepAlive(job({ dueAt: NOW }), setting(), NOW - 1_000, NOW)).toEqual({ kind: 'due', nextDueAt: NOW + 30_000 });
    // Half a second early still counts as due: queue delays are whole seconds.
    expect(decideKeepAlive(job({ dueAt: NOW + 500 }), setting(), undefined, NOW)).toEqual({ kind: 'due', nextDueAt: NOW + 30_000 });
  });

  it('waits again when the job fires early (a delay capped by the queue)', () => {
    expect(decideKeepAlive(job({ dueAt: NOW + 501 }), setting(), undefined, NOW)).toEqual({ kind: 'wait', dueAt: NOW + 501 });
  });

  it('idle mode: recent activity pushes the heartbeat a period past it', () => {
    const idle = setting({ mode: 'idle' });
    expect(decideKeepAlive(job({ dueAt: NOW }), idle, NOW - 10_000, NOW)).toEqual({ kind: 'wait', dueAt: NOW + 20_000 });
    expect(decideKeepAlive(job({ dueAt: NOW }), idle, NOW - 30_000, NOW)).toEqual({ kind: 'due', nextDueAt: NOW + 30_000 });
  });
});
