/** Lambda events as AWS delivers them (`@types/aws-lambda` shapes), for handler tests. */
import type { SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import type { WebSocketRequestContext } from '#src/handlers/aws-events.js';

/** An SQS record as the event source mapping delivers it; `attributes` replace or add system attributes. */
export function sqsRecord(
  messageId: string,
  body: string,
  attributes: Partial<SQSRecordAttributes> = {},
  eventSourceARN = 'arn:aws:sqs:eu-west-1:000000000000:q.fifo',
): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'AIDA',
      ApproximateFirstReceiveTimestamp: '0',
      ...attributes,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion: eventSourceARN.split(':')[3] ?? '',
  };
}

/** The request context API Gateway puts on a WebSocket event, with `overrides`. */
export function webSocketRequestContext(
  eventType: WebSocketRequestContext['eventType'],
  connectionId: string,
  overrides: Partial<WebSocketRequestContext> = {},
): WebSocketRequestContext {
  const routeKey = eventType === 'CONNECT' ? '$connect' : eventType === 'MESSAGE' ? '$default' : '$disconnect';
  return {
    routeKey,
    eventType,
    connectionId,
    extendedRequestId: 'req',
    requestTime: '11/Nov/2026:13:45:46 +0000',
    messageDirection: 'IN',
    domainName: 'abc.execute-api.eu-west-1.amazonaws.com',
    stage: 'prod',
    apiId: 'abc',
    requestId: 'req',
    requestTimeEpoch: 1_800_000_000_000,
    connectedAt: 1_800_000_000_000,
    ...overrides,
  };
}
