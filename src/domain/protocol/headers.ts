/**
 * HTTP header parsing shared by the request to the backend (`request.ts`), the reading of its reply
 * (`reply.ts`) and the local gateway's handshake responses: one definition of a header name, of a value that is
 * safe to pass on, of case-insensitive lookup, and of the list syntax (`a, b; p="x,y"`) used by `Connection`
 * and `Sec-WebSocket-Extensions` (RFC 9110 §5.1, §5.5, §5.6).
 */

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field-value characters (RFC 9110 §5.5): visible ASCII, space, tab and obs-text; no other control characters. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// eslint-disable-next-line no-control-regex -- a header value must not smuggle line breaks or NULs
const LINE_BREAK_OR_NUL = /[\r\n\u0000]/;

/** Whether `name` is a header name (an RFC 9110 token, any case). */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/** Whether `value` holds only field-value characters, so it may be written into a response as it is. */
export function isFieldValue(value: string): boolean {
  return FIELD_VALUE.test(value);
}

/**
 * Whether `value` contains a CR, LF or NUL: the characters that could end a header line or split a request when
 * the value is replayed. (Replayed client headers are checked with this, the looser rule, so that what a client
 * sent reaches the backend unchanged unless it is dangerous.)
 */
export function hasLineBreakOrNul(value: string): boolean {
  return LINE_BREAK_OR_NUL.test(value);
}

/** Header names lower-cased; values of names that differ only in case are joined with `, `. */
export function lowerCaseHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    out[key] = out[key] === undefined ? value : `${out[key]}, ${value}`;
  }
  return out;
}

/** The value of header `lowerName` in headers of any case; the first match, or `undefined`. */
export function headerValue(headers: Readonly<Record<string, string>> | undefined, lowerName: string): string | undefined {
  if (!headers) return undefined;
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === lowerName) return value;
  return undefined;
}

/** The lower-cased, non-empty tokens of a comma-separated list such as `Connection: close, X-Hop`. */
export function listTokens(value: string | undefined): Set<string> {
  const tokens = new Set<string>();
  if (value === undefined) return tokens;
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t.length > 0) tokens.add(t);
  }
  return tokens;
}

/** Splits on `separator` except inside double quotes (with backslash escapes), as HTTP header lists allow. */
export function splitOutsideQuotes(value: string, separator: ',' | ';'): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i);
    if (quoted && c === '\\' && i + 1 < value.length) {
      current += c + value.charAt(i + 1);
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === separator && !quoted) {
      parts.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  parts.push(current);
  return parts;
}

/** A quoted-string's content (escapes undone); any other value unchanged. */
export function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}
