/**
 * Benchmark 7, client messages (issue 11 §1): the round trip of a client message (client → server → backend →
 * reply → client) with `clientMessages: ordered` (the FIFO lane) and `concurrent` (straight to the backend), in
 * the same run. The difference is what the ordered lane adds per message, locally (fauxqs and the in-process
 * poller stand in for SQS FIFO and Lambda's event source: on AWS the hop is SQS's and Lambda's, see the README).
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { WebSocketReply } from '#src/client/index.js';
import { startLocal } from '#src/local/start.js';
import { startBenchBackend } from './lib/backend.js';
import type { BenchContext } from './lib/context.js';
import { quietLog } from './lib/log.js';
import { int, machineLine, median, percentile, type Table } from './lib/report.js';

export async function benchLane(ctx: BenchContext): Promise<Table> {
  const clients = ctx.flags.quick ? 10 : 50;
  const perClient = ctx.flags.quick ? 10 : 40;
  const key = randomBytes(24).toString('base64url');
  // Echoes each TEXT, in order, in one reply.
  const backend = await startBenchBackend({
    key,
    reply: (ws) => {
      const reply = new WebSocketReply({ request: ws });
      if (ws.isOpening) reply.accept();
      for (const event of ws.events) if (event.type === 'TEXT') reply.send(event.text);
      return reply.toResponse();
    },
  });
  try {
    const rows: string[][] = [];
    const results: Record<string, number[]> = {};
    for (const mode of ['concurrent', 'ordered'] as const) {
      const stack = await startLocal({
        wsPort: 0,
        controlPort: 0,
        gripKey: key,
        targetUrl: `${backend.url}ws`,
        delivery: 'direct',
        log: quietLog(`lane-${mode}`),
        settings: { clientMessages: mode },
        worker: { waitTimeSeconds: 20 },
      });
      try {
        const times = await roundTrips(stack.wsUrl, clients, perClient);
        results[mode] = times;
      } finally {
        await stack.stop();
      }
    }
    const ordered = results['ordered'] ?? [];
    const concurrent = results['concurrent'] ?? [];
    for (const [label, p] of [
      ['p50', 50],
      ['p99', 99],
    ] as const) {
      const o = percentile(ordered, p);
      const c = percentile(concurrent, p);
      rows.push([`round trip ${label}, ms`, int(o), int(c), int(o - c)]);
    }
    rows.push(['round trips measured', int(ordered.length), int(concurrent.length), '–']);
    return {
      title: 'Client messages: the ordered lane against concurrent forwarding',
      parameters: [
        ['machine', machineLine()],
        ['clients', `${int(clients)}, each sending ${int(perClient)} messages one after another (next after the echo)`],
        ['backend', 'echoes each TEXT (our client library, node:http), same machine'],
        ['local mode', 'direct delivery; the lane is a fauxqs FIFO queue read by an in-process poller (long polls)'],
      ],
      columns: ['measure', 'ordered', 'concurrent', 'added by the lane'],
      rows,
      notes: [
        `Median of the ordered mode: ${int(median(ordered))} ms; concurrent: ${int(median(concurrent))} ms.`,
        'Cost per million client messages on AWS: see the README ("Client messages: ordered or concurrent").',
      ],
    };
  } finally {
    await backend.stop();
  }
}

async function roundTrips(wsUrl: string, clients: number, perClient: number): Promise<number[]> {
  const times: number[] = [];
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const ws = new WebSocket(`${wsUrl}/echo`, { perMessageDeflate: false });
      ws.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake got ${res.statusCode}`)));
      });
      for (let i = 0; i < perClient; i++) {
        const text = `c${c}-m${i}`;
        const started = performance.now();
        const echoed = new Promise<void>((resolve) => {
          const onMessage = (data: WebSocket.RawData) => {
            if (String(data) !== text) return;
            ws.off('message', onMessage);
            resolve();
          };
          ws.on('message', onMessage);
        });
        ws.send(text);
        await echoed;
        times.push(performance.now() - started);
      }
      ws.close();
    }),
  );
  return times;
}
