/**
 * The backend client library: read WebSocket-over-HTTP requests from a GRIP proxy (this server or Pushpin),
 * build the replies, verify `Grip-Sig`, and publish through the GRIP control API. Web standards only
 * (`Request`, `Response`, `fetch`, WebCrypto); Node glue is in `./node.js` (`@grip-channel-server/client/node`).
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
export {
  WebSocketReply,
  type AcceptOptions,
  type KeepAliveOptions,
  type SubscribeFilter,
  type SubscribeOptions,
  type WebSocketReplyOptions,
} from './response.js';
export { verifyGripSig, type GripSigResult, type SharedKey, type VerifyGripSigOptions } from './signature.js';
export {
  binaryItem,
  closeItem,
  refreshItem,
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
  ControlError,
  parseRetryAfter,
  PublishError,
  type ControlClientOptions,
  type ControlErrorCode,
  type PublishErrorCode,
  type RetryOptions,
} from './publisher.js';
export { MAX_HISTORY_LIMIT, type HistoryGap, type HistoryItem, type HistoryOptions, type HistoryPage } from './history.js';
export {
  DEFAULT_MESSAGE_PREFIX,
  MAX_CLOSE_REASON_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PUBLISH_BODY_BYTES,
  MAX_REPLY_BODY_BYTES,
} from './limits.js';
export type { Result } from '../domain/result.js';
