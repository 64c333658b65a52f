import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
  type ApiGatewayManagementApiClientConfig,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { CloseRequest, ConnectionSender, SendOutcome } from '../domain/ports.js';
import { MAX_MESSAGE_BYTES } from '../domain/protocol/limits.js';
import { describeAwsError, summarizeAwsError } from './aws-errors.js';

export interface ManagementApiClientOptions {
  /** `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`, or the local Management API's URL. */
  readonly endpoint: string;
  readonly region: string;
  /** Sockets per origin; set it ≥ the caller's concurrency, or calls queue inside Node (the SDK default is 50). */
  readonly maxSockets: number;
  /** A call with no response by then fails (retryable). Default 5,000 ms. */
  readonly requestTimeoutMs?: number;
  /** Only for local mode and tests; on AWS the default provider chain supplies the role's credentials. */
  readonly credentials?: ApiGatewayManagementApiClientConfig['credentials'];
}

/**
 * Builds the one Management API client a container should share: keep-alive HTTP(S) agents with `maxSockets`,
 * a request timeout that really fails the call, and `maxAttempts: 1`, because retrying (with backoff, per
 * connection, counting attempts) is the fan-out worker's job, not the SDK's.
 *
 * @example
 * const client = createManagementApiClient({ endpoint: `https://${domain}/${stage}`, region, maxSockets: 100 });
 * const sender = new ApiGatewayConnectionSender({ client });
 */
export function createManagementApiClient(options: ManagementApiClientOptions): ApiGatewayManagementApiClient {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
  return new ApiGatewayManagementApiClient({
    endpoint: options.endpoint,
    region: options.region,
    maxAttempts: 1,
    // no custom middleware is added to this client, so the SDK may cache its resolved middleware stack
    cacheMiddleware: true,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      requestTimeout: options.requestTimeoutMs ?? 5_000,
      // without this, @smithy/node-http-handler only logs a warning when the request timeout passes
      throwOnRequestTimeout: true,
    }),
  });
}

/**
 * What a Management API failure means for the caller:
 * - 410 / `GoneException` → `gone` (the client left; delete its items; not a failure);
 * - 429 / `LimitExceededException` → `throttled` (account rate or the client's buffer; retry with backoff);
 * - 413 / `PayloadTooLargeException` → `too-large` (never succeeds on retry);
 * - 403 / `ForbiddenException` and other 4xx → `failed`, not retryable (configuration or a bug);
 * - 5xx, timeouts and network errors → `failed`, retryable.
 * The status code is checked as well as the name: a 410 without AWS's error header parses as `Unknown`.
 */
export function sendOutcomeFrom(thrown: unknown): SendOutcome {
  const info = describeAwsError(thrown);
  const message = summarizeAwsError(info);
  if (info.name === 'GoneException' || info.status === 410) return { kind: 'gone' };
  if (info.name === 'LimitExceededException' || info.status === 429) return { kind: 'throttled', message };
  if (info.name === 'PayloadTooLargeException' || info.status === 413) return { kind: 'too-large', message };
  const serverSide = info.fault === 'server' || (info.status !== undefined && info.status >= 500);
  const clientSide = !serverSide && (info.name === 'ForbiddenException' || info.fault === 'client' || (info.status ?? 0) >= 400);
  return { kind: 'failed', retryable: !clientSide, message, cause: thrown };
}

export interface ApiGatewayConnectionSenderOptions {
  /** Build it with `createManagementApiClient` (one per container). */
  readonly client: ApiGatewayManagementApiClient;
}

/**
 * `ConnectionSender` over the API Gateway Management API (`@connections`). Each call is exactly one HTTP
 * request; outcomes are translated by `sendOutcomeFrom` and nothing throws.
 *
 * `post` refuses data over 128 KB locally (`too-large`, no request made), as API Gateway would.
 * `close` is `DeleteConnection`: API Gateway cannot send a close code or reason, so the client sees 1000 whatever
 * `request` says; the code and reason are ignored here (the local gateway honours them).
 */
export class ApiGatewayConnectionSender implements ConnectionSender {
  private readonly client: ApiGatewayManagementApiClient;

  constructor(options: ApiGatewayConnectionSenderOptions) {
    this.client = options.client;
  }

  async post(connectionId: string, data: string | Uint8Array): Promise<SendOutcome> {
    const size = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
    if (size > MAX_MESSAGE_BYTES) {
      return { kind: 'too-large', message: `message is ${size} bytes; API Gateway accepts at most ${MAX_MESSAGE_BYTES}` };
    }
    try {
      await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
      return { kind: 'ok' };
    } catch (e) {
      return sendOutcomeFrom(e);
    }
  }

  async close(connectionId: string, _request?: CloseRequest): Promise<SendOutcome> {
    try {
      await this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
      return { kind: 'ok' };
    } catch (e) {
      return sendOutcomeFrom(e);
    }
  }
}
