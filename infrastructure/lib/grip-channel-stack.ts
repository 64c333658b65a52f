import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ApiGatewayAccountLogging } from './api-gateway-logging.js';
import type { StackConfig } from './config.js';
import { ConnectionsTable, HistoryTable } from './connections-table.js';
import { ControlApi } from './control-api.js';
import { FanoutQueues } from './fanout-queues.js';
import { GripKey } from './grip-key.js';
import { Handlers, webSocketHandlerTimeout } from './handlers.js';
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
    const history = new HistoryTable(this, 'History');
    const gripKey = new GripKey(this, 'GripKey');
    const queues = new FanoutQueues(this, 'FanoutQueues', {
      workerTimeout: Duration.seconds(deploy.workerTimeoutSeconds),
      delayedBatchingWindow: Duration.seconds(deploy.workerBatchingWindowSeconds),
      maxReceiveCount: deploy.maxReceiveCount,
      laneConsumerTimeout: webSocketHandlerTimeout(config.runtime.backendTimeoutMs),
    });

    const accountLogging = stack.apiGatewayCloudWatchRole ? new ApiGatewayAccountLogging(this, 'ApiGatewayLogging') : undefined;
    const webSocket = new WebSocketApi(this, 'WebSocket', {
      throttle: { rateLimit: deploy.stageRateLimit, burstLimit: deploy.stageBurstLimit },
      logRetention: config.logRetention,
      accountLogging: accountLogging?.account,
    });

    const handlers = new Handlers(this, 'Handlers', { config, table, history, gripKey, queues, stage: webSocket.stage });
    webSocket.route({ connect: handlers.wsConnect.fn, message: handlers.wsMessage.fn, disconnect: handlers.wsDisconnect.fn });
    queues.feed(handlers.fanoutWorker.fn, {
      batchSize: deploy.workerBatchSize,
      maxConcurrency: deploy.workerMaxConcurrency,
    });
    queues.feedLane(handlers.wsMessage.fn, deploy.laneMaxConcurrency);
    const control = new ControlApi(this, 'Control', {
      handler: handlers.control.fn,
      throttle: { rateLimit: deploy.controlRateLimit, burstLimit: deploy.controlBurstLimit },
      logRetention: config.logRetention,
    });

    const monitoring = new Monitoring(this, 'Monitoring', {
      queues,
      worker: handlers.fanoutWorker.fn,
      historyTable: history.table,
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
    // `npm run redrive -- --dlq <…DeadLetterQueueUrl> --to <…QueueUrl>` takes these as they are.
    const queueUrls = [
      ['OrderedQueueUrl', queues.ordered, 'Ordered fan-out lane (FIFO): redrive target of OrderedDeadLetterQueueUrl'],
      ['OrderedDeadLetterQueueUrl', queues.orderedDeadLetter, 'Fan-out jobs SQS gave up on after maxReceiveCount receives'],
      ['DelayedQueueUrl', queues.delayed, 'Delayed fan-out lane (retries, keep-alives): redrive target of DelayedDeadLetterQueueUrl'],
      [
        'DelayedDeadLetterQueueUrl',
        queues.delayedDeadLetter,
        'Deliveries dead-lettered after fanoutMaxAttempts, and delayed jobs SQS gave up on',
      ],
    ] as const;
    for (const [id, queue, description] of queueUrls) new CfnOutput(this, id, { value: queue.queueUrl, description });
    new CfnOutput(this, 'AlarmTopicArn', { value: monitoring.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: monitoring.dashboard.dashboardName });
  }
}
