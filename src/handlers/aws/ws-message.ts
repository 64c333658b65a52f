// Lambda entry: WebSocket route `$default`, and the consumer of the ordered lane of client messages it feeds
// (an SQS event source). Built once per container, at cold start, from its environment.
import { awsResources } from '../../functions/aws.js';
import { composeWsMessage } from '../../functions/websocket.js';
import type { ApiGatewayWebSocketEvent, SqsEvent } from '../aws-events.js';

const { route, lane } = composeWsMessage(await awsResources('ws-message', process.env));

/** An SQS event has `Records` from `aws:sqs`; anything else is the WebSocket route's (which validates it). */
function isSqsEvent(event: SqsEvent | ApiGatewayWebSocketEvent): event is SqsEvent {
  return 'Records' in event && Array.isArray(event.Records) && event.Records.every((r) => r.eventSource === 'aws:sqs');
}

export const handler = (event: SqsEvent | ApiGatewayWebSocketEvent) => (isSqsEvent(event) ? lane(event) : route(event));
