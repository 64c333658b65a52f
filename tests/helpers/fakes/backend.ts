/** The backend and the Grip-Sig signer: scripted replies, and helpers that build WebSocket-over-HTTP bodies. */
import type { BackendClient, BackendError, BackendRequest, BackendResponse, GripSigner } from '#src/domain/ports.js';
import { err, ok, type Result } from '#src/domain/result.js';

export type BackendAnswer =
  BackendResponse | { readonly error: BackendError } | ((request: BackendRequest) => BackendResponse | { readonly error: BackendError });

const utf8 = new TextEncoder();

/** Body parts: strings are UTF-8, byte arrays are taken as they are. */
export type BodyParts = string | Uint8Array | readonly (string | Uint8Array)[];

function bodyBytes(parts: BodyParts): Uint8Array {
  const list = typeof parts === 'string' || parts instanceof Uint8Array ? [parts] : parts;
  const chunks = list.map((p) => (typeof p === 'string' ? utf8.encode(p) : p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A 200 `application/websocket-events` reply with the given raw body (e.g. `'OPEN\r\nTEXT 4\r\nm:hi\r\n'`). */
export function eventsReply(body: BodyParts = '', headers: Record<string, string> = {}): BackendResponse {
  return { status: 200, headers: { 'content-type': 'application/websocket-events', ...lowerKeys(headers) }, body: bodyBytes(body) };
}

/** The GRIP accept most tests want: `OPEN` with `Sec-WebSocket-Extensions: grip`, then the `rest` of the body. */
export function gripAccept(rest: BodyParts = '', headers: Record<string, string> = {}): BackendResponse {
  const tail = typeof rest === 'string' || rest instanceof Uint8Array ? [rest] : rest;
  return eventsReply(['OPEN\r\n', ...tail], { 'sec-websocket-extensions': 'grip', ...headers });
}

/** A framed TEXT event, with its byte length computed (`TEXT <hex>\r\n<text>\r\n`). */
export function textFrame(text: string): string {
  return `TEXT ${utf8.encode(text).length.toString(16)}\r\n${text}\r\n`;
}

/** A framed BINARY event. */
export function binaryFrame(data: Uint8Array): Uint8Array {
  return bodyBytes([`BINARY ${data.length.toString(16)}\r\n`, data, '\r\n']);
}

/** A framed CLOSE event: 2-byte big-endian code and UTF-8 reason, or no content when `code` is null. */
export function closeFrame(code: number | null, reason = ''): Uint8Array {
  if (code === null) return bodyBytes('CLOSE\r\n');
  const content = bodyBytes([new Uint8Array([(code >> 8) & 0xff, code & 0xff]), reason]);
  return bodyBytes([`CLOSE ${content.length.toString(16)}\r\n`, content, '\r\n']);
}

export function httpReply(status: number, body = '', headers: Record<string, string> = {}): BackendResponse {
  return { status, headers: lowerKeys(headers), body: utf8.encode(body) };
}

export function backendError(kind: BackendError['kind'] = 'connect', message = `backend ${kind}`): { readonly error: BackendError } {
  return { error: { kind, message } };
}

/**
 * `BackendClient` that answers from a script, in order, and records every request. With the script used up it
 * answers `fallback` (default: an empty 200 events reply, a valid no-op in a session).
 */
export class ScriptedBackend implements BackendClient {
  readonly requests: BackendRequest[] = [];
  readonly #answers: BackendAnswer[] = [];
  fallback: BackendAnswer = eventsReply('');

  respond(...answers: BackendAnswer[]): this {
    this.#answers.push(...answers);
    return this;
  }

  async send(request: BackendRequest): Promise<Result<BackendResponse, BackendError>> {
    this.requests.push(request);
    const answer = this.#answers.shift() ?? this.fallback;
    const resolved = typeof answer === 'function' ? answer(request) : answer;
    return 'error' in resolved ? err(resolved.error) : ok(resolved);
  }

  /** The body of the `n`th request (default: the last) as text, for asserting the events sent. */
  bodyText(n = this.requests.length - 1): string {
    const request = this.requests[n];
    return request === undefined ? '' : Buffer.from(request.body).toString('latin1');
  }
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

// ---------------------------------------------------------------------------------------------------------------
// Grip-Sig

/** Always mints the same token; counts how many were asked for (one per backend request). */
export class FixedSigner implements GripSigner {
  signed = 0;
  constructor(readonly token = 'test.grip.sig') {}
  async sign(): Promise<string> {
    this.signed++;
    return this.token;
  }
}
