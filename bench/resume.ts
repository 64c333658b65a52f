/**
 * Benchmark 6, resume (issue 14): 100 clients that missed the last 1,000 items of a channel reconnect at once with
 * `since`. Measured: time from each client's connect to having all 1,000 (p50/p99), and the DynamoDB reads a resume
 * costs (Query calls on the History table, and read units from the items' sizes, strongly consistent). Baseline in
 * the same run: the same clients, already connected, receive the same 1,000 items live (published in 10 batches).
 *
 * Local mode runs in this process (direct delivery), with a backend written with our client library that subscribes
 * each client with the `since` its URL carries.
 */
import { randomBytes } from 'node:crypto';
import type { QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import { ControlClient, WebSocketReply, textItem } from '#src/client/index.js';
import { historyTable } from '#src/config/resources.js';
import { startLocal } from '#src/local/start.js';
import { startBenchBackend } from './lib/backend.js';
import type { BenchContext } from './lib/context.js';
import { quietLog } from './lib/log.js';
import { fixed, int, machineLine, max, median, percentile, type Table } from './lib/report.js';

export async function benchResume(ctx: BenchContext): Promise<Table> {
  const clients = ctx.flags.quick ? 20 : 100;
  const items = ctx.flags.quick ? 200 : 1_000;
  const key = randomBytes(24).toString('base64url');
  // Subscribes each connection to `channel`, resuming after `since` when the URL has one.
  const backend = await startBenchBackend({
    key,
    reply: (ws, params) => {
      const reply = new WebSocketReply({ request: ws });
      if (ws.isOpening) reply.accept().subscribe(params.get('channel') ?? 'resume', { since: params.get('since') ?? undefined });
      return reply.toResponse();
    },
  });
  const stack = await startLocal({
    wsPort: 0,
    controlPort: 0,
    gripKey: key,
    targetUrl: `${backend.url}ws`,
    delivery: 'direct',
    log: quietLog('resume'),
    settings: { historyMaxItems: items },
  });
  // Count the Query calls on the History table (dynalite does not report consumed capacity for queries).
  const queries = { history: 0 };
  stack.clients.dynamo.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as Partial<QueryCommandInput>;
      if (input.TableName === historyTable.localName && 'KeyConditionExpression' in input) queries.history++;
      return next(args);
    },
    { step: 'initialize', name: 'countHistoryQueries' },
  );
  const control = new ControlClient({ url: stack.controlUrl, key, iss: 'bench', retry: false });
  const url = (since?: string) => `${stack.wsUrl}/r?${new URLSearchParams({ channel: 'resume', ...(since ? { since } : {}) }).toString()}`;
  try {
    // Baseline: the clients connected, the items published live in batches of 100.
    const live = await openClients(clients, () => url());
    const liveStarted = Date.now();
    await publish(control, 0, items);
    const liveTimes = await Promise.all(live.map((c) => c.untilCount(items)));
    const liveMs = liveTimes.map((t) => t - liveStarted);
    for (const c of live) c.ws.close();

    // The marker everyone saw, then the items they all miss, then everyone reconnects at once with since=marker.
    await control.publish('resume', 'marker', { id: 'marker' });
    await publish(control, items, items * 2);
    await waitRecorded(control, items * 2 - 1);
    const before = queries.history;
    const started = Date.now();
    const resumed = await openClients(clients, () => url('marker'), started);
    const resumeMs = await Promise.all(resumed.map(async (c) => (await c.untilCount(items)) - c.openedAt));
    const wall = Date.now() - started;
    const queriesPerResume = (queries.history - before) / clients;
    const exact = resumed.every((c) => c.messages.length === items && c.messages.every((m, i) => m === `m${items + i}`));
    for (const c of resumed) c.ws.close();
    const unitsPerResume = await readUnitsPerResume(stack.clients.dynamo, items);
    return {
      title: 'Resume: clients reconnecting with since after missing a channel’s items',
      parameters: [
        ['machine', machineLine()],
        ['clients', `${int(clients)}, all reconnecting at once (one channel)`],
        ['missed items', `${int(items)} per client (historyMaxItems = ${int(items)}), ~20-byte texts`],
        ['delivery', 'local mode, direct (in-process sender), one worker process with the default settings'],
      ],
      columns: ['measure', 'resume', 'live baseline', 'ideal'],
      rows: [
        ['time to all items, p50 ms', int(median(resumeMs)), int(median(liveMs)), '≤ live (same deliveries)'],
        ['time to all items, p99 ms', int(percentile(resumeMs, 99)), int(percentile(liveMs, 99)), '≤ live (same deliveries)'],
        ['time to all items, max ms', int(max(resumeMs)), int(max(liveMs)), '–'],
        ['wall time for all clients, ms', int(wall), int(max(liveMs)), '–'],
        ['every client got exactly the missed items, in order', exact ? 'yes' : 'NO', '–', 'yes'],
        ['History Query calls per resume', fixed(queriesPerResume, 1), '0', '2 (find since, read the range)'],
        ['DynamoDB read units per resume (strongly consistent)', fixed(unitsPerResume, 1), '0', 'ceil(bytes / 4 KB)'],
      ],
      notes: [
        'Read units are computed from the stored items’ sizes (DynamoDB’s item-size rules): the id lookup reads one index entry (1 unit), the replay reads the range in 1 MB pages, one unit per 4 KB per page.',
        'Catch-up jobs of one channel run in its FIFO group; those of different connections in one batch run side by side (runInFifoGroups’ commuting records).',
      ],
    };
  } finally {
    await stack.stop();
    await backend.stop();
  }
}

