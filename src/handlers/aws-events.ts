/**
 * The Lambda event and result shapes the handlers accept: `@types/aws-lambda`'s, extended only by what real
 * events carry that it lacks (`headers` on `$connect` and `$disconnect`, `identity`, the disconnect status and
 * reason; see `docs/aws-facts.md` §1.5) and our local gateway's `localHandshake`, and narrowed to the slices the
 * handlers read where a full event would be a burden to build locally. The local gateway and the local queue
 * poller produce these shapes.
 */
import type {
  APIGatewayEventWebsocketRequestContextV2,
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  APIGatewayProxyWebsocketEventV2WithRequestContext,
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';

/** A WebSocket event's `requestContext`: `@types/aws-lambda`'s, plus the fields real events carry beyond it. */
export interface WebSocketRequestContext extends Omit<APIGatewayEventWebsocketRequestContextV2, 'messageId'> {
  /** MESSAGE events only (`@types/aws-lambda` declares it on every event). */
  readonly messageId?: string;
  readonly identity?: { readonly sourceIp?: string; readonly userAgent?: string };
  /** DISCONNECT only (undocumented by AWS, seen in real events): the close code, e.g. 1000 or 1006. */
  readonly disconnectStatusCode?: number;
  readonly disconnectReason?: string;
}

/** A `$connect`, `$default` or `$disconnect` invocation from an API Gateway WebSocket API. */
export interface ApiGatewayWebSocketEvent extends APIGatewayProxyWebsocketEventV2WithRequestContext<WebSocketRequestContext> {
  /** CONNECT (all handshake headers) and DISCONNECT (a few); absent on MESSAGE. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[]>>;
  /**
   * Local-gateway extension, never set by API Gateway: the handshake path relative to the endpoint and the raw
   * query string, so local mode can forward any path to the backend. On AWS the stage is the whole path.
   */
  readonly localHandshake?: { readonly path: string; readonly rawQuery: string };
}

/** What a WebSocket route handler returns (only `$connect`'s status and headers reach the client): string headers. */
export type WebSocketResult = Omit<APIGatewayProxyStructuredResultV2, 'statusCode' | 'headers'> & {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
};

type HttpApiContext = APIGatewayProxyEventV2['requestContext'];

/** The slice of an HTTP API (payload format 2.0) request the control API reads; a full event is one. */
export type HttpApiEvent = Pick<
  APIGatewayProxyEventV2,
  'version' | 'routeKey' | 'rawPath' | 'rawQueryString' | 'headers' | 'isBase64Encoded'
> &
  Partial<Pick<APIGatewayProxyEventV2, 'body'>> & {
    readonly requestContext: Pick<HttpApiContext, 'requestId' | 'timeEpoch'> & {
      readonly http: Pick<HttpApiContext['http'], 'method' | 'path'> & Partial<Pick<HttpApiContext['http'], 'sourceIp'>>;
    };
  };

/** What the control API answers: an HTTP API result with string headers. */
export type HttpApiResult = WebSocketResult;

export type SqsRecord = SQSRecord;
export type SqsEvent = SQSEvent;
/** Partial batch response: the records listed here are returned to the queue; all others are deleted. */
export type SqsBatchResponse = SQSBatchResponse;

/** The slice of the Lambda context the handlers use. The local poller provides the same. */
export type InvocationContext = Pick<Context, 'getRemainingTimeInMillis'> & Partial<Pick<Context, 'awsRequestId'>>;

/** The three WebSocket route handlers, as the Lambda entry points and the local gateway call them. */
export interface WebSocketRouteHandlers {
  connect(event: ApiGatewayWebSocketEvent): Promise<WebSocketResult>;
  message(event: ApiGatewayWebSocketEvent): Promise<WebSocketResult>;
  disconnect(event: ApiGatewayWebSocketEvent): Promise<WebSocketResult>;
}

export type ControlHandler = (event: HttpApiEvent) => Promise<HttpApiResult>;
export type WorkerHandler = (event: SqsEvent, context: InvocationContext) => Promise<SqsBatchResponse>;
