import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import {
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  ForbiddenException,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { QueueDoesNotExist, RequestThrottled } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { sendOutcomeFrom } from '#bench/lib/sdk-connection-sender.js';
import { classifyAwsError, describeAwsError, storeErrorFrom } from '#src/adapters/aws-errors.js';
import { managementApiOutcome } from '#src/adapters/signed-http-connection-sender.js';
import { queueErrorFrom } from '#src/adapters/sqs-fanout-queue.js';

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });
const serviceError = (name: string, status: number, fault: 'client' | 'server') =>
  Object.assign(new Error(`${name} happened`), { name, $fault: fault, ...meta(status) });
const systemError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });

describe('describeAwsError', () => {
  it('reads name, status, fault and code from anything thrown, never throwing', () => {
    expect(describeAwsError(new GoneException({ message: 'gone', ...meta(410) }))).toMatchObject({
      name: 'GoneException',
      status: 410,
      fault: 'client',
    });
    expect(describeAwsError(systemError('ECONNREFUSED'))).toMatchObject({ name: 'Error', code: 'ECONNREFUSED', status: undefined });
    expect(describeAwsError(new TypeError('x', { cause: systemError('ECONNRESET') })).code).toBe('ECONNRESET');
    expect(describeAwsError('a string')).toMatchObject({ name: 'Error', message: 'a string' });
    expect(describeAwsError(null)).toMatchObject({ name: 'Error', message: 'null' });
  });
});

describe('classifyAwsError / storeErrorFrom', () => {
  it.each([
    ['ProvisionedThroughputExceededException', new ProvisionedThroughputExceededException({ message: 'slow', ...meta(400) }), 'throttled'],
    ['ThrottlingException', serviceError('ThrottlingException', 400, 'client'), 'throttled'],
    ['RequestLimitExceeded', serviceError('RequestLimitExceeded', 400, 'client'), 'throttled'],
    ['a 429', serviceError('Unknown', 429, 'client'), 'throttled'],
    ['ConditionalCheckFailedException', new ConditionalCheckFailedException({ message: 'no', ...meta(400) }), 'conflict'],
    ['ValidationException', serviceError('ValidationException', 400, 'client'), 'invalid'],
    ['ResourceNotFoundException', new ResourceNotFoundException({ message: 'no table', ...meta(400) }), 'invalid'],
    ['InternalServerError', serviceError('InternalServerError', 500, 'server'), 'unavailable'],
    ['a 503', serviceError('ServiceUnavailable', 503, 'server'), 'unavailable'],
    ['ECONNREFUSED', systemError('ECONNREFUSED'), 'unavailable'],
    ['TimeoutError', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'unavailable'],
    ['a TypeError (a bug in the request)', new TypeError('cannot marshall'), 'invalid'],
  ])('%s → %s', (_label, thrown, kind) => {
    expect(classifyAwsError(describeAwsError(thrown))).toBe(kind);
    const e = storeErrorFrom(thrown, 'PutItem');
    expect(e.kind).toBe(kind);
    expect(e.message).toMatch(/^DynamoDB PutItem failed: /);
    expect(e.cause).toBe(thrown);
  });
});

describe('queueErrorFrom', () => {
  it('maps SQS exceptions to queue error kinds', () => {
    expect(queueErrorFrom(new RequestThrottled({ message: 'slow', ...meta(400) }), 'SendMessageBatch').kind).toBe('throttled');
    expect(queueErrorFrom(new QueueDoesNotExist({ message: 'no', ...meta(400) }), 'SendMessageBatch').kind).toBe('invalid');
    expect(queueErrorFrom(serviceError('InternalError', 500, 'server'), 'SendMessageBatch').kind).toBe('unavailable');
    expect(queueErrorFrom(systemError('ECONNRESET'), 'SendMessageBatch')).toMatchObject({
      kind: 'unavailable',
      message: expect.stringMatching(/ECONNRESET/),
    });
  });
});

describe('managementApiOutcome: the one mapping of Management API failures', () => {
  it.each([
    [{ status: 410, errorType: 'GoneException' }, { kind: 'gone' }],
    [{ status: 410 }, { kind: 'gone' }],
    [{ status: 429, errorType: 'LimitExceededException' }, { kind: 'throttled' }],
    [{ status: 413 }, { kind: 'too-large' }],
    [
      { status: 403, errorType: 'ForbiddenException' },
      { kind: 'failed', retryable: false },
    ],
    [{ status: 400 }, { kind: 'rejected' }],
    [{ status: 400, errorType: 'BadRequestException' }, { kind: 'rejected' }],
    [{ status: 404 }, { kind: 'failed', retryable: false }],
    [{ status: 302 }, { kind: 'failed', retryable: false }],
    [{ status: 503 }, { kind: 'failed', retryable: true }],
    [{ status: 0 }, { kind: 'failed', retryable: true }],
    [{}, { kind: 'failed', retryable: true }],
  ])('%j → %j', (failure, outcome) => {
    expect(managementApiOutcome({ ...failure, message: 'm' })).toMatchObject(outcome);
  });
});

describe("sendOutcomeFrom (the benchmarks' SDK client), through managementApiOutcome", () => {
  it.each([
    ['GoneException', new GoneException({ message: 'gone', ...meta(410) }), { kind: 'gone' }],
    ['a bare 410 the SDK calls Unknown', serviceError('Unknown', 410, 'client'), { kind: 'gone' }],
    ['LimitExceededException', new LimitExceededException({ message: 'slow', ...meta(429) }), { kind: 'throttled' }],
    ['a bare 429', serviceError('Unknown', 429, 'client'), { kind: 'throttled' }],
    ['PayloadTooLargeException', new PayloadTooLargeException({ message: 'big', ...meta(413) }), { kind: 'too-large' }],
    ['ForbiddenException', new ForbiddenException({ message: 'no', ...meta(403) }), { kind: 'failed', retryable: false }],
    ['BadRequestException', serviceError('BadRequestException', 400, 'client'), { kind: 'rejected' }],
    ['another 4xx', serviceError('NotFoundException', 404, 'client'), { kind: 'failed', retryable: false }],
    ['a 500', serviceError('Unknown', 500, 'server'), { kind: 'failed', retryable: true }],
    ['a timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError', code: 'ETIMEDOUT' }), { kind: 'failed', retryable: true }],
    ['a reset socket', systemError('ECONNRESET'), { kind: 'failed', retryable: true }],
  ])('%s', (_label, thrown, outcome) => {
    expect(sendOutcomeFrom(thrown)).toMatchObject(outcome);
  });
});
