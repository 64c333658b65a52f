import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fifoIdFor, messageGroupIdFor, toQueueBody } from '#src/adapters/sqs-fanout-queue.js';

/** What SQS accepts in a message body: #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF. */
const SQS_BODY = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

describe('toQueueBody', () => {
  it('reads back as the same JSON value and contains only characters SQS and fauxqs accept', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const json = JSON.stringify({ text });
        const body = toQueueBody(json);
        return JSON.parse(body).text === text && SQS_BODY.test(body) && !/[\uD800-\uDFFF]/.test(body);
      }),
    );
    const odd = 'a\uFFFE\uFFFF\uD800 lone \uDC00 pair 😀';
    const body = toQueueBody(JSON.stringify({ odd }));
    expect(JSON.parse(body)).toEqual({ odd });
    expect(body).toMatch(SQS_BODY);
    expect(body).toBe('{"odd":"a\\ufffe\\uffff\\ud800 lone \\udc00 pair \\ud83d\\ude00"}');
  });
});

describe('FIFO ids', () => {
  it('keeps ids SQS accepts and hashes the rest into 45 accepted characters', () => {
    expect(fifoIdFor('ch:room-1')).toBe('ch:room-1');
    expect(fifoIdFor('x'.repeat(128))).toBe('x'.repeat(128));
    for (const odd of ['x'.repeat(129), 'room with space', 'café', 'tab\there']) {
      const id = fifoIdFor(odd);
      expect(id).toMatch(/^h:[A-Za-z0-9_-]{43}$/);
      expect(fifoIdFor(odd)).toBe(id);
    }
    expect(fifoIdFor('café')).not.toBe(fifoIdFor('cafe'));
  });

  it('uses the default group without an order key', () => {
    expect(messageGroupIdFor(undefined)).toBe('default');
    expect(messageGroupIdFor('')).toBe('default');
    expect(messageGroupIdFor('conn:abc=')).toBe('conn:abc=');
  });
});
