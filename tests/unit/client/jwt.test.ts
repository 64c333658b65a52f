/**
 * The client's WebCrypto HS256 (src/client/jwt.ts) against the server's jose-based one (src/domain/auth.ts) and
 * js-grip's: tokens one side signs, the other accepts, and for any token both give the same verdict and reason.
 */
import { validateSig } from '@fanoutio/grip';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signHs256, verifyHs256 } from '#src/client/jwt.js';
import { signGripSig, verifyHs256 as serverVerify } from '#src/domain/auth.js';

const NOW = 1_700_000_000;
const KEY = 'jwt-test-key';
const utf8 = new TextEncoder();

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A token with any header and payload, signed with `key` (or given a chosen signature). */
async function forge(header: unknown, payload: unknown, key: string, signature?: string): Promise<string> {
  const input = `${b64url(header)}.${b64url(payload)}`;
  if (signature !== undefined) return `${input}.${signature}`;
  const cryptoKey = await crypto.subtle.importKey('raw', utf8.encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const sig = Buffer.from(await crypto.subtle.sign('HMAC', cryptoKey, utf8.encode(input))).toString('base64url');
  return `${input}.${sig}`;
}

describe('client HS256', () => {
  it('signs tokens the server and js-grip accept', async () => {
    const token = await signHs256({ iss: 'backend', exp: NOW + 600 }, KEY);
    expect(await serverVerify(token, { key: KEY, iss: 'backend', nowSeconds: NOW })).toEqual({
      ok: true,
      claims: { iss: 'backend', exp: NOW + 600 },
    });
    const binary = await signHs256({ iss: 'b', exp: Math.floor(Date.now() / 1000) + 60 }, new Uint8Array([1, 2, 3]));
    expect(await validateSig(binary, new Uint8Array([1, 2, 3]))).toBe(true);
    expect(await serverVerify(binary, { key: 'base64:AQID' })).toMatchObject({ ok: true });
  });

  it('accepts what the server signs', async () => {
    const token = await signGripSig({ key: KEY, iss: 'pushpin', nowSeconds: NOW });
    expect(await verifyHs256(token, KEY, { iss: 'pushpin', nowSeconds: NOW })).toEqual({
      ok: true,
      claims: { iss: 'pushpin', exp: NOW + 300 },
    });
  });

  it('gives the same verdict and reason as the server for any token', async () => {
    const claim = fc.oneof(fc.constant(undefined), fc.integer({ min: NOW - 5, max: NOW + 5 }), fc.constant('soon'), fc.constant(null));
    const payload = fc.oneof(
      fc.record(
        { iss: fc.oneof(fc.constant('pushpin'), fc.constant('other'), fc.constant(7)), exp: claim, nbf: claim, iat: claim },
        { requiredKeys: [] },
      ),
      fc.constant([1, 2]),
      fc.constant('"text"'),
    );
    const header = fc.oneof(
      fc.constant({ alg: 'HS256', typ: 'JWT' }),
      fc.constant({ alg: 'HS256' }),
      fc.constant({ alg: 'none' }),
      fc.constant({ alg: 'RS256' }),
      fc.constant('not json'),
    );
    const signing = fc.oneof(fc.constant(KEY), fc.constant('wrong-key'), fc.constant('sig:'), fc.constant('sig:AAAA'));
    await fc.assert(
      fc.asyncProperty(header, payload, signing, fc.option(fc.constant('pushpin'), { nil: undefined }), async (h, p, s, iss) => {
        const token = s.startsWith('sig:') ? await forge(h, p, KEY, s.slice(4)) : await forge(h, p, s);
        const ours = await verifyHs256(token, KEY, { nowSeconds: NOW, ...(iss !== undefined ? { iss } : {}) });
        const server = await serverVerify(token, { key: KEY, nowSeconds: NOW, ...(iss !== undefined ? { iss } : {}) });
        expect(ours).toEqual(server);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses oversized and misshapen tokens unparsed', async () => {
    expect(await verifyHs256('a.b', KEY, { nowSeconds: NOW })).toEqual({ ok: false, reason: 'malformed' });
    expect(await verifyHs256(`${'a'.repeat(9000)}.b.c`, KEY, { nowSeconds: NOW })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('remembers a verified signature only for that exact token and key: a changed token or another key is checked again', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signHs256({ iss: 'x', exp: now + 60 }, 'key-one');
    expect((await verifyHs256(token, 'key-one', { nowSeconds: now })).ok).toBe(true);
    expect((await verifyHs256(token, 'key-one', { nowSeconds: now })).ok).toBe(true);
    expect(await verifyHs256(token, 'key-two', { nowSeconds: now })).toEqual({ ok: false, reason: 'bad-signature' });
    const last = token.at(-2) === 'A' ? 'B' : 'A';
    const tampered = `${token.slice(0, -2)}${last}${token.at(-1) ?? ''}`;
    expect(await verifyHs256(tampered, 'key-one', { nowSeconds: now })).toEqual({ ok: false, reason: 'bad-signature' });
    // The time checks still run for a remembered token.
    expect(await verifyHs256(token, 'key-one', { nowSeconds: now + 61 })).toEqual({ ok: false, reason: 'expired' });
  });
});
