/** What every benchmark gets: the flags, a quiet log, and the shared service processes (started on first use). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createConnectionsTable, createHistoryTable } from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#src/local/services.js';
import { Host } from './host-client.js';
import type { IdFamily } from './ids.js';
import type { CountingLog } from './log.js';
import type { Endpoints } from './pipeline.js';
import { seedSubscribers } from './seed.js';

export interface Flags {
  /** Smaller sizes and fewer runs: a smoke run of the whole harness. */
  readonly quick: boolean;
  /** Measured runs per row (medians are over these). */
  readonly runs: number;
  readonly pushpin: boolean;
  /** How long the soak runs, s. */
  readonly soakSeconds: number;
}

export interface Services {
  /** The Management API and its counting sink (`mgmt.*`, `sink.*`; `cpu` is the API server's CPU). */
  readonly host: Host;
  /** dynalite and fauxqs. */
  readonly awsHost: Host;
  readonly endpoints: Endpoints;
  readonly ddb: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  /** Seeds `family` into `channel` once per bench run; later calls with the same channel are no-ops. */
  seed(channel: string, family: IdFamily): Promise<{ seconds: number }>;
}

export interface BenchContext {
  readonly flags: Flags;
  readonly log: CountingLog;
  services(): Promise<Services>;
  stop(): Promise<void>;
}

export function createContext(flags: Flags, log: CountingLog): BenchContext {
  let services: Promise<Services> | null = null;
  const start = async (): Promise<Services> => {
    const awsHost = Host.start();
    const host = Host.start();
    const [aws, api] = await Promise.all([awsHost.call('services.start', null), host.call('mgmt.start', { tuning: { latencyMs: 0 } })]);
    const endpoints = { ...aws, ...api };
    const ddb = new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const documents = DynamoDBDocumentClient.from(ddb);
    await createConnectionsTable(ddb);
    await createHistoryTable(ddb);
    const seeded = new Map<string, number>();
    return {
      host,
      awsHost,
      endpoints,
      ddb,
      documents,
      async seed(channel, family) {
        const known = seeded.get(channel);
        if (known !== undefined) {
          if (known !== family.count) throw new Error(`channel ${channel} was seeded with ${known} subscribers, not ${family.count}`);
          return { seconds: 0 };
        }
        const t0 = Date.now();
        await seedSubscribers(documents, channel, family);
        seeded.set(channel, family.count);
        return { seconds: (Date.now() - t0) / 1000 };
      },
    };
  };
  return {
    flags,
    log,
    services() {
      services ??= start();
      return services;
    },
    async stop() {
      if (!services) return;
      const s = await services;
      s.ddb.destroy();
      await s.host.stop();
      await s.awsHost.stop();
      services = null;
    },
  };
}
