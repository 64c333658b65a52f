/**
 * Node glue for the Web-standard client: turn a `node:http` (or Express) request into a Fetch `Request`, write
 * a Fetch `Response` back, or wrap a `(Request) => Promise<Response>` handler as a `node:http` listener.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MAX_BODY_BYTES } from './request.js';

/** Default cap on request bodies read by {@link toWebRequest}: 1 MB, Pushpin's own body limit. */
export const DEFAULT_NODE_MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES;

export interface ToWebRequestOptions {
  /**
   * Scheme and authority of the URL the request is given, e.g. `https://api.example.com`. Default:
   * `http://<Host header>` (or `http://localhost` without one). The path and query always come from `req.url`.
   */
  readonly baseUrl?: string;
  /** Largest body read, in bytes; more rejects with a {@link BodyTooLargeError}. Default 1,000,000. */
  readonly maxBodyBytes?: number;
}

/**
 * The request body is longer than the limit. {@link createNodeHandler} answers it with 413.
 *
 * @example
 * try {
 *   await toWebRequest(req, { maxBodyBytes: 1024 });
 * } catch (e) {
 *   if (e instanceof BodyTooLargeError) res.writeHead(413).end();
 * }
 */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  readonly code = 'body-too-large';
  constructor(readonly limit: number) {
    super(`request body is larger than ${limit} bytes`);
  }
}

/**
 * The client went away before sending its whole body. {@link createNodeHandler} just drops such requests.
 *
 * @example
 * try {
 *   await toWebRequest(req);
 * } catch (e) {
 *   if (e instanceof RequestAbortedError) return; // nobody is waiting for an answer
 * }
 */
export class RequestAbortedError extends Error {
  override readonly name = 'RequestAbortedError';
  readonly code = 'request-aborted';
  constructor(options?: { cause?: unknown }) {
    super('the request was aborted before its body was complete', options);
  }
}

/**
 * Turns a `node:http` `IncomingMessage` into a Fetch `Request`: method, URL, every header (repeated ones kept)
 * and the body, buffered up to `maxBodyBytes`. Works with Express too, as long as no body parser consumed the
 * body first. Rejects with {@link BodyTooLargeError} when the body is too long (declared or actual), with
 * {@link RequestAbortedError} when the client goes away mid-body, and with the stream's error if it fails.
 *
 * @example
 * import { createServer } from 'node:http';
 * createServer(async (req, res) => {
 *   const request = await toWebRequest(req);
 *   await sendWebResponse(res, await handle(request));
 * }).listen(8080);
 */
export async function toWebRequest(req: IncomingMessage, options: ToWebRequestOptions = {}): Promise<Request> {
  const limit = options.maxBodyBytes ?? DEFAULT_NODE_MAX_BODY_BYTES;
  const method = req.method ?? 'GET';
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    // HTTP/2 pseudo-headers (":path") are not headers; invalid names would make Headers throw.
    if (name.startsWith(':')) continue;
    try {
      headers.append(name, raw[i + 1] ?? '');
    } catch {
      // node:http already rejects malformed headers; anything left that Headers refuses is dropped.
    }
  }
  const url = new URL(req.url ?? '/', baseUrlOf(req, options.baseUrl));
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const body = hasBody ? await readNodeBody(req, limit) : undefined;
  return new Request(url, { method, headers, ...(body !== undefined ? { body } : {}) });
}

function baseUrlOf(req: IncomingMessage, baseUrl: string | undefined): string {
  if (baseUrl !== undefined) return baseUrl;
  const host = req.headers.host;
  if (host !== undefined) {
    try {
      return new URL(`http://${host}`).origin;
    } catch {
      // A Host header that is not a valid authority: fall through to localhost.
    }
  }
  return 'http://localhost';
}

function readNodeBody(req: IncomingMessage, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += buffer.length;
      if (total > limit) {
        cleanup();
        // Keep draining (and discarding) so the 413 can still be written on this socket.
        req.resume();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(buffer);
    };
    const onEnd = () => {
      cleanup();
      resolve(new Uint8Array(Buffer.concat(chunks, total)));
    };
    const onError = (error: Error) => {
      cleanup();
      // Node reports a client that hangs up mid-body as an 'aborted' ECONNRESET error on the request.
      reject(req.complete ? error : new RequestAbortedError({ cause: error }));
    };
    const onClose = () => {
      // 'close' before 'end' means the client went away mid-body.
      if (!req.complete) {
        cleanup();
        reject(new RequestAbortedError());
      }
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * Writes a Fetch `Response` to a `node:http` `ServerResponse`: status, status text, every header (several
 * `Set-Cookie` headers kept apart) and the body, streamed with back-pressure. Resolves when the response is
 * finished; if the client goes away first, the body stream is cancelled and it resolves too (there is nobody
 * left to tell). Rejects only if reading the `Response` body fails.
 *
 * @example
 * await sendWebResponse(res, new Response('hello', { status: 200 }));
 */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);
  if (response.body === null) {
    await endResponse(res);
    return;
  }
  const reader = response.body.getReader();
  let gone = false;
  const onClose = () => {
    gone = true;
    reader.cancel().catch(() => undefined);
  };
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || gone) break;
      if (!res.write(value)) await drained(res);
    }
  } catch (error) {
    if (!gone) {
      res.destroy(error instanceof Error ? error : undefined);
      throw error;
    }
    return;
  } finally {
    res.off('close', onClose);
  }
  if (!gone) await endResponse(res);
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function endResponse(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) {
      resolve();
      return;
    }
    res.once('close', resolve);
    res.end(resolve);
  });
}

export interface NodeHandlerOptions extends ToWebRequestOptions {
  /** Called with anything the handler throws (default `console.error`). The client then gets a 500. */
  readonly onError?: (error: unknown, req: IncomingMessage) => void;
}

/**
 * Wraps a Web-standard handler as a `node:http` request listener (usable with `http.createServer` or as the
 * last Express handler). A body over `maxBodyBytes` gets 413; a handler that throws gets a logged error and a
 * plain 500, so one bad request never takes the process down. A request whose client aborts mid-body is dropped.
 *
 * @example
 * import { createServer } from 'node:http';
 * import { createNodeHandler } from '@grip-channel-server/client/node';
 * createServer(createNodeHandler(async (request) => new Response('ok'))).listen(8080);
 */
export function createNodeHandler(
  handler: (request: Request) => Promise<Response>,
  options: NodeHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const onError = options.onError ?? ((error: unknown) => console.error('grip client: request handler failed', error));
  return (req, res) => {
    void (async () => {
      let response: Response;
      try {
        response = await handler(await toWebRequest(req, options));
      } catch (error) {
        if (error instanceof RequestAbortedError) {
          res.destroy();
          return;
        }
        if (error instanceof BodyTooLargeError) {
          response = new Response(`${error.message}\n`, { status: 413, headers: { connection: 'close' } });
        } else {
          onError(error, req);
          response = new Response('Internal Server Error\n', { status: 500 });
        }
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      await sendWebResponse(res, response);
    })().catch((error: unknown) => {
      onError(error, req);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
}
