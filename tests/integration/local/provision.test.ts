import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionsTable, historyTable } from '#src/config/resources.js';
import { createConnectionsTable, createFanoutQueues, createHistoryTable } from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';

describe('local provisioning from the shared definitions', () => {
  let services: LocalAwsServices;
  let ddb: DynamoDBClient;
  let sqs: SQSClient;
  beforeAll(async () => {
    services = await startLocalAwsServices();
    ddb = new DynamoDBClient({ endpoint: services.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    sqs = new SQSClient({ endpoint: services.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  });
  afterAll(async () => {
    ddb.destroy();
    sqs.destroy();
    await services.stop();
  });

  it('creates the table with the sparse bucketed channel index, twice without error', async () => {
    await createConnectionsTable(ddb);
    await createConnectionsTable(ddb);
    const table = (await ddb.send(new DescribeTableCommand({ TableName: connectionsTable.localName }))).Table;
    expect(table?.KeySchema).toEqual([
      { AttributeName: 'connectionId', KeyType: 'HASH' },
      { AttributeName: 'channel', KeyType: 'RANGE' },
    ]);
    const index = table?.GlobalSecondaryIndexes?.[0];
    expect(index?.IndexName).toBe('byChannel');
    expect(index?.KeySchema).toEqual([
      { AttributeName: 'subChannel', KeyType: 'HASH' },
      { AttributeName: 'subKey', KeyType: 'RANGE' },
    ]);
    expect(index?.Projection).toEqual({
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: ['expiresAt', 'connectedAt', 'filters', 'filterMeta', 'filterChannels', 'resume', 'liveAfter'],
    });
  });

  it('creates the History table with its local id index projecting the expiry, twice without error', async () => {
    await createHistoryTable(ddb);
    await createHistoryTable(ddb);
    const table = (await ddb.send(new DescribeTableCommand({ TableName: historyTable.localName }))).Table;
    expect(table?.KeySchema).toEqual([
      { AttributeName: 'channel', KeyType: 'HASH' },
      { AttributeName: 'seq', KeyType: 'RANGE' },
    ]);
    const index = table?.LocalSecondaryIndexes?.[0];
    expect(index?.IndexName).toBe('byId');
    expect(index?.KeySchema).toEqual([
      { AttributeName: 'channel', KeyType: 'HASH' },
      { AttributeName: 'itemId', KeyType: 'RANGE' },
    ]);
    expect(index?.Projection).toEqual({ ProjectionType: 'INCLUDE', NonKeyAttributes: ['retainUntil'] });
  });

  it('creates the FIFO and delayed queues with redrive to their dead-letter queues', async () => {
    const urls = await createFanoutQueues(sqs, { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: urls.orderedQueueUrl, AttributeNames: ['All'] }))).Attributes;
    expect(attrs?.FifoQueue).toBe('true');
    expect(attrs?.VisibilityTimeout).toBe('30');
    expect(JSON.parse(attrs?.RedrivePolicy ?? '{}')).toMatchObject({ maxReceiveCount: 3 });
    const dlq = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: urls.delayedDeadLetterQueueUrl, AttributeNames: ['All'] })))
      .Attributes;
    expect(Number(dlq?.MessageRetentionPeriod)).toBe(14 * 24 * 3600);
  });
});
