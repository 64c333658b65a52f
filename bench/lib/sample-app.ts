/**
 * Baseline (a): the fan-out of AWS's sample chat app, aws-samples/simple-websockets-chat-app `sendmessage/app.js`
 * (the SDK v3 version), reimplemented here with the same behaviour — it is the anti-pattern the worker replaces
 * (docs/aws-facts.md §5):
 *
 * - one `Scan` of the connections table (`ProjectionExpression: 'connectionId'`), no `LastEvaluatedKey` loop, so
 *   at most 1 MB of connections is ever read;
 * - a new `ApiGatewayManagementApiClient` per invocation with every default (50 sockets, 3 attempts);
 * - `Promise.all` over a `postToConnection` for every connection: unbounded concurrency;
 * - on an error it checks `e.statusCode === 410` (an SDK v2 field, always undefined in v3), so every error,
 *   a 410 included, is rethrown and fails the whole invocation (and the stale-connection delete would have
 *   deleted the sender's id, not the stale one).
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DeleteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#src/local/services.js';

export interface SampleAppEnv {
  readonly ddb: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** `https://{domainName}/{stage}` on AWS; the local Management API here. */
  readonly endpoint: string;
}

export interface SampleAppResult {
  readonly statusCode: number;
  /** Connections the one Scan page returned (the app never reads more). */
  readonly scanned: number;
}

const itemsSchema = z.array(z.object({ connectionId: z.string() }));

/** One `sendmessage` invocation: what the Lambda does for one incoming chat message. */
export async function sampleAppSendMessage(env: SampleAppEnv, senderConnectionId: string, postData: string): Promise<SampleAppResult> {
  let items: z.infer<typeof itemsSchema>;
  try {
    const out = await env.documents.send(new ScanCommand({ TableName: env.tableName, ProjectionExpression: 'connectionId' }));
    items = itemsSchema.parse(out.Items ?? []);
  } catch {
    return { statusCode: 500, scanned: 0 };
  }
  // The sample builds the client inside the handler; only the local credentials are added here.
  const apigwManagementApi = new ApiGatewayManagementApiClient({
    endpoint: env.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const postCalls = items.map(async ({ connectionId }) => {
      try {
        await apigwManagementApi.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: postData }));
      } catch (e) {
        if (hasStatusCode410(e)) {
          await env.ddb.send(new DeleteItemCommand({ TableName: env.tableName, Key: { connectionId: { S: senderConnectionId } } }));
        } else {
          throw e;
        }
      }
    });
    try {
      await Promise.all(postCalls);
    } catch {
      return { statusCode: 500, scanned: items.length };
    }
    return { statusCode: 200, scanned: items.length };
  } finally {
    apigwManagementApi.destroy();
  }
}

/** The sample's `e.statusCode === 410`: SDK v3 errors keep the status in `$metadata`, so this is never true. */
function hasStatusCode410(e: unknown): boolean {
  return typeof e === 'object' && e !== null && 'statusCode' in e && e.statusCode === 410;
}
