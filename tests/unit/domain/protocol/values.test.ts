import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUtf8Strict, integerLike, isRecord, parseJson, truncateUtf8, utf8ByteLength } from '#src/domain/protocol/values.js';

describe('integerLike', () => {
  it.each<[unknown, number | null]>([
    [30, 30],
    [0, 0],
    [-5, -5],
    ['30', 30],
    [' +30 ', 30],
    ['-7', -7],
    [1.5, null],
    [Number.NaN, null],
    [Infinity, null],
    ['1e3', null],
    ['0x10', null],
    ['', null],
    ['abc', null],
    [true, null],
    [null, null],
    [[1], null],
  ])('%j → %j', (value, expected) => {
    expect(integerLike(value)).toBe(expected);
  });
});

describe('isRecord', () => {
  it.each<[unknown, boolean]>([
    [{}, true],
    [{ a: 1 }, true],
    [[], false],
    [null, false],
    ['x', false],
  ])('%j → %j', (value, expected) => {
    expect(isRecord(value)).toBe(expected);
  });
});

describe('utf8ByteLength', () => {
  it('equals TextEncoder for any string, lone surrogates included (2,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.oneof(fc.string({ unit: 'binary', maxLength: 1 }), fc.constantFrom('\ud800', '\udfff')), maxLength: 50 }),
        (text) => {
          expect(utf8ByteLength(text)).toBe(new TextEncoder().encode(text).length);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('truncateUtf8', () => {
  it.each<[string, number, string]>([
    ['hello', 10, 'hello'],
    ['hello', 3, 'hel'],
    ['héllo', 2, 'h'],
    ['héllo', 3, 'hé'],
    ['a😀b', 4, 'a'],
    ['a😀b', 5, 'a😀'],
    ['', 0, ''],
  ])('%j to %i bytes → %j', (text, max, expected) => {
    expect(truncateUtf8(text, max)).toBe(expected);
  });

  it('is the longest prefix within the limit that keeps characters whole (2,000 runs)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.integer({ min: 0, max: 130 }), (text, max) => {
        const cut = truncateUtf8(text, max);
        expect(text.startsWith(cut)).toBe(true);
        expect(utf8ByteLength(cut)).toBeLessThanOrEqual(max);
        if (cut.length < text.length) {
          const next = text.codePointAt(cut.length) ?? 0;
          expect(utf8ByteLength(cut + String.fromCodePoint(next))).toBeGreaterThan(max);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('parseJson and decodeUtf8Strict', () => {
  it('parse JSON into a Result', () => {
    expect(parseJson('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseJson('{')).toMatchObject({ ok: false });
  });

  it('decode only valid UTF-8, keeping a BOM', () => {
    expect(decodeUtf8Strict(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0xc3, 0xa9]))).toBe('\ufeffhé');
    expect(decodeUtf8Strict(new Uint8Array([0x68, 0xff]))).toBeNull();
    expect(decodeUtf8Strict(new Uint8Array([0xed, 0xa0, 0x80]))).toBeNull();
  });
});
