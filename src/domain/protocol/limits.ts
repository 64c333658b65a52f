/**
 * The protocol's size limits and close-frame rules, in one place: the publish parser, the reply interpreter,
 * the job schema, the senders (AWS and local) and the client library all check against these.
 */

/** API Gateway's limit on one WebSocket message, in either direction (`PostToConnection`, incoming frames): 128 KB. */
export const MAX_MESSAGE_BYTES = 131_072;

/** Pushpin's `push_in_http_max_body_size`: the largest publish body the control API reads. */
export const MAX_PUBLISH_BODY_BYTES = 1_000_000;

/** Pushpin's `RESPONSE_BODY_MAX`: the largest backend reply to a WebSocket-over-HTTP request. */
export const MAX_REPLY_BODY_BYTES = 1_000_000;

/** A rejection body passed on to the client is cut to this many bytes, as Pushpin does. */
export const MAX_REJECT_BODY_BYTES = 100_000;

/** Longest close reason that fits a close frame: a 125-byte control payload minus the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Whether a close code may be put in a close frame (RFC 6455 §7.4): 1000–1014 except the reserved 1004, 1005 and
 * 1006, or 3000–4999 (registered and private codes). `ws` throws on any other code, and a browser fails the
 * connection, so codes from backends and publishers are checked with this before they travel further.
 */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** Longest connection id accepted anywhere (API Gateway's are 16 characters). */
export const MAX_CONNECTION_ID_LENGTH = 128;
const CONNECTION_ID = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Whether `id` has the shape of an API Gateway connection id: base64 (16 characters ending in `=`, e.g.
 * `L0SM9cOFvHcCIhw=`), at most {@link MAX_CONNECTION_ID_LENGTH} characters. The Management API answers 400 for
 * anything else (docs/aws-facts.md).
 */
export function isConnectionIdShaped(id: string): boolean {
  return id.length > 0 && id.length <= MAX_CONNECTION_ID_LENGTH && CONNECTION_ID.test(id);
}
