import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ApiGatewayAccountLogging } from './api-gateway-logging.js';
import type { StackConfig } from './config.js';
import { ConnectionsTable } from './connections-table.js';
import { ControlApi } from './control-api.js';
import { FanoutQueues } from './fanout-queues.js';
import { GripKey } from './grip-key.js';
import { Handlers } from './handlers.js';
import { Monitoring } from './monitoring.js';
import { WebSocketApi } from './websocket-api.js';

export interface GripChannelStackProps extends StackProps {
  /** Validated configuration (`readStackConfig`). */
  readonly config: StackConfig;
}

/**
 * The GRIP channel server on AWS: clients connect to the WebSocket API, three handlers proxy their events to the
 * backend, the control API queues publishes, and the fan-out worker delivers them.
 */
export class GripChannelStack extends Stack {
  constructor(scope: Construct, id: string, props: GripChannelStackProps) {
    super(scope, id, props);
    const { config } = props;
    const { deploy, stack } = config;

    const table = new ConnectionsTable(this, 'Connections');
    const gripKey = new GripKey(this, 'GripKey');
    const queues = new FanoutQueues(this, 'FanoutQueues', {
      workerTimeout: Duration.seconds(deploy.workerTimeoutSeconds),
      maxReceiveCount: deploy.maxReceiveCount,
    });

    const accountLogging = stack.apiGatewayCloudWatchRole ? new ApiGatewayAccountLogging(this, 'ApiGatewayLogging') : undefined;
    const webSocket = new WebSocketApi(this, 'WebSocket', {
      throttle: { rateLimit: deploy.stageRateLimit, burstLimit: deploy.stageBurstLimit },
      logRetention: config.logRetention,
      accountLogging: accountLogging?.account,
    });

    const handlers = new Handlers(this, 'Handlers', { config, table, gripKey, queues, stage: webSocket.stage });
    webSocket.route({ connect: handlers.wsConnect.fn, message: handlers.wsMessage.fn, disconnect: handlers.wsDisconnect.fn });
    queues.feed(handlers.fanoutWorker.fn, {
      batchSize: deploy.workerBatchSize,
      maxBatchingWindow: Duration.seconds(deploy.workerBatchingWindowSeconds),
      maxConcurrency: deploy.workerMaxConcurrency,
    });
    const control = new ControlApi(this, 'Control', {
      handler: handlers.control.fn,
      throttle: { rateLimit: deploy.controlRateLimit, burstLimit: deploy.controlBurstLimit },
      logRetention: config.logRetention,
    });

    const monitoring = new Monitoring(this, 'Monitoring', {
      queues,
      worker: handlers.fanoutWorker.fn,
      handlers: handlers.all,
      webSocketApiId: webSocket.api.apiId,
      webSocketStageName: webSocket.stage.stageName,
      alarmEmail: stack.alarmEmail,
      queueAgeAlarmSeconds: stack.queueAgeAlarmSeconds,
      backendErrorRatePercent: stack.backendErrorRatePercent,
    });

    new CfnOutput(this, 'WebSocketUrl', { value: webSocket.stage.url, description: 'Clients connect here (wss://)' });
    new CfnOutput(this, 'ControlApiUrl', {
      value: control.url,
      description: 'GRIP control endpoint: GRIP_URL=<this>?key=<GRIP key> (publishers POST <this>/publish/)',
    });
    new CfnOutput(this, 'GripKeySecretArn', {
      value: gripKey.secret.secretArn,
      description: 'The GRIP key (read it with aws secretsmanager get-secret-value --secret-id <this>)',
    });
    new CfnOutput(this, 'OrderedDeadLetterQueueName', { value: queues.orderedDeadLetter.queueName });
    new CfnOutput(this, 'DelayedDeadLetterQueueName', { value: queues.delayedDeadLetter.queueName });
    new CfnOutput(this, 'AlarmTopicArn', { value: monitoring.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: monitoring.dashboard.dashboardName });
  }
}
