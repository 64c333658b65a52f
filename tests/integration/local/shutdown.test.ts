/**
 * Stopping local mode with clients connected (what Ctrl-C does): the gateway stops before the bundled backend, so
 * every client's $disconnect reaches a backend that is still up, and a stop ends in bounded time however many
 * clients there are, saying what it dropped.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { stopLine } from '#src/local/cli-summary.js';
import { startLocal } from '#src/local/start.js';
import { stderrLog } from '#src/local/log.js';

async function connect(url: string, count: number): Promise<WebSocket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${url}/chat?room=r${i % 5}&name=u${i}`);
          ws.on('error', reject);
          ws.on('open', () => resolve(ws));
        }),
    ),
  );
}

describe('stopping local mode with clients connected', () => {
  it('tells the bundled backend about every client before stopping it, and closes them with 1001', async () => {
    const stack = await startLocal({ wsPort: 0, controlPort: 0, examplePort: 0, log: stderrLog('shutdown-test') });
    const clients = await connect(stack.wsUrl, 40);
    const codes = clients.map((ws) => new Promise<number>((resolve) => ws.on('close', (code) => resolve(code))));
    const summary = await stack.stop();
    expect(summary).toMatchObject({ clients: 40, backendNotTold: 0, disconnectsDropped: 0 });
    expect(new Set(await Promise.all(codes))).toEqual(new Set([1001]));
    expect(stopLine(summary)).toMatch(/^stopped in \d+\.\d s: closed 40 clients; the backend was told about each\.$/);
  });

  it('drops the $disconnects its budget has no time for, and counts them', async () => {
    const stack = await startLocal({ wsPort: 0, controlPort: 0, examplePort: 0, stopBudgetMs: 0, log: stderrLog('shutdown-test') });
    // More clients than $disconnects run at once (64), so some are still queued when the budget is spent.
    const clients = await connect(stack.wsUrl, 100);
    for (const ws of clients) ws.on('error', () => {});
    const summary = await stack.stop();
    expect(summary.clients).toBe(100);
    expect(summary.disconnectsDropped).toBeGreaterThan(0);
    expect(summary.backendNotTold).toBe(0);
    expect(stopLine(summary)).toContain(`${summary.disconnectsDropped} not sent: the stop's time ran out`);
  });
});

describe('the stop line', () => {
  it('says how many clients, and which ones the backend did not hear about', () => {
    expect(stopLine({ clients: 0, backendNotTold: 0, disconnectsDropped: 0, milliseconds: 120 })).toBe(
      'stopped in 0.1 s: closed 0 clients.',
    );
    expect(stopLine({ clients: 5000, backendNotTold: 3, disconnectsDropped: 4000, milliseconds: 4260 })).toBe(
      "stopped in 4.3 s: closed 5,000 clients; the backend was told about 997 (3 failed, 4,000 not sent: the stop's time ran out).",
    );
  });
});
