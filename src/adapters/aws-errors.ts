import type { StoreError } from '../domain/ports.js';

/**
 * Reading AWS SDK v3 errors at the edge. SDK service exceptions carry `name`, `$fault` and
 * `$metadata.httpStatusCode`; transport failures are Node system errors (`code` such as `ECONNREFUSED`) or the
 * HTTP handler's `TimeoutError`. Everything here reads `unknown` defensively: nothing thrown is trusted.
 */

/** What an adapter needs to know about something an SDK call threw. */
export interface AwsErrorInfo {
  /** The exception name (`GoneException`, `ThrottlingException`, `TimeoutError`, …), or `Error`. */
  readonly name: string;
  readonly message: string;
  /** The HTTP status of the service's answer, when there was one. */
  readonly status: number | undefined;
  /** The SDK's verdict on whose fault it was, when the service answered. */
  readonly fault: 'client' | 'server' | undefined;
  /** A Node system error code (`ECONNREFUSED`, `ECONNRESET`, …) for transport failures. */
  readonly code: string | undefined;
  /** The SDK marked it as a throttling error. */
  readonly throttling: boolean;
}

const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** Extracts the fields adapters branch on from anything thrown by an SDK call. Never throws. */
export function describeAwsError(thrown: unknown): AwsErrorInfo {
  const status = field(field(thrown, '$metadata'), 'httpStatusCode');
  const fault = field(thrown, '$fault');
  const cause = field(thrown, 'cause');
  return {
    name: str(field(thrown, 'name')) ?? 'Error',
    message: str(field(thrown, 'message')) ?? String(thrown),
    status: typeof status === 'number' ? status : undefined,
    fault: fault === 'client' || fault === 'server' ? fault : undefined,
    code: str(field(thrown, 'code')) ?? str(field(cause, 'code')),
    throttling: field(field(thrown, '$retryable'), 'throttling') === true,
  };
}

/** Exception names that mean "slow down" across DynamoDB and SQS. */
const THROTTLING_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'ThrottledException',
  'TooManyRequestsException',
  'KmsThrottled',
  'OverLimit',
  'LimitExceededException',
]);

/** Node and undici error codes of a transport that failed before or during the exchange. */
const TRANSPORT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
]);

const TRANSPORT_NAMES = new Set(['TimeoutError', 'AbortError', 'RequestTimeout', 'RequestTimeoutException']);

/** True when nothing (or nothing complete) came back from the service: a network or timeout failure. */
export function isTransportError(info: AwsErrorInfo): boolean {
  if (info.status !== undefined) return false;
  return TRANSPORT_NAMES.has(info.name) || (info.code !== undefined && TRANSPORT_CODES.has(info.code));
}

/**
 * The four classes every storage and queue failure falls into:
 * - `throttled`: the service asked us to slow down (safe to retry with backoff);
 * - `conflict`: a condition did not hold (DynamoDB `ConditionalCheckFailedException`);
 * - `invalid`: the request is wrong (validation, missing table or queue, access denied): retrying cannot help;
 * - `unavailable`: a 5xx, a timeout or a network failure (safe to retry).
 *
 * A throw that is neither a service answer nor a known transport failure (a `TypeError` from marshalling, say)
 * is a bug in the request: `invalid`. Other unknown throws without an answer count as `unavailable`.
 */
export type AwsErrorClass = 'throttled' | 'conflict' | 'invalid' | 'unavailable';

export function classifyAwsError(info: AwsErrorInfo): AwsErrorClass {
  if (info.throttling || THROTTLING_NAMES.has(info.name) || info.status === 429) return 'throttled';
  if (info.name === 'ConditionalCheckFailedException') return 'conflict';
  if (info.fault === 'server' || (info.status !== undefined && info.status >= 500)) return 'unavailable';
  if (info.fault === 'client' || (info.status !== undefined && info.status >= 400)) return 'invalid';
  if (isTransportError(info)) return 'unavailable';
  if (info.name === 'TypeError' || info.name === 'RangeError' || info.name === 'SyntaxError') return 'invalid';
  return 'unavailable';
}

/** A one-line description for error messages: `ThrottlingException (HTTP 400): Rate exceeded`. */
export function summarizeAwsError(info: AwsErrorInfo): string {
  const where = info.status !== undefined ? ` (HTTP ${info.status})` : info.code ? ` (${info.code})` : '';
  return `${info.name}${where}: ${info.message}`;
}

/** Translates anything a DynamoDB call threw into a `StoreError` naming the operation. */
export function storeErrorFrom(thrown: unknown, operation: string): StoreError {
  const info = describeAwsError(thrown);
  return { kind: classifyAwsError(info), message: `DynamoDB ${operation} failed: ${summarizeAwsError(info)}`, cause: thrown };
}
