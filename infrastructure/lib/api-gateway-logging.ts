import { ArnFormat, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { LogGroupLogDestination, type IAccessLogSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * API Gateway's account-wide (per Region) CloudWatch Logs role. WebSocket stages refuse access logging without
 * it ("CloudWatch Logs role ARN must be set in account settings to enable logging"); HTTP APIs do not need it.
 *
 * The role is RETAINed on `cdk destroy`: the account setting keeps pointing at it, and other APIs in the account
 * may log through it. Its policy is limited to log groups of this account and Region instead of AWS's managed
 * policy (which allows `*`).
 */
export class ApiGatewayAccountLogging extends Construct {
  readonly account: CfnAccount;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = Stack.of(this);
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      description: 'API Gateway (account setting): writes execution and access logs of this account and Region',
      inlinePolicies: {
        logs: new PolicyDocument({
          statements: [
            new PolicyStatement({
              actions: [
                'logs:CreateLogGroup',
                'logs:CreateLogStream',
                'logs:DescribeLogGroups',
                'logs:DescribeLogStreams',
                'logs:PutLogEvents',
                'logs:GetLogEvents',
                'logs:FilterLogEvents',
              ],
              resources: [
                stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
              ],
            }),
          ],
        }),
      },
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*]',
      reason:
        'API Gateway uses this one account-level role for the execution and access logs of every API in the Region, in log ' +
        'groups it names itself; it is limited to this account and Region (AWS\'s managed policy for it allows "*").',
    });
    this.account = new CfnAccount(this, 'Account', { cloudWatchRoleArn: role.roleArn });
  }
}

/** An access log group with the stack's retention, and the stage settings that write JSON lines into it. */
export function jsonAccessLog(scope: Construct, id: string, retention: RetentionDays, fields: Record<string, string>): IAccessLogSettings {
  const logGroup = new LogGroup(scope, id, { retention, removalPolicy: RemovalPolicy.DESTROY });
  return { destination: new LogGroupLogDestination(logGroup), format: AccessLogFormat.custom(JSON.stringify(fields)) };
}
