// Lambda entry: WebSocket route `$connect`. Built once per container, at cold start, from its environment.
import { awsResources } from '../../functions/aws.js';
import { composeWsConnect } from '../../functions/websocket.js';

export const handler = composeWsConnect(await awsResources('ws-connect', process.env));
