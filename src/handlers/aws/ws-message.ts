// Lambda entry: WebSocket route `$default`. Built once per container, at cold start, from its environment.
import { awsResources } from '../../functions/aws.js';
import { composeWsMessage } from '../../functions/websocket.js';

export const handler = composeWsMessage(await awsResources('ws-message', process.env));
