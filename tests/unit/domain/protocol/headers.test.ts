import { describe, expect, it } from 'vitest';
import {
  hasLineBreakOrNul,
  headerValue,
  isFieldValue,
  isHeaderName,
  listTokens,
  lowerCaseHeaders,
  splitOutsideQuotes,
  unquote,
} from '#src/domain/protocol/headers.js';

describe('header names and values', () => {
  it('accepts RFC 9110 tokens in any case as names, and nothing else', () => {
    expect(['Set-Cookie', 'x-a_b.c', "!#$%&'*+-.^_`|~"].every(isHeaderName)).toBe(true);
    expect(['', 'a b', 'a:b', 'é', 'a\r'].some(isHeaderName)).toBe(false);
  });

  it('field values allow tab, space, visible ASCII and obs-text, but no other control character', () => {
    expect(isFieldValue('a\tb c~\x80\xff')).toBe(true);
    expect(isFieldValue('a\x01b')).toBe(false);
    expect(isFieldValue('a\r\nb')).toBe(false);
  });

  it('a replayed value is refused only for CR, LF or NUL', () => {
    expect(hasLineBreakOrNul('a\x01b')).toBe(false);
    expect(['a\rb', 'a\nb', 'a\u0000b'].every(hasLineBreakOrNul)).toBe(true);
  });
});

describe('header maps', () => {
  it('lower-cases names and joins names that differ only in case', () => {
    expect(lowerCaseHeaders({ 'X-A': '1', 'x-a': '2', B: '3' })).toEqual({ 'x-a': '1, 2', b: '3' });
  });

  it('looks a header up case-insensitively', () => {
    expect(headerValue({ 'Sec-WebSocket-Protocol': 'chat' }, 'sec-websocket-protocol')).toBe('chat');
    expect(headerValue(undefined, 'x')).toBeUndefined();
  });
});

describe('header lists', () => {
  it('reads the lower-cased tokens of a comma list', () => {
    expect([...listTokens(' Close, X-Hop ,,')]).toEqual(['close', 'x-hop']);
    expect(listTokens(undefined).size).toBe(0);
  });

  it('splits outside double quotes, keeping escapes, and unquotes', () => {
    expect(splitOutsideQuotes('grip; message-prefix="a,b;\\"c"', ';')).toEqual(['grip', ' message-prefix="a,b;\\"c"']);
    expect(unquote('"a\\"b"')).toBe('a"b');
    expect(unquote('bare')).toBe('bare');
  });
});
