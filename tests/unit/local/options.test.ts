import { describe, expect, it } from 'vitest';
import { numberOption } from '#src/local/options.js';

describe('numberOption', () => {
  it('takes the value or the fallback within the range, and names the option when outside it', () => {
    expect(numberOption('batchSize', undefined, 10, { min: 1, max: 100, integer: true })).toBe(10);
    expect(numberOption('batchSize', 7, 10, { min: 1, max: 100, integer: true })).toBe(7);
    expect(() => numberOption('batchSize', 101, 10, { min: 1, max: 100, integer: true })).toThrow(
      new RangeError('batchSize must be an integer from 1 to 100, got 101'),
    );
    expect(() => numberOption('batchSize', 1.5, 10, { min: 1, integer: true })).toThrow(RangeError);
    expect(() => numberOption('idleTimeoutMs', 0, 1, { min: 0, aboveMin: true })).toThrow('idleTimeoutMs must be a number above 0, got 0');
    expect(() => numberOption('latencyMs', Number.NaN, 0, { min: 0 })).toThrow(RangeError);
    expect(numberOption('faults.errorRate', 1, 0, { min: 0, max: 1 })).toBe(1);
  });
});
