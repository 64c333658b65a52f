// npm run redrive -- --dlq <url> --to <url> [--endpoint <sqs endpoint>] [--region <region>] [--rate <msgs/s>]
// Moves a dead-letter queue's messages back to their source queue (see src/ops/redrive.ts).
import { parseArgs } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import { redrive } from '#src/ops/redrive.js';
import { LOCAL_CREDENTIALS } from '#src/local/services.js';

const { values } = parseArgs({
  options: {
    dlq: { type: 'string' },
    to: { type: 'string' },
    endpoint: { type: 'string' },
    region: { type: 'string' },
    rate: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.dlq || !values.to) {
  console.log(`usage: npm run redrive -- --dlq <dead-letter queue URL> --to <source queue URL> [--rate <messages per second>]
  on AWS: the queue URLs are in the stack outputs (or \`aws sqs get-queue-url\`); credentials and region come from your AWS profile.
  local mode: add --endpoint <the SQS endpoint npm start printed>.`);
  process.exit(values.help ? 0 : 2);
}
const region = values.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
const sqs = new SQSClient({
  region,
  ...(values.endpoint ? { endpoint: values.endpoint, credentials: LOCAL_CREDENTIALS } : {}),
});
const rate = values.rate !== undefined ? Number(values.rate) : undefined;
if (rate !== undefined && !(Number.isInteger(rate) && rate >= 1 && rate <= 500)) {
  console.error('--rate must be an integer from 1 to 500');
  process.exit(2);
}
try {
  const result = await redrive({
    sqs,
    deadLetterQueueUrl: values.dlq,
    destinationQueueUrl: values.to,
    ...(rate !== undefined ? { maxPerSecond: rate } : {}),
    log: (line) => console.log(line),
  });
  console.log(JSON.stringify(result));
} catch (e) {
  console.error(`redrive failed: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  sqs.destroy();
}
