/**
 * The one vocabulary for what the server sends to a client: the backend's replies, publishes, queued jobs,
 * keep-alive heartbeats and stored connection records all carry these values, and one zod schema checks them
 * wherever they come back from a queue or a table.
 */
import { z } from 'zod';
import { decodeBase64, encodeBase64 } from './protocol/base64.js';
import { isSendableCloseCode, MAX_CLOSE_REASON_BYTES } from './protocol/limits.js';
import { utf8ByteLength } from './protocol/values.js';

/**
 * A message for a client. Binary content is base64 (canonical, as `encodeBase64` writes it), because queue
 * bodies and DynamoDB attributes must be text; it is decoded once, when the message goes on the wire.
 */
export type Message = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'binary'; readonly base64: string };

/** A close for a client: `code` is sendable (`isSendableCloseCode`) and `reason` at most 123 UTF-8 bytes. */
export interface Close {
  readonly kind: 'close';
  readonly code?: number;
  readonly reason?: string;
}

/**
 * The publish `refresh` action: the connection's session makes a request to the backend now (an empty one when
 * the client sent nothing), as Pushpin's `WebSocketOverHttp::refresh` does. Nothing goes to the client.
 */
export interface Refresh {
  readonly kind: 'refresh';
}

/** What one delivery carries: a message, a close (which ends that connection's sequence), or a refresh. */
export type Payload = Message | Close | Refresh;

/** Whether a payload is a message for the client (not a close or a refresh): what history keeps and filters rewrite. */
export const isMessage = (payload: Payload): payload is Message => payload.kind === 'text' || payload.kind === 'binary';

export const textMessage = (text: string): Message => ({ kind: 'text', text });
export const binaryMessage = (data: Uint8Array): Message => ({ kind: 'binary', base64: encodeBase64(data) });

/** What goes on the wire for a message (`ConnectionSender.post`); `null` when its base64 is corrupt. */
export function wireData(message: Message): string | Uint8Array | null {
  return message.kind === 'text' ? message.text : decodeBase64(message.base64);
}

const textSchema = z.object({ kind: z.literal('text'), text: z.string() });
const binarySchema = z.object({ kind: z.literal('binary'), base64: z.string() });

/** Checks a `Message` read back from a queue body or a stored item. */
export const messageSchema = z.discriminatedUnion('kind', [textSchema, binarySchema]);

/** Checks a `Payload` read back from a queue body: a close's code and reason must be sendable. */
export const payloadSchema = z.discriminatedUnion('kind', [
  textSchema,
  binarySchema,
  z.object({ kind: z.literal('refresh') }),
  z.object({
    kind: z.literal('close'),
    code: z.number().int().refine(isSendableCloseCode, { message: 'not a close code a server may send' }).exactOptional(),
    reason: z
      .string()
      .refine((reason) => utf8ByteLength(reason) <= MAX_CLOSE_REASON_BYTES, {
        message: `more than ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`,
      })
      .exactOptional(),
  }),
]);
