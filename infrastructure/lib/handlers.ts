import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { HandlerName } from '#src/config/functions.js';
import { HandlerFunction, type HandlerResources } from './handler-function.js';

/** API Gateway gives up on a WebSocket integration after 29 s; a longer function timeout would only waste time. */
const webSocketIntegrationLimitSeconds = 29;

/** The WebSocket route functions' timeout: the backend call dominates; a few seconds for the rest, ≤ 29 s. */
export function webSocketHandlerTimeout(backendTimeoutMs: number): Duration {
  return Duration.seconds(Math.min(webSocketIntegrationLimitSeconds, Math.ceil(backendTimeoutMs / 1000) + 5));
}

/** The five Lambda functions, each built from its row of `handlerAccess` (`src/config/functions.ts`). */
export class Handlers extends Construct {
  readonly wsConnect: HandlerFunction;
  readonly wsMessage: HandlerFunction;
  readonly wsDisconnect: HandlerFunction;
  readonly control: HandlerFunction;
  readonly fanoutWorker: HandlerFunction;

  constructor(scope: Construct, id: string, resources: HandlerResources) {
    super(scope, id);
    const { runtime, stack, deploy } = resources.config;
    const webSocketTimeout = webSocketHandlerTimeout(runtime.backendTimeoutMs);
    const make = (id: string, handler: HandlerName, description: string, memorySize: number, timeout: Duration) =>
      new HandlerFunction(this, id, { handler, description, resources, memorySize, timeout });

    this.wsConnect = make(
      'WsConnect',
      'ws-connect',
      'WebSocket $connect: asks the backend (OPEN) and stores the connection',
      stack.handlerMemoryMb,
      // A backend may defer its answer (an empty OPEN reply with Keep-Alive-Interval): the OPEN is asked again
      // after the interval, within API Gateway's whole 29 s.
      Duration.seconds(webSocketIntegrationLimitSeconds),
    );
    this.wsMessage = make(
      'WsMessage',
      'ws-message',
      'WebSocket $default: queues a frame on the ordered lane (or forwards it), and consumes that lane: TEXT to the backend, reply applied',
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
