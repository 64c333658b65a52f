/**
 * The Lambda event and result shapes the handlers accept, as API Gateway really sends them. `@types/aws-lambda`
 * lacks several fields real WebSocket events carry (`headers` on `$connect`, `identity`, the disconnect status),
 * so they are declared here; see `docs/aws-facts.md` §1.5. The local gateway produces exactly these shapes.
 */

export interface WebSocketRequestContext {
  readonly routeKey: string;
  readonly eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT';
  readonly connectionId: string;
  readonly domainName: string;
  readonly stage: string;
  readonly apiId: string;
  readonly requestId: string;
  readonly extendedRequestId?: string;
  readonly requestTime?: string;
  readonly requestTimeEpoch: number;
  readonly connectedAt: number;
  readonly messageDirection?: 'IN';
  /** Present on MESSAGE events only. */
  readonly messageId?: string;
  readonly identity?: { readonly sourceIp?: string; readonly userAgent?: string };
  /** DISCONNECT only (undocumented by AWS, seen in real events): the close code, e.g. 1000 or 1006. */
  readonly disconnectStatusCode?: number;
  readonly disconnectReason?: string;
}

/** A `$connect`, `$default` or `$disconnect` invocation from an API Gateway WebSocket API. */
export interface ApiGatewayWebSocketEvent {
  readonly requestContext: WebSocketRequestContext;
  /** CONNECT (all handshake headers) and DISCONNECT (a few); absent on MESSAGE. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[]>>;
  readonly queryStringParameters?: Readonly<Record<string, string>>;
  readonly multiValueQueryStringParameters?: Readonly<Record<string, readonly string[]>>;
  readonly body?: string;
  readonly isBase64Encoded: boolean;
  /**
   * Local-gateway extension, never set by API Gateway: the handshake path relative to the endpoint and the raw
   * query string, so local mode can forward any path to the backend. On AWS the stage is the whole path.
   */
  readonly localHandshake?: { readonly path: string; readonly rawQuery: string };
}

/** What a WebSocket route handler returns. Only `$connect`'s status and headers reach the client. */
export interface WebSocketResult {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** HTTP API (payload format 2.0) request, as the control API receives it. */
export interface HttpApiEvent {
  readonly version: '2.0';
  readonly routeKey: string;
  readonly rawPath: string;
  readonly rawQueryString: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly isBase64Encoded: boolean;
  readonly requestContext: {
    readonly http: { readonly method: string; readonly path: string; readonly sourceIp?: string };
    readonly requestId: string;
    readonly timeEpoch: number;
  };
}

export interface HttpApiResult {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

/** One record of an SQS event source mapping batch. */
export interface SqsRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly messageAttributes?: Readonly<Record<string, unknown>>;
  readonly eventSource: 'aws:sqs';
  readonly eventSourceARN: string;
  readonly awsRegion?: string;
}

export interface SqsEvent {
  readonly Records: readonly SqsRecord[];
}

/** Partial batch response: the records listed here are returned to the queue; all others are deleted. */
export interface SqsBatchResponse {
  readonly batchItemFailures: readonly { readonly itemIdentifier: string }[];
}

/** The slice of the Lambda context the handlers use. The local poller provides the same. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
  readonly awsRequestId?: string;
}

/** The three WebSocket route handlers, as the Lambda entry points and the local gateway call them. */
export interface WebSocketRouteHandlers {
  connect(event: ApiGatewayWebSocketEvent): Promise<WebSocketResult>;
  message(event: ApiGatewayWebSocketEvent): Promise<WebSocketResult>;
  disconnect(event: ApiGatewayWebSocketEvent): Promise<WebSocketResult>;
}

export type ControlHandler = (event: HttpApiEvent) => Promise<HttpApiResult>;
export type WorkerHandler = (event: SqsEvent, context: InvocationContext) => Promise<SqsBatchResponse>;
