// Lambda entry: WebSocket route `$disconnect`. Built once per container, at cold start, from its environment.
import { awsResources } from '../../functions/aws.js';
import { composeWsDisconnect } from '../../functions/websocket.js';

export const handler = composeWsDisconnect(await awsResources('ws-disconnect', process.env));
