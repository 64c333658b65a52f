// Lambda entry: the fan-out worker (SQS event sources with ReportBatchItemFailures). Built once per container.
import { workerRuntime } from './runtime.js';

export const handler = workerRuntime(process.env);
