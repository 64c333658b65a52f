import { SQSClient } from '@aws-sdk/client-sqs';
import { createFanoutQueues, type FanoutQueueOptions, type FanoutQueueUrls } from '#src/local/provision.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalAwsServices, type LocalAwsServices } from '#src/local/services.js';

/** Local AWS services, an SQS client on fauxqs and the four fan-out queues, for SQS integration tests. */
export interface LocalFanoutQueues {
  readonly services: LocalAwsServices;
  readonly sqs: SQSClient;
  readonly urls: FanoutQueueUrls;
  /** Destroys the client and stops the services. */
  stop(): Promise<void>;
}

/**
 * Starts dynalite and fauxqs and creates the fan-out queues (by default: 30 s visibility, 3 receives before the
 * dead-letter queue). Call in `beforeAll` and `stop()` in `afterAll`.
 */
export async function startLocalFanoutQueues(
  options: FanoutQueueOptions = { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 },
): Promise<LocalFanoutQueues> {
  const services = await startLocalAwsServices();
  const sqs = new SQSClient({ endpoint: services.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    const urls = await createFanoutQueues(sqs, options);
    return {
      services,
      sqs,
      urls,
      async stop() {
        sqs.destroy();
        await services.stop();
      },
    };
  } catch (e) {
    sqs.destroy();
    await services.stop();
    throw e;
  }
}
