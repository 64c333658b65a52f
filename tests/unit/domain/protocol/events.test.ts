import { describe, expect, it } from 'vitest';
import { closeEvent } from '#src/domain/protocol/events.js';

describe('closeEvent', () => {
  it('drops the reason when there is no code', () => {
    expect(closeEvent(null, 'x')).toEqual({ type: 'CLOSE', code: null, reason: '' });
    expect(closeEvent(1000, 'x')).toEqual({ type: 'CLOSE', code: 1000, reason: 'x' });
  });
});
