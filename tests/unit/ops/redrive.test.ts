import {
  InvalidSecurity,
  RequestThrottled,
  ResourceNotFoundException,
  SQSServiceException,
  UnsupportedOperation,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { isMoveTaskUnsupported } from '#src/ops/redrive.js';

/** A service error as the SDK builds it from an answer: name, HTTP status and fault. */
function answered(name: string, status: number, message: string): SQSServiceException {
  return new SQSServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message });
}
const meta = { $metadata: { httpStatusCode: 400 } };

describe('isMoveTaskUnsupported: when redrive may move messages by hand instead of StartMessageMoveTask', () => {
  it('is true only when the endpoint does not know the action (an emulator)', () => {
    // What fauxqs answers (tests/integration/ops/redrive.test.ts checks it against fauxqs itself).
    expect(isMoveTaskUnsupported(answered('InvalidAction', 400, 'Unknown action: StartMessageMoveTask'))).toBe(true);
    expect(isMoveTaskUnsupported(answered('UnknownOperationException', 400, 'Operation not found'))).toBe(true);
  });

  it("reports every real answer about the move, even when it says 'unknown' or 'unsupported' or is a 404", () => {
    const real = [
      // SQS's own refusal of this particular move (for example: the source is not a dead-letter queue).
      new UnsupportedOperation({ ...meta, message: 'Unsupported operation: source queue is not a dead-letter queue' }),
      new ResourceNotFoundException({ $metadata: { httpStatusCode: 404 }, message: 'The resource is unknown' }),
      new InvalidSecurity({ $metadata: { httpStatusCode: 403 }, message: 'unsupported signature version' }),
      new RequestThrottled({ $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }),
      answered('AccessDenied', 403, 'User is not authorized to perform: sqs:StartMessageMoveTask'),
      answered('AWS.SimpleQueueService.NonExistentQueue', 404, 'The specified queue does not exist or is unknown'),
      answered('InternalError', 500, 'We encountered an internal error'),
      answered('NotFound', 404, 'Not Found'),
      answered('NotImplemented', 501, 'unsupported'),
    ];
    for (const e of real) expect(isMoveTaskUnsupported(e), `${e.name}: ${e.message}`).toBe(false);
  });

  it('treats a transport failure or anything that is not a service answer as real too', () => {
    expect(isMoveTaskUnsupported(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isMoveTaskUnsupported(new TypeError('unknown option'))).toBe(false);
    expect(isMoveTaskUnsupported('InvalidAction')).toBe(false);
  });
});
