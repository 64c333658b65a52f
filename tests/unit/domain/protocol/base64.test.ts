import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '#src/domain/protocol/base64.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

describe('base64', () => {
  it.each<[string, Uint8Array]>([
    ['', bytes()],
    ['Zg==', bytes(0x66)],
    ['Zm8=', bytes(0x66, 0x6f)],
    ['Zm9v', bytes(0x66, 0x6f, 0x6f)],
    ['Zm9vYg==', bytes(0x66, 0x6f, 0x6f, 0x62)],
    ['+/8=', bytes(0xfb, 0xff)],
  ])('RFC 4648 vector %j', (text, data) => {
    expect(decodeBase64(text)).toEqual(data);
    expect(encodeBase64(data)).toBe(text);
  });

  it.each<[string, Uint8Array]>([
    ['Zg', bytes(0x66)],
    ['Zm8', bytes(0x66, 0x6f)],
    ['Zm9v\r\nYg==', bytes(0x66, 0x6f, 0x6f, 0x62)],
    [' Zm9v ', bytes(0x66, 0x6f, 0x6f)],
  ])('accepts missing padding and whitespace: %j', (text, data) => {
    expect(decodeBase64(text)).toEqual(data);
  });

  it.each(['Z', 'Zg=', 'Zg===', 'Zm9v=', 'Z=g=', 'Zg==Zg==', 'Zh==', 'Zm9=', 'a$b=', '-_8=', 'Zé==', '===='])('rejects %j', (text) => {
    expect(decodeBase64(text)).toBeNull();
  });

  it('matches Buffer for any bytes, both ways (2,000 runs)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (data) => {
        const text = encodeBase64(data);
        expect(text).toBe(Buffer.from(data).toString('base64'));
        expect(decodeBase64(text)).toEqual(data);
      }),
      { numRuns: 2_000 },
    );
  });

  it('encodes large inputs in one piece', () => {
    const data = new Uint8Array(100_000).map((_, i) => i & 0xff);
    expect(encodeBase64(data)).toBe(Buffer.from(data).toString('base64'));
  });
});
