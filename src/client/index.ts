/**
 * The backend client library: read WebSocket-over-HTTP requests from a GRIP proxy (this server or Pushpin),
 * build the replies, verify `Grip-Sig`, and publish through the GRIP control API. Web standards only
 * (`Request`, `Response`, `fetch`, WebCrypto); Node glue is in `./node.js` (`<package>/client/node`).
 */
export { GripUsageError, type GripUsageErrorCode } from './errors.js';
export {
  DEFAULT_MAX_BODY_BYTES,
  isWsOverHttp,
  readWebSocketRequest,
  type ReadWebSocketRequestOptions,
  type WebSocketEvent,
  type WebSocketRequest,
  type WebSocketRequestError,
} from './request.js';
export { WebSocketReply, type AcceptOptions, type KeepAliveOptions, type WebSocketReplyOptions } from './response.js';
export { verifyGripSig, type GripSigResult, type SharedKey, type VerifyGripSigOptions } from './signature.js';
export {
  binaryItem,
  closeItem,
  connectionCloseItem,
  connectionTextItem,
  textItem,
  type CloseOptions,
  type ItemOptions,
  type PublishItem,
  type WsMessageFormat,
} from './items.js';
export {
  ControlClient,
  parseRetryAfter,
  PublishError,
  type ControlClientOptions,
  type PublishErrorCode,
  type RetryOptions,
} from './publisher.js';
export { DEFAULT_MESSAGE_PREFIX } from '../domain/protocol/reply.js';
export { MAX_CLOSE_REASON_BYTES, MAX_MESSAGE_BYTES, MAX_PUBLISH_BODY_BYTES, MAX_REPLY_BODY_BYTES } from '../domain/protocol/limits.js';
export type { Result } from '../domain/result.js';
