/**
 * Stable codes of {@link GripUsageError}: each names the argument or call that was wrong.
 */
export type GripUsageErrorCode =
  | 'invalid-argument'
  | 'invalid-channel'
  | 'invalid-close-code'
  | 'invalid-close-reason'
  | 'invalid-meta-name'
  | 'invalid-meta-value'
  | 'invalid-subprotocol'
  | 'invalid-message-prefix'
  | 'invalid-status'
  | 'invalid-keep-alive'
  | 'invalid-item'
  | 'message-too-large'
  | 'invalid-config';

/**
 * A bug in the code calling this library (an invalid channel name, a close code out of range, a header name
 * that cannot be a header...). Thrown, never returned: fix the call rather than handling it at run time.
 *
 * @example
 * try {
 *   reply.subscribe('');
 * } catch (e) {
 *   if (e instanceof GripUsageError) console.error(e.code); // 'invalid-channel'
 * }
 */
export class GripUsageError extends Error {
  override readonly name = 'GripUsageError';
  constructor(
    readonly code: GripUsageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
