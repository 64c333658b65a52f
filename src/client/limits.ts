/**
 * The protocol limits a backend needs, re-declared from the server's modules so that the package's types stand
 * alone (re-exporting them would ship the declarations of the server's reply and publish parsers).
 */
import * as limits from '../domain/protocol/limits.js';
import * as events from '../domain/protocol/events.js';

/** The message prefix of GRIP mode unless `accept({ messagePrefix })` picks another. */
export const DEFAULT_MESSAGE_PREFIX = events.DEFAULT_MESSAGE_PREFIX;
/** The largest reply body a GRIP proxy accepts (Pushpin's `RESPONSE_BODY_MAX`). */
export const MAX_REPLY_BODY_BYTES = limits.MAX_REPLY_BODY_BYTES;
/** The longest close reason: a 125-byte control frame minus the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = limits.MAX_CLOSE_REASON_BYTES;
/** The largest message this server delivers to a client: API Gateway's limit on one message. */
export const MAX_MESSAGE_BYTES = limits.MAX_MESSAGE_BYTES;
/** The largest publish request body (Pushpin's `push_in_http_max_body_size`). */
export const MAX_PUBLISH_BODY_BYTES = limits.MAX_PUBLISH_BODY_BYTES;
