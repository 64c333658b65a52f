import { Stack, Validations } from 'aws-cdk-lib';
import { HttpApi, HttpStage, type ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { jsonAccessLog } from './api-gateway-logging.js';

export interface ControlApiProps {
  /** The control handler: it routes (`POST /publish/`, extensions) and authenticates by itself. */
  readonly handler: IFunction;
  readonly throttle: ThrottleSettings;
  readonly logRetention: RetentionDays;
}

/**
 * The GRIP control API: an HTTP API whose `$default` route sends every request to the control handler (payload
 * format 2.0), on a `$default` stage so the base URL is exactly what publishers put in `GRIP_URL` (js-grip adds
 * `/publish/`). Authentication is GRIP's `Authorization: Bearer <HS256 JWT | key>`, checked by the handler
 * against the key in Secrets Manager, not by an API Gateway authorizer.
 */
export class ControlApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;

  constructor(scope: Construct, id: string, props: ControlApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-control`,
      description: 'GRIP channel server: control API (publish, close) for backends and GRIP publishers',
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration('ControlIntegration', props.handler),
    });
    const accessLogSettings = jsonAccessLog(this, 'AccessLogs', props.logRetention, {
      requestId: '$context.requestId',
      requestTime: '$context.requestTime',
      sourceIp: '$context.identity.sourceIp',
      method: '$context.httpMethod',
      path: '$context.path',
      routeKey: '$context.routeKey',
      status: '$context.status',
      responseLength: '$context.responseLength',
      responseLatency: '$context.responseLatency',
      integrationStatus: '$context.integrationStatus',
      integrationError: '$context.integrationErrorMessage',
      error: '$context.error.message',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'GRIP publishers authenticate with "Authorization: Bearer <HS256 JWT | key>" (js-grip, pushpin-publish); the control ' +
        'handler verifies it against the GRIP key before doing anything, and rejects the request otherwise. ' +
        'An IAM or Cognito authorizer would break every existing GRIP client.',
    });
    this.stage = new HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings,
    });
  }

  /** The base URL for `GRIP_URL` (no trailing slash, no stage path). */
  get url(): string {
    return this.api.apiEndpoint;
  }
}
