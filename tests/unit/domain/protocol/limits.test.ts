import { describe, expect, it } from 'vitest';
import { isSendableCloseCode } from '#src/domain/protocol/limits.js';

describe('isSendableCloseCode', () => {
  it.each([1000, 1001, 1003, 1007, 1011, 1014, 3000, 4000, 4999])('%i can be sent', (code) => {
    expect(isSendableCloseCode(code)).toBe(true);
  });
  it.each([0, 999, 1004, 1005, 1006, 1015, 2000, 2999, 5000, 65535, -1, 1000.5])('%d cannot', (code) => {
    expect(isSendableCloseCode(code)).toBe(false);
  });
});