async function publish(control: ControlClient, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += 100) {
    const batch = [];
    for (let i = start; i < Math.min(to, start + 100); i++) batch.push(textItem('resume', `m${i}`, { id: `id-${i}` }));
    await control.publishItems(batch);
  }
}

async function waitRecorded(control: ControlClient, last: number): Promise<void> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
    const page = await control.history('resume', { limit: 1 });
    if (page.ok && page.value.items[0]?.id === `id-${last}`) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the published items were not all recorded within 120 s');
}

/** One strongly consistent read unit per started 4 KB: the id lookup (one small index entry) and the replay range. */
async function readUnitsPerResume(dynamo: Parameters<typeof DynamoDBDocumentClient.from>[0], items: number): Promise<number> {
  const out = await DynamoDBDocumentClient.from(dynamo).send(new ScanCommand({ TableName: historyTable.localName }));
  const sizes = (out.Items ?? []).slice(0, items + 1).map(itemSize);
  const bytes = sizes.reduce((a, b) => a + b, 0);
  let units = 1;
  for (let page = 0; page < bytes; page += 1_048_576) units += Math.ceil(Math.min(1_048_576, bytes - page) / 4096);
  return units;
}

/** DynamoDB's item size: attribute names plus values (strings in UTF-8, numbers ~ digits / 2 + 1, maps recursively). */
function itemSize(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') return Math.ceil(String(value).replace(/[^0-9]/g, '').length / 2) + 1;
  if (typeof value === 'boolean' || value === null) return 1;
  if (typeof value === 'object') {
    let size = 3;
    for (const [k, v] of Object.entries(value)) size += Buffer.byteLength(k) + itemSize(v) + 1;
    return size;
  }
  return 0;
}

interface BenchClient {
  readonly ws: WebSocket;
  readonly messages: string[];
  readonly openedAt: number;
  untilCount(n: number): Promise<number>;
}

async function openClients(count: number, url: () => string, openedAt = Date.now()): Promise<BenchClient[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const ws = new WebSocket(url(), { perMessageDeflate: false });
      ws.on('error', () => {});
      const messages: string[] = [];
      const waiters: { n: number; resolve: (t: number) => void }[] = [];
      ws.on('message', (data) => {
        messages.push(String(data));
        for (const w of waiters.filter((x) => messages.length >= x.n)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(Date.now());
        }
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake got ${res.statusCode}`)));
      });
      return {
        ws,
        messages,
        openedAt,
        untilCount: (n: number) =>
          messages.length >= n ? Promise.resolve(Date.now()) : new Promise<number>((resolve) => waiters.push({ n, resolve })),
      };
    }),
  );
}
