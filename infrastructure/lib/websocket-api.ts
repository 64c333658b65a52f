import { Stack, Validations } from 'aws-cdk-lib';
import { WebSocketApi as WebSocketApiL2, WebSocketStage, type ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct, type IDependable } from 'constructs';
import { jsonAccessLog } from './api-gateway-logging.js';

export interface WebSocketApiProps {
  /** Steady-state requests per second and burst, for every route of the stage. */
  readonly throttle: ThrottleSettings;
  readonly logRetention: RetentionDays;
  /** The account's API Gateway logging role, when this stack creates it: the stage must wait for it. */
  readonly accountLogging?: IDependable | undefined;
}

export interface WebSocketHandlers {
  readonly connect: IFunction;
  readonly message: IFunction;
  readonly disconnect: IFunction;
}

/** The stage name in the client URL (`wss://…/live`) and in the Management API endpoint. */
const webSocketStageName = 'live';

/**
 * The client-facing WebSocket API: one stage with throttling and JSON access logs (connection id, route, status,
 * errors). Routes are added with `route()` once the handlers exist, because the handlers need the stage's
 * callback URL first. Only `$connect`, `$disconnect` and `$default` exist: like Pushpin, every frame goes to the
 * backend, whatever its content. No route returns the Lambda result to the client; replies travel through the
 * Management API.
 */
export class WebSocketApi extends Construct {
  readonly api: WebSocketApiL2;
  readonly stage: WebSocketStage;

  constructor(scope: Construct, id: string, props: WebSocketApiProps) {
    super(scope, id);
    this.api = new WebSocketApiL2(this, 'Api', {
      // The console and CLI list APIs by name; the stack's name tells staging from production.
      apiName: `${Stack.of(this).stackName}-websocket`,
      description: 'GRIP channel server: client WebSocket connections, proxied to the backend as WebSocket-over-HTTP',
    });
    const accessLogSettings = jsonAccessLog(this, 'AccessLogs', props.logRetention, {
      requestId: '$context.requestId',
      extendedRequestId: '$context.extendedRequestId',
      requestTime: '$context.requestTime',
      connectionId: '$context.connectionId',
      eventType: '$context.eventType',
      routeKey: '$context.routeKey',
      status: '$context.status',
      integrationStatus: '$context.integration.status',
      integrationLatency: '$context.integration.latency',
      integrationError: '$context.integration.error',
      error: '$context.error.message',
      errorType: '$context.error.responseType',
      sourceIp: '$context.identity.sourceIp',
    });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: webSocketStageName,
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings,
    });
    if (props.accountLogging) this.stage.node.addDependency(props.accountLogging);
  }

  /** Wires the three routes to their handlers (integration ids must not be `Default`: it collides with the route). */
  route(handlers: WebSocketHandlers): void {
    this.api.addRoute('$connect', { integration: new WebSocketLambdaIntegration('ConnectIntegration', handlers.connect) });
    this.api.addRoute('$disconnect', {
      integration: new WebSocketLambdaIntegration('DisconnectIntegration', handlers.disconnect),
    });
    this.api.addRoute('$default', { integration: new WebSocketLambdaIntegration('MessageIntegration', handlers.message) });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Pushpin semantics: the backend authorizes each connection itself, from the OPEN request (handshake headers, ' +
        'query, cookies) that ws-connect forwards signed with Grip-Sig; a non-accepting reply rejects the upgrade. ' +
        '$disconnect and $default only exist for connections $connect accepted.',
    });
  }
}
