import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Agent, type AgentOptions } from 'node:http';
import { createConnection, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentity } from '@smithy/types';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';

/**
 * Credentials the local emulators accept (they check the signature's shape, not the secret): what reaches them
 * is decided by where they listen (`privateSockets`), not by a key.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

export interface LocalAwsServices {
  /**
   * DynamoDB endpoint (dynalite): `http://127.0.0.1:41234`, or `unix:/tmp/grip-local-…/dynamodb.sock` with
   * `privateSockets`. Build clients with {@link localClientConfig}, which understands both.
   */
  readonly dynamoEndpoint: string;
  /** SQS endpoint (fauxqs), in the same forms. Pass it to `SQSClient` explicitly (see docs/local-services.md §2). */
  readonly sqsEndpoint: string;
  stop(): Promise<void>;
}

export interface LocalAwsServicesOptions {
  /** Directory for dynalite's data; in memory when absent. */
  readonly dataDir?: string;
  readonly host?: string;
  /**
   * Listen on Unix sockets in a fresh directory only this OS user can enter (0700) instead of loopback TCP: other
   * users of the host cannot reach the table (stored handshakes) or the queues, whatever credentials they try.
   */
  readonly privateSockets?: boolean;
}

const UNIX = 'unix:';

/**
 * The SDK client settings for a local endpoint (TCP or `unix:` socket path): endpoint, region, credentials and a
 * keep-alive HTTP handler whose agent connects to the socket when there is one.
 *
 * @example
 * const dynamo = new DynamoDBClient(localClientConfig(services.dynamoEndpoint, { maxSockets: 256 }));
 */
export function localClientConfig(
  endpoint: string,
  options: { readonly maxSockets?: number; readonly credentials?: AwsCredentialIdentity } = {},
): { endpoint: string; region: string; credentials: AwsCredentialIdentity; requestHandler: NodeHttpHandler } {
  const agentOptions: AgentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 50 };
  const socketPath = endpoint.startsWith(UNIX) ? endpoint.slice(UNIX.length) : null;
  return {
    endpoint: socketPath === null ? endpoint : 'http://localhost',
    region: LOCAL_REGION,
    credentials: options.credentials ?? LOCAL_CREDENTIALS,
    requestHandler: new NodeHttpHandler({
      httpAgent: socketPath === null ? new Agent(agentOptions) : new UnixSocketAgent(socketPath, agentOptions),
      // Past maxSockets calls queue on purpose (the emulators run in this process or beside it); the SDK's warning
      // about that queue would only alarm the user.
      socketAcquisitionWarningTimeout: 60_000,
    }),
  };
}

/** An HTTP agent whose every connection goes to one Unix socket, whatever host the request names. */
class UnixSocketAgent extends Agent {
  constructor(
    private readonly socketPath: string,
    options: AgentOptions,
  ) {
    super(options);
  }

  override createConnection(): ReturnType<typeof createConnection> {
    return createConnection(this.socketPath);
  }
}

/**
 * Starts dynalite and fauxqs in this process on loopback, on free ports. Both are real network services spoken
 * to with the real AWS SDK clients, so what passes locally exercises the code that runs on AWS.
 */
/**
 * dynalite 4.0.0 ends its query and scan streams by calling `iterator.return()`, which abstract-level's
 * iterators do not have (they close with `close()`), so every Query and Scan left its iterator open, and each open
 * iterator pins a snapshot of the in-memory tree: under the soak the server grew ~2 MB/s (docs/local-services.md
 * §1). Giving the iterator classes dynalite's storage uses a `return` that closes them makes those streams close.
 */
function closeDynaliteIterators(): void {
  const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  for (const storage of ['memory-level', 'classic-level']) {
    let level: unknown;
    try {
      level = createRequire(fromDynalite.resolve(storage))('abstract-level');
    } catch {
      continue;
    }
    if (typeof level !== 'object' || level === null) continue;
    for (const name of ['AbstractIterator', 'AbstractKeyIterator', 'AbstractValueIterator']) {
      const iteratorClass: unknown = Reflect.get(level, name);
      const prototype: unknown = typeof iteratorClass === 'function' ? Reflect.get(iteratorClass, 'prototype') : undefined;
      if (typeof prototype !== 'object' || prototype === null || 'return' in prototype) continue;
      Reflect.set(prototype, 'return', async function (this: { close(): Promise<void> }) {
        await this.close();
        return { done: true, value: undefined };
      });
    }
  }
}

export async function startLocalAwsServices(options: LocalAwsServicesOptions = {}): Promise<LocalAwsServices> {
  const host = options.host ?? '127.0.0.1';
  closeDynaliteIterators();
  // mkdtemp creates the directory 0700: only this user can reach the sockets inside.
  const socketDir = options.privateSockets ? mkdtempSync(join(tmpdir(), 'grip-local-')) : null;
  const removeSocketDir = () => {
    if (socketDir) rmSync(socketDir, { recursive: true, force: true });
  };
  const dynamo = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.dataDir ? { path: options.dataDir } : {}),
  });
  let dynamoEndpoint: string;
  if (socketDir) {
    const path = join(socketDir, 'dynamodb.sock');
    dynamo.listen(path);
    dynamoEndpoint = `${UNIX}${path}`;
  } else {
    dynamo.listen(0, host);
  }
  await once(dynamo, 'listening');
  dynamoEndpoint ??= `http://${host}:${(dynamo.address() as AddressInfo).port}`;
  // fauxqs's own `startFauxqs` listens on every interface (0.0.0.0) whatever `host` says: build its app and
  // listen ourselves, on `host` or on the private socket, so the queues are not reachable from other machines.
  const sqsApp = buildApp({ logger: false, host: socketDir ? 'localhost' : host });
  let sqsEndpoint: string;
  try {
    if (socketDir) {
      const path = join(socketDir, 'sqs.sock');
      await sqsApp.listen({ path });
      sqsEndpoint = `${UNIX}${path}`;
    } else {
      const address = await sqsApp.listen({ port: 0, host });
      sqsEndpoint = `http://${host}:${new URL(address).port}`;
    }
  } catch (e) {
    dynamo.close();
    removeSocketDir();
    throw e;
  }
  return {
    dynamoEndpoint,
    sqsEndpoint,
    async stop() {
      await sqsApp.close();
      dynamo.closeAllConnections?.();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
      removeSocketDir();
    },
  };
}
