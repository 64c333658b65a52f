/**
 * Real `ws` WebSocket clients for the end-to-end benchmark. Each records when it received each published
 * message, on this process's clock, so latency = receive time − the instant just before the publish POST.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { sleep } from './clock.js';

export interface ClientFleet {
  readonly size: number;
  /** Receive times (performance.now()) of message `tag`, one per client that got it. */
  receivedAt(tag: string): number[];
  /** Clients that closed or errored after opening. */
  readonly dropped: () => number;
  close(): Promise<void>;
}

/** Messages the clients count are `<tag>` texts; anything else (a welcome, a heartbeat) is ignored. */
export async function openClients(
  url: string,
  count: number,
  options: { readonly batch?: number; readonly attempts?: number } = {},
): Promise<ClientFleet> {
  const batch = options.batch ?? 100;
  const attempts = options.attempts ?? 3;
  const sockets: WebSocket[] = [];
  const received = new Map<string, number[]>();
  let dropped = 0;
  let closing = false;

  const openOne = (): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      let opened = false;
      ws.on('error', (e) => {
        if (!opened) reject(e);
        else if (!closing) dropped++;
      });
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        reject(new Error(`handshake refused with ${res.statusCode ?? 0}`));
        ws.terminate();
      });
      ws.on('message', (data) => {
        const at = performance.now();
        const tag = data.toString();
        const list = received.get(tag);
        if (list) list.push(at);
        else received.set(tag, [at]);
      });
      ws.on('close', () => {
        if (opened && !closing) dropped++;
      });
      ws.on('open', () => {
        opened = true;
        resolve(ws);
      });
    });

  const openWithRetry = async (): Promise<WebSocket> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await openOne();
      } catch (e) {
        // Pushpin occasionally answers one handshake of a burst with 502 (docs/local-services.md §6).
        if (attempt >= attempts) throw e;
        await sleep(50 * attempt);
      }
    }
  };

  try {
    for (let i = 0; i < count; i += batch) {
      const opened = await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => openWithRetry()));
      sockets.push(...opened);
    }
  } catch (e) {
    closing = true;
    for (const ws of sockets) ws.terminate();
    throw e;
  }

  return {
    size: sockets.length,
    receivedAt: (tag) => received.get(tag) ?? [],
    dropped: () => dropped,
    async close() {
      closing = true;
      // In batches, as they were opened: a thousand $disconnects at once would only measure the server's shutdown.
      for (let i = 0; i < sockets.length; i += batch) await Promise.all(sockets.slice(i, i + batch).map(closeOne));
    },
  };
}

/** Closes cleanly, or terminates after 2 s without the server's close frame. */
function closeOne(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 2_000);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close(1000, 'bench done');
  });
}
