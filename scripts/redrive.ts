// npm run redrive -- --dlq <url> --to <url> [--endpoint <sqs endpoint>] [--region <region>] [--rate <msgs/s>]
// npm run redrive -- --local   (both dead-letter queues of the running npm start)
// Moves a dead-letter queue's messages back to their source queue (see src/ops/redrive.ts).
import { parseArgs } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import { redrive } from '#src/ops/redrive.js';
import { localClientConfig } from '#src/local/services.js';
import { localStatePath, readLocalState } from '#src/local/state-file.js';

const { values } = parseArgs({
  options: {
    dlq: { type: 'string' },
    to: { type: 'string' },
    endpoint: { type: 'string' },
    region: { type: 'string' },
    rate: { type: 'string' },
    local: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
const moves: { dlq: string; to: string }[] = [];
let endpoint = values.endpoint;
if (values.local) {
  const state = readLocalState(localStatePath());
  if (!state.ok) {
    console.error(`redrive --local: ${state.error}`);
    process.exit(1);
  }
  endpoint = state.value.sqsEndpoint;
  const q = state.value.queues;
  moves.push({ dlq: q.orderedDeadLetterQueueUrl, to: q.orderedQueueUrl }, { dlq: q.delayedDeadLetterQueueUrl, to: q.delayedQueueUrl });
} else if (values.dlq && values.to) {
  moves.push({ dlq: values.dlq, to: values.to });
}
if (values.help || moves.length === 0) {
  console.log(`usage: npm run redrive -- --dlq <dead-letter queue URL> --to <source queue URL> [--rate <messages per second>]
  on AWS: the queue URLs are in the stack outputs (or \`aws sqs get-queue-url\`); credentials and region come from your AWS profile.
  local mode: npm run redrive -- --local (finds the running npm start's queues).`);
  process.exit(values.help ? 0 : 2);
}
const region = values.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
const sqs = new SQSClient(endpoint ? localClientConfig(endpoint) : { region });
const rate = values.rate !== undefined ? Number(values.rate) : undefined;
if (rate !== undefined && !(Number.isInteger(rate) && rate >= 1 && rate <= 500)) {
  console.error('--rate must be an integer from 1 to 500');
  process.exit(2);
}
try {
  for (const move of moves) {
    const result = await redrive({
      sqs,
      deadLetterQueueUrl: move.dlq,
      destinationQueueUrl: move.to,
      ...(rate !== undefined ? { maxPerSecond: rate } : {}),
      log: (line) => console.log(line),
    });
    console.log(JSON.stringify({ from: move.dlq, ...result }));
  }
} catch (e) {
  console.error(`redrive failed: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  sqs.destroy();
}
