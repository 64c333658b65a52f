/**
 * The local gateway's answers to an upgrade request that does not become a WebSocket: `$connect`'s result
 * checked at the boundary, the statuses API Gateway answers when the integration fails, and the raw HTTP
 * response written on the upgrade socket.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import { headerValue, isFieldValue, isHeaderName } from '../domain/protocol/headers.js';

/** What the handshake answers: a status, and for anything but 200 the response's headers and body. */
export interface ConnectDecision {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Status and body API Gateway answers when the `$connect` integration fails. */
export const INTEGRATION_FAILURE = { statusCode: 502, body: '{"message": "Internal server error"}' } as const;
export const INTEGRATION_TIMEOUT = { statusCode: 504, body: '{"message": "Endpoint request timed out"}' } as const;
export const SHUTTING_DOWN = { statusCode: 503, body: '{"message": "Service Unavailable"}' } as const;

/** Headers of `$connect`'s result that never reach the 101 or the rejection: the gateway owns them. */
const RESERVED_RESPONSE_HEADERS = new Set([
  'connection',
  'upgrade',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'sec-websocket-accept',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

const connectResultSchema = z.object({
  statusCode: z.number().int().min(200).max(599),
  headers: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
    .nullish()
    .transform((h) => h ?? undefined),
  body: z
    .string()
    .nullish()
    .transform((b) => b ?? undefined),
});

/** Accepts a `WebSocketResult` whose status an HTTP response can carry; `null` for anything else. */
export function parseConnectResult(raw: unknown): ConnectDecision | null {
  const parsed = connectResultSchema.safeParse(raw);
  if (!parsed.success) return null;
  const { statusCode, headers, body } = parsed.data;
  return { statusCode, ...(headers ? { headers } : {}), ...(body !== undefined ? { body } : {}) };
}

/**
 * The subprotocol `$connect` chose (its `Sec-WebSocket-Protocol`, any case): `undefined` when it chose none,
 * `null` when the value cannot be sent in a header.
 */
export function chosenSubprotocol(headers: Readonly<Record<string, string>> | undefined): string | undefined | null {
  const chosen = headerValue(headers, 'sec-websocket-protocol');
  return chosen === undefined || isFieldValue(chosen) ? chosen : null;
}

/** The result's headers that may go on the wire: gateway-owned and malformed ones are dropped. */
export function responseHeaders(headers: Readonly<Record<string, string>> | undefined): [string, string][] {
  if (!headers) return [];
  return Object.entries(headers).filter(
    ([name, value]) => isHeaderName(name) && isFieldValue(value) && !RESERVED_RESPONSE_HEADERS.has(name.toLowerCase()),
  );
}

/** Answers an upgrade request with a complete HTTP response and closes the socket. */
export function writeHttpResponse(socket: Duplex, status: number, headers: readonly [string, string][], body: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const payload = Buffer.from(body, 'utf8');
  const hasType = headers.some(([n]) => n.toLowerCase() === 'content-type');
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`];
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  if (!hasType && payload.length > 0) lines.push('Content-Type: application/json');
  lines.push(`Content-Length: ${payload.length}`, 'Connection: close', 'Date: ' + new Date().toUTCString());
  socket.once('finish', () => socket.destroy());
  socket.end(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), payload]));
}
