import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { clientMessageQueues, connectionsTable, fanoutQueues, historyTable } from '../config/resources.js';

/**
 * Creates the `Connections` table with its sparse bucketed channel index, from the same definition the CDK
 * stack uses. Idempotent: an existing table is left as it is. (dynalite has no TTL: local mode sweeps.)
 */
export async function createConnectionsTable(ddb: DynamoDBClient, tableName: string = connectionsTable.localName): Promise<void> {
  const t = connectionsTable;
  await createTable(ddb, {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: t.partitionKey, AttributeType: 'S' },
      { AttributeName: t.sortKey, AttributeType: 'S' },
      { AttributeName: t.channelIndex.partitionKey, AttributeType: 'S' },
      { AttributeName: t.channelIndex.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: t.partitionKey, KeyType: 'HASH' },
      { AttributeName: t.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: t.channelIndex.name,
        KeySchema: [
          { AttributeName: t.channelIndex.partitionKey, KeyType: 'HASH' },
          { AttributeName: t.channelIndex.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...t.channelIndex.nonKeyAttributes] },
      },
    ],
  });
}

/** Creates the `History` table with its local id index, from the definition the CDK stack uses. Idempotent. */
export async function createHistoryTable(ddb: DynamoDBClient, tableName: string = historyTable.localName): Promise<void> {
  const h = historyTable;
  await createTable(ddb, {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: h.partitionKey, AttributeType: 'S' },
      { AttributeName: h.sortKey, AttributeType: 'S' },
      { AttributeName: h.idIndex.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: h.partitionKey, KeyType: 'HASH' },
      { AttributeName: h.sortKey, KeyType: 'RANGE' },
    ],
    LocalSecondaryIndexes: [
      {
        IndexName: h.idIndex.name,
        KeySchema: [
          { AttributeName: h.partitionKey, KeyType: 'HASH' },
          { AttributeName: h.idIndex.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...h.idIndex.nonKeyAttributes] },
      },
    ],
  });
}

async function createTable(ddb: DynamoDBClient, input: CreateTableCommandInput & { TableName: string }): Promise<void> {
  try {
    await ddb.send(new CreateTableCommand(input));
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
  }
  for (let i = 0; i < 100; i++) {
    const d = await ddb.send(new DescribeTableCommand({ TableName: input.TableName }));
    if (d.Table?.TableStatus === 'ACTIVE') return;
    await sleep(20);
  }
  throw new Error(`table ${input.TableName} did not become ACTIVE`);
}

export interface FanoutQueueUrls {
  readonly orderedQueueUrl: string;
  readonly orderedDeadLetterQueueUrl: string;
  readonly delayedQueueUrl: string;
  readonly delayedDeadLetterQueueUrl: string;
}

export interface FanoutQueueOptions {
  /** Seconds a received message stays invisible (on AWS: 6 × the worker timeout). */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before SQS moves a message to its dead-letter queue. */
  readonly maxReceiveCount: number;
  /** Prefix for queue names, so several local stacks can share one fauxqs. */
  readonly namePrefix?: string;
}

/**
 * Creates the four fan-out queues (ordered FIFO + its DLQ, delayed standard + its DLQ) with the redrive and
 * retention settings from `config/resources.ts`. Idempotent for identical attributes.
 */
export async function createFanoutQueues(sqs: SQSClient, options: FanoutQueueOptions): Promise<FanoutQueueUrls> {
  const q = fanoutQueues;
  const prefix = options.namePrefix ?? '';
  const day = 24 * 60 * 60;
  const create = async (name: string, fifo: boolean, attributes: Record<string, string>): Promise<string> => {
    const out = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${prefix}${name}`,
        Attributes: { ...(fifo ? { FifoQueue: 'true' } : {}), ...attributes },
      }),
    );
    if (!out.QueueUrl) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
    return out.QueueUrl;
  };
  const arnOf = async (url: string): Promise<string> => {
    const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
    const arn = out.Attributes?.QueueArn;
    if (!arn) throw new Error(`queue ${url} has no QueueArn`);
    return arn;
  };
  const dlqAttributes = { MessageRetentionPeriod: String(q.deadLetterRetentionDays * day) };
  const orderedDeadLetterQueueUrl = await create(q.orderedDeadLetter.localName, true, dlqAttributes);
  const delayedDeadLetterQueueUrl = await create(q.delayedDeadLetter.localName, false, dlqAttributes);
  const sourceAttributes = (dlqArn: string) => ({
    MessageRetentionPeriod: String(q.retentionDays * day),
    VisibilityTimeout: String(options.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount }),
  });
  const orderedQueueUrl = await create(q.ordered.localName, true, sourceAttributes(await arnOf(orderedDeadLetterQueueUrl)));
  const delayedQueueUrl = await create(q.delayed.localName, false, sourceAttributes(await arnOf(delayedDeadLetterQueueUrl)));
  return { orderedQueueUrl, orderedDeadLetterQueueUrl, delayedQueueUrl, delayedDeadLetterQueueUrl };
}

/**
 * Creates the ordered lane of client messages and its dead-letter queue (both FIFO), from `config/resources.ts`.
 * Idempotent for identical attributes. Returns the lane's URL.
 */
export async function createClientMessageQueue(sqs: SQSClient, options: FanoutQueueOptions): Promise<string> {
  const q = clientMessageQueues;
  const prefix = options.namePrefix ?? '';
  const day = 24 * 60 * 60;
  const deadLetter = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${prefix}${q.deadLetter.localName}`,
      Attributes: { FifoQueue: 'true', MessageRetentionPeriod: String(fanoutQueues.deadLetterRetentionDays * day) },
    }),
  );
  if (!deadLetter.QueueUrl) throw new Error(`CreateQueue ${q.deadLetter.localName} returned no QueueUrl`);
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deadLetter.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes
    ?.QueueArn;
  if (!arn) throw new Error(`queue ${deadLetter.QueueUrl} has no QueueArn`);
  const lane = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${prefix}${q.lane.localName}`,
      Attributes: {
        FifoQueue: 'true',
        MessageRetentionPeriod: String(fanoutQueues.retentionDays * day),
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: options.maxReceiveCount }),
      },
    }),
  );
  if (!lane.QueueUrl) throw new Error(`CreateQueue ${q.lane.localName} returned no QueueUrl`);
  return lane.QueueUrl;
}
