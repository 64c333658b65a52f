/**
 * The two systems under comparison, behind one interface: Pushpin (the Debian package, run from a scratch
 * directory under `.pushpin/`) and this server's local mode (`startLocal`, every port picked free). Both route to
 * the same backend and take publishes the same way (`POST <control>/publish/` with `Authorization: Bearer <key>`,
 * which Pushpin ignores and our control API accepts).
 */
import path from 'node:path';
import { ConsoleLog } from '#src/adapters/observability.js';
import { startLocal, type LocalStack } from '#src/local/start.js';
import { startPushpin, type PushpinInstance } from '../scripts/lib/pushpin.js';
import type { Backend } from './backend.js';

export type SystemName = 'pushpin' | 'us';

export interface PublishResult {
  readonly status: number;
  readonly body: string;
}

export interface System {
  readonly name: SystemName;
  /** For the table header: `Pushpin 1.36.0`, `us (local mode)`. */
  readonly label: string;
  /** Base WebSocket URL, ending in `/`. */
  readonly wsUrl: string;
  publish(items: readonly unknown[]): Promise<PublishResult>;
  /** Recent log output, for diagnosing an unexpected outcome. */
  logTail(): string;
}

export interface Systems {
  readonly pushpin: System;
  readonly us: System;
  stop(): Promise<void>;
}

/** The GRIP key of both systems (Pushpin's `sig_key`; our `gripKey`). Local only, never a secret. */
export const CONFORMANCE_KEY = 'conformance-shared-grip-key';

function publisher(controlUrl: string): (items: readonly unknown[]) => Promise<PublishResult> {
  return async (items) => {
    const response = await fetch(`${controlUrl}/publish/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${CONFORMANCE_KEY}` },
      body: JSON.stringify({ items }),
    });
    return { status: response.status, body: (await response.text()).trim() };
  };
}

/**
 * Starts Pushpin and local mode against `backend`. If either fails to start, whatever did start is stopped
 * before the error propagates.
 */
export async function startSystems(backend: Backend, repoRoot: string): Promise<Systems> {
  let pushpin: PushpinInstance | null = null;
  let local: LocalStack | null = null;
  const localLog: string[] = [];
  const stop = async () => {
    const results = await Promise.allSettled([pushpin?.stop(), local?.stop()]);
    for (const r of results) if (r.status === 'rejected') console.error(`conformance: error while stopping: ${String(r.reason)}`);
  };
  try {
    pushpin = await startPushpin({
      backendPort: backend.listenPort,
      sigKey: CONFORMANCE_KEY,
      scratchRoot: path.join(repoRoot, '.pushpin'),
      // The package defaults, spelled out: the scenarios check these very values.
      handler: { messageWait: 5_000, idCacheTtl: 60, connectionSubscriptionMax: 20 },
    });
    local = await startLocal({
      wsPort: 0,
      controlPort: 0,
      targetUrl: `${backend.url}/`,
      gripKey: CONFORMANCE_KEY,
      worker: { waitTimeSeconds: 1 },
      log: new ConsoleLog({
        level: 'info',
        write: (line) => {
          localLog.push(line);
          if (localLog.length > 200) localLog.shift();
        },
      }),
    });
  } catch (e) {
    await stop();
    throw e;
  }
  const p = pushpin;
  const l = local;
  return {
    pushpin: {
      name: 'pushpin',
      label: p.version.replace(/^pushpin/i, 'Pushpin'),
      wsUrl: p.wsUrl,
      publish: publisher(p.controlUrl),
      logTail: () => p.logTail(3_000),
    },
    us: {
      name: 'us',
      label: 'us (local mode)',
      wsUrl: l.wsUrl.endsWith('/') ? l.wsUrl : `${l.wsUrl}/`,
      publish: publisher(l.controlUrl),
      logTail: () => localLog.slice(-30).join('\n'),
    },
    stop,
  };
}
