import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { HandlerFunction, type HandlerAccess, type HandlerName, type HandlerResources } from './handler-function.js';

/**
 * What each function may touch: the single place its environment variables and IAM grants come from. Consuming
 * the source queues is granted by the worker's event source mappings, not here.
 */
export const handlerAccess = {
  'ws-connect': { table: 'items', gripKey: true, backend: true, sendTo: ['ordered', 'delayed'] },
  // ws-message only schedules keep-alives (delayed); what it sends to its own connection goes straight out.
  'ws-message': { table: 'items', gripKey: true, backend: true, sendTo: ['delayed'], manageConnections: true },
  'ws-disconnect': { table: 'items', gripKey: true, backend: true },
  control: { gripKey: true, sendTo: ['ordered'] },
  'fanout-worker': {
    table: 'itemsAndChannelIndex',
    sendTo: ['ordered', 'delayed', 'delayedDeadLetter'],
    manageConnections: true,
  },
} as const satisfies Record<HandlerName, HandlerAccess>;

/** API Gateway gives up on a WebSocket integration after 29 s; a longer function timeout would only waste time. */
const webSocketIntegrationLimitSeconds = 29;

/** The five Lambda functions, each built from its row of `handlerAccess`. */
export class Handlers extends Construct {
  readonly wsConnect: HandlerFunction;
  readonly wsMessage: HandlerFunction;
  readonly wsDisconnect: HandlerFunction;
  readonly control: HandlerFunction;
  readonly fanoutWorker: HandlerFunction;

  constructor(scope: Construct, id: string, resources: HandlerResources) {
    super(scope, id);
    const { runtime, stack, deploy } = resources.config;
    // The backend call dominates; leave a few seconds for the secret, DynamoDB and the queue around it.
    const webSocketTimeout = Duration.seconds(Math.min(webSocketIntegrationLimitSeconds, Math.ceil(runtime.backendTimeoutMs / 1000) + 5));
    const make = (id: string, handler: HandlerName, description: string, memorySize: number, timeout: Duration) =>
      new HandlerFunction(this, id, { handler, description, access: handlerAccess[handler], resources, memorySize, timeout });

    this.wsConnect = make(
      'WsConnect',
      'ws-connect',
      'WebSocket $connect: asks the backend (OPEN) and stores the connection',
      stack.handlerMemoryMb,
      webSocketTimeout,
    );
    this.wsMessage = make(
      'WsMessage',
      'ws-message',
      'WebSocket $default: forwards a frame to the backend (TEXT) and applies its reply',
      stack.handlerMemoryMb,
      webSocketTimeout,
    );
    this.wsDisconnect = make(
      'WsDisconnect',
      'ws-disconnect',
      'WebSocket $disconnect: tells the backend (CLOSE/DISCONNECT) and deletes the connection',
      stack.handlerMemoryMb,
      webSocketTimeout,
    );
    this.control = make(
      'Control',
      'control',
      'GRIP control API: authenticates and enqueues publishes and closes',
      stack.handlerMemoryMb,
      Duration.seconds(10),
    );
    this.fanoutWorker = make(
      'FanoutWorker',
      'fanout-worker',
      'Fan-out worker: pages channel subscribers and delivers through the Management API',
      deploy.workerMemoryMb,
      Duration.seconds(deploy.workerTimeoutSeconds),
    );
  }

  get all(): readonly HandlerFunction[] {
    return [this.wsConnect, this.wsMessage, this.wsDisconnect, this.control, this.fanoutWorker];
  }
}
