/** Argument checks shared by the reply builder and the control client. Each throws a {@link GripUsageError}. */
import { validateChannel } from '../domain/channel.js';
import { isSendableCloseCode, MAX_CLOSE_REASON_BYTES } from '../domain/protocol/limits.js';
import { utf8ByteLength } from '../domain/protocol/values.js';
import { GripUsageError } from './errors.js';

/**
 * The channel, if `validateChannel` accepts it; else throws `invalid-channel`.
 *
 * @example
 * checkChannel('room:1') // 'room:1'
 */
export function checkChannel(channel: unknown): string {
  const checked = validateChannel(channel);
  if (!checked.ok) throw new GripUsageError('invalid-channel', `invalid channel ${describe(channel)}: ${checked.error.message}`);
  return checked.value;
}

/**
 * Throws `invalid-close-code` unless `code` can be put in a close frame, and `invalid-close-reason` unless
 * `reason` is a string of at most 123 UTF-8 bytes.
 *
 * @example
 * checkClose(4000, 'room closed') // ok
 * checkClose(1005, '')            // throws: 1005 is never sent on the wire
 */
export function checkClose(code: unknown, reason: unknown): void {
  if (typeof code !== 'number' || !isSendableCloseCode(code)) {
    throw new GripUsageError('invalid-close-code', `invalid close code ${describe(code)}: use 1000-1014 (except 1004-1006) or 3000-4999`);
  }
  if (typeof reason !== 'string') throw new GripUsageError('invalid-close-reason', 'close reason must be a string');
  if (utf8ByteLength(reason) > MAX_CLOSE_REASON_BYTES) {
    throw new GripUsageError('invalid-close-reason', `close reason must be at most ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`);
  }
}

/**
 * A short printable form of a bad argument for an error message.
 *
 * @example
 * describe('x'.repeat(100)) // '"xxxx…...' (80 characters)
 */
export function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
