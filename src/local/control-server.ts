import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { localSettings } from '../config/settings.js';
import type { Log } from '../domain/ports.js';
import { MAX_PUBLISH_BODY_BYTES } from '../domain/protocol/limits.js';
import type { ControlHandler, HttpApiEvent } from '../handlers/aws-events.js';
import { listen } from './http.js';
import { describeError } from './log.js';

/**
 * Slow clients (slowloris) and idle sockets are cut off (Node's defaults are a minute for headers, 5 for bodies),
 * and concurrent connections are capped: `controlHeadersTimeoutMs`, `controlRequestTimeoutMs`,
 * `controlMaxConnections` in the local settings.
 */
export interface ControlServerLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
}

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
  /** Default: the local settings' defaults. */
  readonly limits?: ControlServerLimits;
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
    const sourceIp = req.socket.remoteAddress;
    // Nothing is buffered for a request that cannot be authorized (the handler checks the credential itself).
    if (req.method === 'POST' && req.headers.authorization === undefined) {
      return refuse(res, 401, 'Unauthorized: missing Authorization header', { 'www-authenticate': 'Bearer' });
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_PUBLISH_BODY_BYTES) return refuse(res, 413, `Payload Too Large: the body is over ${MAX_PUBLISH_BODY_BYTES} bytes`);
    const body = await readBody(req);
    if (body === 'too-large') return refuse(res, 413, `Payload Too Large: the body is over ${MAX_PUBLISH_BODY_BYTES} bytes`);
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
          ...(sourceIp ? { sourceIp } : {}),
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

  server.headersTimeout = options.limits?.headersTimeoutMs ?? localSettings.controlHeadersTimeoutMs.default;
  server.requestTimeout = options.limits?.requestTimeoutMs ?? localSettings.controlRequestTimeoutMs.default;
  server.maxConnections = options.limits?.maxConnections ?? localSettings.controlMaxConnections.default;
  const { authority } = await listen(server, options.port, options.host, log);
  return {
    url: `http://${authority}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The body, or `'too-large'` as soon as it passes the publish limit (chunked uploads declare no length): nothing
 * past the limit is read or kept.
 */
function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PUBLISH_BODY_BYTES) {
        req.off('data', onData);
        req.pause();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Answers without reading (the rest of) the body, and closes the connection so the client stops sending. */
function refuse(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', connection: 'close', ...headers });
  res.end(`${message}\n`, () => res.socket?.destroySoon?.());
}
