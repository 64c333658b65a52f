import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Log } from '../domain/ports.js';
import { MAX_PUBLISH_BODY_BYTES } from '../domain/protocol/limits.js';
import type { ControlHandler, HttpApiEvent } from '../handlers/aws-events.js';
import { listen } from './http.js';
import { describeError } from './log.js';

/** Bodies are cut off just past the publish limit (1 MB): the handler then answers 400 naming the limit. */
const MAX_BODY_BYTES = MAX_PUBLISH_BODY_BYTES + 1;

export interface LocalControlServer {
  /** `http://host:port`: the GRIP control URI (what goes in `GRIP_URL`). */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Serves the control API locally the way API Gateway's HTTP API does on AWS: each request becomes a payload
 * format 2.0 event for the very handler the Lambda runs, and its result becomes the HTTP response.
 */
export async function startControlServer(options: {
  readonly handler: ControlHandler;
  readonly host: string;
  readonly port: number;
  readonly log: Log;
}): Promise<LocalControlServer> {
  const { handler, log } = options;
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      log.error('control request failed', { error: describeError(e) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Internal Server Error\n');
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://local');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const event: HttpApiEvent = {
      version: '2.0',
      routeKey: '$default',
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      body: body.toString('base64'),
      isBase64Encoded: true,
      requestContext: {
        http: {
          method: req.method ?? 'GET',
          path: url.pathname,
          ...(req.socket.remoteAddress ? { sourceIp: req.socket.remoteAddress } : {}),
        },
        requestId: randomUUID(),
        timeEpoch: Date.now(),
      },
    };
    const result = await handler(event);
    const payload =
      result.body === undefined ? Buffer.alloc(0) : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body);
    res.writeHead(result.statusCode, { ...result.headers, 'content-length': String(payload.length) });
    res.end(payload);
  }

  const { authority } = await listen(server, options.port, options.host, log);
  return {
    url: `http://${authority}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      chunks.push(buffer.subarray(0, buffer.length - (size - MAX_BODY_BYTES)));
      req.resume();
      break;
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}
