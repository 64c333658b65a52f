import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';

/** Credentials the local emulators accept (they check the signature's shape, not the secret). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

export interface LocalAwsServices {
  /** DynamoDB endpoint (dynalite), e.g. `http://127.0.0.1:41234`. */
  readonly dynamoEndpoint: string;
  /** SQS endpoint (fauxqs). Pass it to `SQSClient` as `endpoint` explicitly (see docs/local-services.md §2). */
  readonly sqsEndpoint: string;
  stop(): Promise<void>;
}

export interface LocalAwsServicesOptions {
  /** Directory for dynalite's data; in memory when absent. */
  readonly dataDir?: string;
  readonly host?: string;
}

/**
 * Starts dynalite and fauxqs in this process on loopback, on free ports. Both are real network services spoken
 * to with the real AWS SDK clients, so what passes locally exercises the code that runs on AWS.
 */
export async function startLocalAwsServices(options: LocalAwsServicesOptions = {}): Promise<LocalAwsServices> {
  const host = options.host ?? '127.0.0.1';
  const dynamo = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.dataDir ? { path: options.dataDir } : {}),
  });
  dynamo.listen(0, host);
  await once(dynamo, 'listening');
  const dynamoPort = (dynamo.address() as AddressInfo).port;
  // fauxqs's own `startFauxqs` listens on every interface (0.0.0.0) whatever `host` says: build its app and
  // listen on `host` ourselves, so the queues are not reachable from other machines.
  const sqsApp = buildApp({ logger: false, host });
  let sqsPort: number;
  try {
    const address = await sqsApp.listen({ port: 0, host });
    sqsPort = Number(new URL(address).port);
  } catch (e) {
    dynamo.close();
    throw e;
  }
  return {
    dynamoEndpoint: `http://${host}:${dynamoPort}`,
    sqsEndpoint: `http://${host}:${sqsPort}`,
    async stop() {
      await sqsApp.close();
      dynamo.closeAllConnections?.();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
}
