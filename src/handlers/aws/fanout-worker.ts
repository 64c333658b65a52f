// Lambda entry: the fan-out worker (SQS event sources with ReportBatchItemFailures). Built once per container.
import { awsResources } from '../../functions/aws.js';
import { composeFanoutWorker } from '../../functions/fanout-worker.js';

export const handler = composeFanoutWorker(await awsResources('fanout-worker', process.env));
