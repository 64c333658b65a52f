/**
 * The Lambda functions as they deploy: each entry bundled by esbuild with the stack's options (`lambdaBuildOptions`:
 * ESM, node22, the AWS SDK bundled, the `require` banner), imported like the Lambda runtime imports it (top-level await at
 * cold start, configuration from environment variables, the GRIP key from Secrets Manager), and invoked with
 * API Gateway/SQS events. AWS is stood in for by dynalite, fauxqs, the local Management API and a minimal
 * Secrets Manager endpoint, reached through the SDK's standard `AWS_ENDPOINT_URL_*` variables.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaBuildOptions, lambdaEntries } from '#infrastructure/lib/handler-function.js';
import { WebSocketReply, readWebSocketRequest, verifyGripSig } from '#src/client/index.js';
import { createNodeHandler } from '#src/client/node.js';
import { connectionsTable, historyTable } from '#src/config/resources.js';
import { loadRuntimeSettings, runtimeSettingsToEnv } from '#src/config/settings.js';
import type { SendOutcome } from '#src/domain/ports.js';
import type {
  ControlHandler,
  HttpApiEvent,
  SqsEvent,
  ApiGatewayWebSocketEvent,
  WebSocketRouteHandlers,
  WorkerHandler,
} from '#src/handlers/aws-events.js';
import type { LocalConnections } from '#src/local/connections.js';
import { startManagementApi, type ManagementApi } from '#src/local/management-api.js';
import {
  createClientMessageQueue,
  createConnectionsTable,
  createFanoutQueues,
  createHistoryTable,
  type FanoutQueueUrls,
} from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';
import { sqsRecord, webSocketRequestContext } from '#test-helpers/lambda-events.js';

const KEY = 'bundle-test-key-0123456789';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:grip-key';
const entries = lambdaEntries;
const outdir = join(process.cwd(), '.lambda-bundles');

/** Connections the Management API posts to: a recording sink, since the subject here is the worker bundle. */
class RecordingConnections implements LocalConnections {
  readonly posts: { id: string; data: string }[] = [];
  readonly known = new Set<string>();
  get count() {
    return this.known.size;
  }
  post(id: string, data: string | Uint8Array): SendOutcome {
    if (!this.known.has(id)) return { kind: 'gone' };
    this.posts.push({ id, data: typeof data === 'string' ? data : new TextDecoder().decode(data) });
    return { kind: 'ok' };
  }
  close(): SendOutcome {
    return { kind: 'ok' };
  }
  info() {
    return null;
  }
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

describe('Lambda bundles boot from their environment and handle real events', () => {
  let services: LocalAwsServices;
  let queues: FanoutQueueUrls;
  let laneUrl: string;
  let managementApi: ManagementApi;
  let secrets: Server;
  let backend: Server;
  let dynamo: DynamoDBClient;
  let sqs: SQSClient;
  const connections = new RecordingConnections();
  const backendSaw: { events: string[]; signed: boolean[] } = { events: [], signed: [] };
  const saved = { ...process.env };
  const modules: Record<string, { handler: unknown }> = {};

  beforeAll(async () => {
    services = await startLocalAwsServices();
    dynamo = new DynamoDBClient({ endpoint: services.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    sqs = new SQSClient({ endpoint: services.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    await createConnectionsTable(dynamo);
    await createHistoryTable(dynamo);
    queues = await createFanoutQueues(sqs, { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
    laneUrl = await createClientMessageQueue(sqs, { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
    managementApi = await startManagementApi({ connections, credentials: LOCAL_CREDENTIALS, stage: 'live' });

    // Secrets Manager speaks JSON 1.1; GetSecretValue is all the functions call.
    secrets = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const ok = req.headers['x-amz-target'] === 'secretsmanager.GetSecretValue' && JSON.parse(body).SecretId === SECRET_ARN;
        res.writeHead(ok ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify(
            ok
              ? { ARN: SECRET_ARN, Name: 'grip-key', SecretString: KEY }
              : { __type: 'ResourceNotFoundException', message: 'no such secret' },
          ),
        );
      });
    });
    const secretsUrl = await listen(secrets);

    backend = createServer(
      createNodeHandler(async (request) => {
        backendSaw.signed.push((await verifyGripSig(request, { key: KEY })).signed);
        const read = await readWebSocketRequest(request);
        if (!read.ok) return new Response('bad', { status: 400 });
        backendSaw.events.push(...read.value.events.map((e) => e.type));
        const reply = new WebSocketReply();
        if (read.value.isOpening) reply.accept().subscribe('news').setMeta('user', 'ada');
        else for (const e of read.value.events) if (e.type === 'TEXT') reply.send(`echo:${e.text}`);
        return reply.toResponse();
      }),
    );
    const targetUrl = await listen(backend);

    // Quiet, as a passing test run should be: errors only, and no EMF lines on stdout.
    const settings = loadRuntimeSettings({ LOG_LEVEL: 'ERROR' });
    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: services.dynamoEndpoint,
      AWS_ENDPOINT_URL_SQS: services.sqsEndpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsUrl,
      TABLE_NAME: connectionsTable.localName,
      HISTORY_TABLE_NAME: historyTable.localName,
      ORDERED_QUEUE_URL: queues.orderedQueueUrl,
      DELAYED_QUEUE_URL: queues.delayedQueueUrl,
      DELAYED_DLQ_URL: queues.delayedDeadLetterQueueUrl,
      CLIENT_MESSAGES_QUEUE_URL: laneUrl,
      MANAGEMENT_API_ENDPOINT: managementApi.endpoint,
      GRIP_KEY_SECRET_ARN: SECRET_ARN,
      GRIP_ISS: 'bundle-test',
      TARGET_URL: targetUrl,
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_METRICS_NAMESPACE: 'GripChannelServer',
      POWERTOOLS_SERVICE_NAME: 'grip-channel-server',
      ...runtimeSettingsToEnv(settings),
    });

    mkdirSync(outdir, { recursive: true });
    await build(lambdaBuildOptions(outdir));
    for (const e of entries) modules[e] = (await import(pathToFileURL(join(outdir, `${e}.mjs`)).href)) as { handler: unknown };
  }, 120_000);

  afterAll(async () => {
    process.env = saved;
    dynamo?.destroy();
    sqs?.destroy();
    await managementApi?.stop();
    secrets?.close();
    backend?.closeAllConnections();
    backend?.close();
    await services?.stop();
  });

  const wsEvent = (
    routeKey: string,
    eventType: ApiGatewayWebSocketEvent['requestContext']['eventType'],
    connectionId: string,
    extra: Partial<ApiGatewayWebSocketEvent> = {},
  ): ApiGatewayWebSocketEvent => ({
    requestContext: webSocketRequestContext(eventType, connectionId, {
      routeKey,
      domainName: 'abc.execute-api.us-east-1.amazonaws.com',
      stage: 'live',
      requestTimeEpoch: Date.now(),
      connectedAt: Date.now(),
    }),
    isBase64Encoded: false,
    ...extra,
  });

  it('ws-connect, ws-message and ws-disconnect drive the backend and the table', async () => {
    const id = 'Bundle1Conn0000=';
    const connect = (modules['ws-connect']?.handler ?? null) as WebSocketRouteHandlers['connect'];
    const result = await connect(
      wsEvent('$connect', 'CONNECT', id, {
        headers: { Host: 'abc', 'Sec-WebSocket-Key': 'k' },
        multiValueHeaders: { Host: ['abc'], 'Sec-WebSocket-Key': ['k'] },
        queryStringParameters: { room: 'a' },
        multiValueQueryStringParameters: { room: ['a'] },
      }),
    );
    expect(result.statusCode).toBe(200);
    const items = await dynamo.send(
      new QueryCommand({
        TableName: connectionsTable.localName,
        KeyConditionExpression: 'connectionId = :c',
        ExpressionAttributeValues: { ':c': { S: id } },
      }),
    );
    expect(items.Items?.map((i) => i['channel']?.S).sort()).toEqual(['$connection', 'news']);

    connections.known.add(id);
    // $default queues the frame on the ordered lane; the same function, invoked by the lane's event source,
    // forwards it to the backend and posts the reply.
    const message = modules['ws-message']?.handler as (event: unknown) => Promise<unknown>;
    expect(await message(wsEvent('$default', 'MESSAGE', id, { body: 'hi' }))).toEqual({ statusCode: 200 });
    expect(connections.posts).not.toContainEqual({ id, data: 'echo:hi' });
    const queued = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: laneUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }),
    );
    const laneEvent: SqsEvent = {
      Records: (queued.Messages ?? []).map((m) =>
        sqsRecord(
          m.MessageId ?? '',
          m.Body ?? '',
          { MessageGroupId: m.Attributes?.MessageGroupId },
          'arn:aws:sqs:us-east-1:000000000000:client-messages.fifo',
        ),
      ),
    };
    expect(laneEvent.Records).toHaveLength(1);
    expect(await message(laneEvent)).toEqual({ batchItemFailures: [] });
    expect(connections.posts).toContainEqual({ id, data: 'echo:hi' });

    const disconnect = modules['ws-disconnect']?.handler as WebSocketRouteHandlers['disconnect'];
    await disconnect(
      wsEvent('$disconnect', 'DISCONNECT', id, {
        requestContext: { ...wsEvent('$disconnect', 'DISCONNECT', id).requestContext, disconnectStatusCode: 1000, disconnectReason: 'bye' },
      }),
    );
    const after = await dynamo.send(
      new QueryCommand({
        TableName: connectionsTable.localName,
        KeyConditionExpression: 'connectionId = :c',
        ExpressionAttributeValues: { ':c': { S: id } },
      }),
    );
    expect(after.Items ?? []).toEqual([]);
    expect(backendSaw.events).toEqual(['OPEN', 'TEXT', 'CLOSE']);
    expect(backendSaw.signed.every(Boolean)).toBe(true);
  });

  it('control queues a publish and fanout-worker delivers it through the Management API', async () => {
    const id = 'Bundle2Conn0000=';
    connections.known.add(id);
    const connect = modules['ws-connect']?.handler as WebSocketRouteHandlers['connect'];
    expect((await connect(wsEvent('$connect', 'CONNECT', id, { headers: { Host: 'abc' } }))).statusCode).toBe(200);

    const control = modules['control']?.handler as ControlHandler;
    const body = JSON.stringify({ items: [{ channel: 'news', formats: { 'ws-message': { content: 'extra!' } } }] });
    const event: HttpApiEvent = {
      version: '2.0',
      routeKey: '$default',
      rawPath: '/publish/',
      rawQueryString: '',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body,
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/publish/' }, requestId: 'x', timeEpoch: Date.now() },
    };
    const answer = await control(event);
    expect(answer).toMatchObject({ statusCode: 200 });
    expect(answer.body).toContain('Published');
    expect((await control({ ...event, headers: { authorization: 'Bearer wrong-key-123' } })).statusCode).toBe(401);

    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues.orderedQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const sqsEvent: SqsEvent = {
      Records: (received.Messages ?? []).map((m) =>
        sqsRecord(
          m.MessageId ?? '',
          m.Body ?? '',
          { MessageGroupId: m.Attributes?.MessageGroupId, ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1' },
          'arn:aws:sqs:us-east-1:000000000000:fanout.fifo',
        ),
      ),
    };
    expect(sqsEvent.Records.length).toBeGreaterThan(0);
    const worker = modules['fanout-worker']?.handler as WorkerHandler;
    const response = await worker(sqsEvent, { getRemainingTimeInMillis: () => 60_000 });
    expect(response.batchItemFailures).toEqual([]);
    expect(connections.posts).toContainEqual({ id, data: 'extra!' });
  });
});
