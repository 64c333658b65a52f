// Lambda entry: the GRIP control API (HTTP API, payload format 2.0). Built once per container, at cold start.
import { awsResources } from '../../functions/aws.js';
import { composeControl } from '../../functions/control.js';

export const handler = composeControl(await awsResources('control', process.env));
