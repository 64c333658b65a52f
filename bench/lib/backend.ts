/**
 * The end-to-end benchmark's backend, written only with the public client library (`src/client`), as a user's
 * backend would be. One instance serves both proxies (this server's local mode and Pushpin): it verifies
 * `Grip-Sig`, accepts every connection and subscribes it to one channel, and echoes closes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketReply, isWsOverHttp, readWebSocketRequest, verifyGripSig, type WebSocketRequest } from '#src/client/index.js';
import { createNodeHandler } from '#src/client/node.js';

export interface BenchBackend {
  readonly url: string;
  readonly port: number;
  /** Requests refused (bad signature or body): should stay 0. */
  readonly refused: () => number;
  stop(): Promise<void>;
}

/** How a benchmark's backend answers a verified request; the default subscribes every connection to `channel`. */
export type BenchReply = (ws: WebSocketRequest, params: URLSearchParams) => Response;

export async function startBenchBackend(options: {
  readonly key: string;
  readonly channel?: string;
  readonly reply?: BenchReply;
}): Promise<BenchBackend> {
  let refused = 0;
  async function handle(request: Request): Promise<Response> {
    if (!isWsOverHttp(request)) return new Response('bench backend\n');
    const sig = await verifyGripSig(request, { key: options.key });
    if (!sig.signed) {
      refused++;
      return new Response(`Grip-Sig not valid: ${sig.reason}\n`, { status: 401 });
    }
    const read = await readWebSocketRequest(request);
    if (!read.ok) {
      refused++;
      return new Response(`${read.error.kind}\n`, { status: 400 });
    }
    if (options.reply) return options.reply(read.value, new URL(request.url).searchParams);
    const reply = new WebSocketReply();
    if (read.value.isOpening)
      return reply
        .accept()
        .subscribe(options.channel ?? 'bench')
        .toResponse();
    for (const event of read.value.events) {
      if (event.type === 'CLOSE') reply.close(event.code ?? 1000);
    }
    return reply.toResponse();
  }
  const server: Server = createServer(createNodeHandler(handle));
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    refused: () => refused,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
