import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { MAX_QUEUE_DELAY_SECONDS } from '#src/domain/ports.js';
import type { MetricName } from '#src/domain/ports.js';
import type { FanoutQueues } from './fanout-queues.js';
import type { HandlerFunction } from './handler-function.js';
import { appMetric } from './observability.js';

export interface MonitoringProps {
  readonly queues: FanoutQueues;
  readonly worker: IFunction;
  /** The History table: its throttled writes stall channels (a channel job retries until its item is kept). */
  readonly historyTable: TableV2;
  readonly handlers: readonly HandlerFunction[];
  /** The WebSocket API id and stage, for API Gateway's own connection and message counts. */
  readonly webSocketApiId: string;
  readonly webSocketStageName: string;
  readonly alarmEmail: string | undefined;
  readonly queueAgeAlarmSeconds: number;
  readonly backendErrorRatePercent: number;
}

/** Below this many backend requests in a period, the error rate is noise and reads as 0. */
const backendErrorRateMinRequests = 10;

/**
 * Alarms (to one SNS topic, optionally mailed) and a dashboard. Alarms: either dead-letter queue holding a
 * message, either source queue's oldest message getting old, the worker failing whole invocations, the backend
 * error rate from the handlers' EMF metrics, and throttled writes to the History table.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { queues } = props;
    this.topic = new Topic(this, 'AlarmTopic', { displayName: 'GRIP channel server alarms', enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const alarm = (a: Alarm): Alarm => {
      a.addAlarmAction(new SnsAction(this.topic));
      a.addOkAction(new SnsAction(this.topic));
      this.alarms.push(a);
      return a;
    };

    // A delayed job may legitimately wait SQS's longest delay before it is even visible.
    const lanes: [string, Queue, Queue, number][] = [
      ['Ordered', queues.ordered, queues.orderedDeadLetter, props.queueAgeAlarmSeconds],
      ['Delayed', queues.delayed, queues.delayedDeadLetter, props.queueAgeAlarmSeconds + MAX_QUEUE_DELAY_SECONDS],
      ['ClientMessages', queues.clientMessages, queues.clientMessagesDeadLetter, props.queueAgeAlarmSeconds],
    ];
    for (const [name, source, deadLetter, maxAge] of lanes) {
      alarm(
        new Alarm(this, `${name}DeadLetterNotEmpty`, {
          alarmDescription: `The ${name.toLowerCase()} fan-out dead-letter queue holds messages: jobs or deliveries failed for good. Inspect them, fix the cause, then redrive (README.md, "Deploy to AWS").`,
          metric: deadLetter.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
          threshold: 0,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          // SQS stops reporting for idle queues; no data means nothing arrived.
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
      alarm(
        new Alarm(this, `${name}QueueOldestMessage`, {
          alarmDescription: `A ${name.toLowerCase()} fan-out job has waited over ${maxAge} s: the worker is stuck, throttled or failing.`,
          metric: source.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
          threshold: maxAge,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    alarm(
      new Alarm(this, 'WorkerErrors', {
        alarmDescription: 'The fan-out worker failed whole invocations (crash, timeout): their batches are redriven by SQS.',
        metric: props.worker.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );

    const backendRate = backendErrorRate(Duration.minutes(5));
    alarm(
      new Alarm(this, 'BackendErrorRate', {
        alarmDescription: `Over ${props.backendErrorRatePercent}% of requests to the backend (TARGET_URL) failed or timed out.`,
        metric: backendRate,
        threshold: props.backendErrorRatePercent,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );

    // On-demand tables throttle only past a partition's limits or a sudden multiple of the previous peak; a
    // throttled history write fails its channel job, which then waits for its retry (docs/aws-stack-facts.md).
    alarm(
      new Alarm(this, 'HistoryWriteThrottles', {
        alarmDescription: 'Writes to the History table were throttled: publishes to some channels are waiting for retries.',
        metric: new Metric({
          namespace: 'AWS/DynamoDB',
          metricName: 'WriteThrottleEvents',
          dimensionsMap: { TableName: props.historyTable.tableName },
          statistic: 'Sum',
          period: Duration.minutes(5),
        }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );

    this.allowAlarmsToPublish();

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    const minute = Duration.minutes(1);
    const graph = (title: string, left: IMetric[], right: IMetric[] = []) => new GraphWidget({ title, width: 8, left, right });
    const counts = (names: MetricName[]) => names.map((n) => appMetric(n, { label: n }));
    const percentiles = (name: 'BackendLatency' | 'PublishLatency' | 'ResumeLatency' | 'LaneLatency') =>
      ['p50', 'p90', 'p99'].map((p) => appMetric(name, { statistic: p, label: p }));
    const apiMetric = (metricName: 'ConnectCount' | 'MessageCount'): IMetric =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.webSocketApiId, Stage: props.webSocketStageName },
        statistic: 'Sum',
        period: minute,
        label: `API Gateway ${metricName}`,
      });
    const labelled = [
      [queues.ordered, 'ordered'],
      [queues.delayed, 'delayed'],
      [queues.orderedDeadLetter, 'ordered DLQ'],
      [queues.delayedDeadLetter, 'delayed DLQ'],
      [queues.clientMessages, 'client messages'],
      [queues.clientMessagesDeadLetter, 'client messages DLQ'],
    ] as const;
    const perFunction = (metric: (h: HandlerFunction) => IMetric) => props.handlers.map(metric);

    this.dashboard.addWidgets(
      new TextWidget({
        markdown: "## GRIP channel server\nConnections and messages (handlers' EMF metrics), fan-out deliveries, queues, backend.",
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }));
    this.dashboard.addWidgets(
      graph('Connections', counts(['ConnectionsOpened', 'ConnectionsRejected', 'ConnectionsClosed']), [apiMetric('ConnectCount')]),
      graph('Messages in / out', counts(['MessagesIn', 'MessagesOut', 'Published']), [apiMetric('MessageCount')]),
      graph(
        'Deliveries',
        counts(['Deliveries', 'DeliveriesGone', 'DeliveriesRetried', 'DeliveriesThrottled', 'DeliveriesDeadLettered', 'DeliveriesFailed']),
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Queue depth (visible)',
        labelled.map(([q, label]) => q.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label })),
      ),
      graph(
        'Age of oldest job (s)',
        labelled.slice(0, 2).map(([q, label]) => q.metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum', label })),
      ),
      graph('Fan-out jobs', counts(['JobsSplit', 'JobsContinued'])),
    );
    this.dashboard.addWidgets(
      graph('Backend latency (ms)', percentiles('BackendLatency'), percentiles('LaneLatency')),
      graph('Backend errors', counts(['BackendErrors']), [backendErrorRate(minute)]),
      graph('Publish latency (ms)', percentiles('PublishLatency')),
    );
    const historyThrottles = (['WriteThrottleEvents', 'ReadThrottleEvents'] as const).map(
      (metricName) =>
        new Metric({
          namespace: 'AWS/DynamoDB',
          metricName,
          dimensionsMap: { TableName: props.historyTable.tableName },
          statistic: 'Sum',
          period: minute,
          label: metricName,
        }),
    );
    this.dashboard.addWidgets(
      graph('History and resume', counts(['HistoryRecorded', 'ResumesReplayed', 'ItemsReplayed', 'ResumesFailed'])),
      graph('Time to caught up (ms)', percentiles('ResumeLatency')),
      graph('History table throttles', historyThrottles),
    );
    this.dashboard.addWidgets(
      graph(
        'Function errors',
        perFunction((h) => h.fn.metricErrors({ period: minute, label: h.node.id })),
      ),
      graph(
        'Function throttles',
        perFunction((h) => h.fn.metricThrottles({ period: minute, label: h.node.id })),
      ),
      graph(
        'Worker duration (ms)',
        ['p50', 'p99', 'Maximum'].map((s) => props.worker.metricDuration({ period: minute, statistic: s, label: s })),
      ),
    );
  }

  /**
   * The topic's policy. `enforceSSL` gives the topic a resource policy whose only statement denies requests
   * without TLS, and a topic policy replaces SNS's default one (which let the account, and so CloudWatch acting
   * for it, publish): without an Allow for CloudWatch every alarm action fails with "not authorized to perform:
   * SNS:Publish". This allows exactly this stack's alarms, from this account (docs/aws-stack-facts.md, "Alarm
   * notifications").
   */
  private allowAlarmsToPublish(): void {
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowThisStacksAlarmsToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          ArnEquals: { 'aws:SourceArn': this.alarms.map((a) => a.alarmArn) },
        },
      }),
    );
  }
}

/**
 * Percent of backend requests that failed. Every backend request is a connect attempt, a text frame or a close,
 * so the denominator is ConnectionsOpened + ConnectionsRejected + MessagesIn + ConnectionsClosed.
 */
function backendErrorRate(period: Duration): MathExpression {
  const m = (n: MetricName) => appMetric(n, { period });
  return new MathExpression({
    label: 'Backend error rate (%)',
    period,
    expression: `IF(requests >= ${backendErrorRateMinRequests}, 100 * FILL(errors, 0) / requests, 0)`,
    usingMetrics: {
      errors: m('BackendErrors'),
      requests: new MathExpression({
        expression: 'FILL(opened, 0) + FILL(rejected, 0) + FILL(messages, 0) + FILL(closed, 0)',
        usingMetrics: {
          opened: m('ConnectionsOpened'),
          rejected: m('ConnectionsRejected'),
          messages: m('MessagesIn'),
          closed: m('ConnectionsClosed'),
        },
        period,
      }),
    },
  });
}
