import { CompactSign, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { authorizeControl, keyBytes, signGripSig, verifyHs256 } from '#src/domain/auth.js';
import { InvariantError } from '#src/domain/result.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const decodePart = (part: string | undefined): unknown => JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
const NOW = 1_800_000_000;

/** Grip-Sig from capture 1 in docs/local-services.md: Pushpin 1.36 with the default sig_key "changeme". */
const PUSHPIN_TOKEN =
  'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3OTU3ODg5NTQsImlzcyI6InB1c2hwaW4ifQ.E3Eu_P2KGzl2FF3V7llckW-OECjUnbrpeqd7-eN66Ns';
const PUSHPIN_EXP = 1_795_788_954;

async function hs256(claims: Record<string, unknown>, key: Uint8Array | string, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', ...header }).sign(typeof key === 'string' ? utf8(key) : key);
}

describe('keyBytes', () => {
  it('decodes base64: keys and encodes other strings as UTF-8', () => {
    expect(keyBytes('base64:aGk=')).toEqual(utf8('hi'));
    expect(keyBytes('changeme')).toEqual(utf8('changeme'));
    expect(keyBytes('ключ')).toEqual(utf8('ключ'));
    expect(keyBytes(new Uint8Array([1, 2]))).toEqual(new Uint8Array([1, 2]));
  });

  it.each([[''], ['base64:'], ['base64:@@@'], [new Uint8Array(0)]])('throws INVALID_SHARED_KEY for %j without echoing the key', (key) => {
    let thrown: unknown;
    try {
      keyBytes(key);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(InvariantError);
    expect((thrown as InvariantError).code).toBe('INVALID_SHARED_KEY');
    expect((thrown as InvariantError).message).not.toContain('@@@');
  });
});

describe('signGripSig', () => {
  it('mints Pushpin’s token shape: HS256/JWT header, {iss, exp = now + 300} (5 minutes, not Pushpin’s hour)', async () => {
    const token = await signGripSig({ key: 'changeme', iss: 'grip-server', nowSeconds: NOW });
    const [header, payload] = token.split('.');
    expect(decodePart(header)).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(decodePart(payload)).toEqual({ iss: 'grip-server', exp: NOW + 300 });
  });

  it('honours ttlSeconds and floors a fractional now', async () => {
    const token = await signGripSig({ key: 'k', iss: 'i', nowSeconds: NOW + 0.9, ttlSeconds: 60 });
    expect(decodePart(token.split('.')[1])).toEqual({ iss: 'i', exp: NOW + 60 });
  });

  it('signs with the decoded bytes of a base64: key', async () => {
    const token = await signGripSig({ key: 'base64:c2VjcmV0', iss: 'i', nowSeconds: NOW });
    expect(await verifyHs256(token, { key: utf8('secret'), nowSeconds: NOW })).toMatchObject({ ok: true });
    expect(await verifyHs256(token, { key: 'base64:c2VjcmV0', nowSeconds: NOW })).toMatchObject({ ok: true });
  });

  it.each([0, -1, 1.5])('throws INVALID_TTL for ttlSeconds %j', async (ttlSeconds) => {
    await expect(signGripSig({ key: 'k', iss: 'i', nowSeconds: NOW, ttlSeconds })).rejects.toMatchObject({ code: 'INVALID_TTL' });
  });
});

describe('verifyHs256', () => {
  it('accepts a real Pushpin Grip-Sig before it expires, and checks iss only when asked', async () => {
    expect(await verifyHs256(PUSHPIN_TOKEN, { key: 'changeme', iss: 'pushpin', nowSeconds: PUSHPIN_EXP - 60 })).toEqual({
      ok: true,
      claims: { exp: PUSHPIN_EXP, iss: 'pushpin' },
    });
    expect(await verifyHs256(PUSHPIN_TOKEN, { key: 'changeme', nowSeconds: PUSHPIN_EXP - 60 })).toMatchObject({ ok: true });
    expect(await verifyHs256(PUSHPIN_TOKEN, { key: 'changeme', iss: 'other', nowSeconds: PUSHPIN_EXP - 60 })).toEqual({
      ok: false,
      reason: 'wrong-issuer',
    });
    expect(await verifyHs256(PUSHPIN_TOKEN, { key: 'changeme', nowSeconds: PUSHPIN_EXP })).toEqual({ ok: false, reason: 'expired' });
    expect(await verifyHs256(PUSHPIN_TOKEN, { key: 'changemE', nowSeconds: PUSHPIN_EXP - 60 })).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('round-trips with signGripSig', async () => {
    const token = await signGripSig({ key: 'k', iss: 'me', nowSeconds: NOW });
    expect(await verifyHs256(token, { key: 'k', iss: 'me', nowSeconds: NOW + 299 })).toEqual({
      ok: true,
      claims: { iss: 'me', exp: NOW + 300 },
    });
    expect(await verifyHs256(token, { key: 'k', nowSeconds: NOW + 300 })).toEqual({ ok: false, reason: 'expired' });
  });

  it('uses the real clock when nowSeconds is not given', async () => {
    const fresh = await hs256({ exp: Math.floor(Date.now() / 1000) + 600 }, 'k');
    const stale = await hs256({ exp: Math.floor(Date.now() / 1000) - 600 }, 'k');
    expect(await verifyHs256(fresh, { key: 'k' })).toMatchObject({ ok: true });
    expect(await verifyHs256(stale, { key: 'k' })).toEqual({ ok: false, reason: 'expired' });
  });

  it('requires exp', async () => {
    expect(await verifyHs256(await hs256({ iss: 'x' }, 'k'), { key: 'k', nowSeconds: NOW })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('treats a future nbf as expired', async () => {
    const token = await hs256({ exp: NOW + 100, nbf: NOW + 50 }, 'k');
    expect(await verifyHs256(token, { key: 'k', nowSeconds: NOW })).toEqual({ ok: false, reason: 'expired' });
  });

  it('rejects alg none and other algorithms as wrong-algorithm', async () => {
    const none = new UnsecuredJWT({ exp: NOW + 100 }).encode();
    expect(await verifyHs256(none, { key: 'k', nowSeconds: NOW })).toEqual({ ok: false, reason: 'wrong-algorithm' });
    const hs512 = await new SignJWT({ exp: NOW + 100 }).setProtectedHeader({ alg: 'HS512' }).sign(utf8('k'.repeat(64)));
    expect(await verifyHs256(hs512, { key: 'k'.repeat(64), nowSeconds: NOW })).toEqual({ ok: false, reason: 'wrong-algorithm' });
    // An "alg: none" header glued onto a valid HS256 signature.
    const [, payload, signature] = (await hs256({ exp: NOW + 100 }, 'k')).split('.');
    const forged = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.${signature}`;
    expect(await verifyHs256(forged, { key: 'k', nowSeconds: NOW })).toEqual({ ok: false, reason: 'wrong-algorithm' });
  });

  it.each([
    ['empty', ''],
    ['two parts', 'a.b'],
    ['four parts', 'a.b.c.d'],
    ['not base64url', 'a+b.c.d'],
    ['header not JSON', `${Buffer.from('nope').toString('base64url')}.e30.sig`],
    ['far too long', `a.${'b'.repeat(9000)}.c`],
  ])('malformed: %s', async (_name, token) => {
    expect(await verifyHs256(token, { key: 'k', nowSeconds: NOW })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('malformed: a correctly signed payload that is not a JSON claims set', async () => {
    const token = await new CompactSign(utf8('not json')).setProtectedHeader({ alg: 'HS256' }).sign(utf8('k'));
    expect(await verifyHs256(token, { key: 'k', nowSeconds: NOW })).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('authorizeControl', () => {
  const key = 'top-secret-key';

  it('accepts Bearer <key> (js-grip Publisher with only key)', async () => {
    expect(await authorizeControl(`Bearer ${key}`, { key })).toEqual({ ok: true, scheme: 'key' });
    expect(await authorizeControl(`bearer   ${key}  `, { key })).toEqual({ ok: true, scheme: 'key' });
  });

  it('accepts a base64: key given literally (what js-grip sends) or as its decoded bytes', async () => {
    expect(await authorizeControl('Bearer base64:c2VjcmV0', { key: 'base64:c2VjcmV0' })).toEqual({ ok: true, scheme: 'key' });
    expect(await authorizeControl('Bearer secret', { key: 'base64:c2VjcmV0' })).toEqual({ ok: true, scheme: 'key' });
  });

  it('accepts Bearer <HS256 JWT> with a future exp, checking iss only when configured', async () => {
    const token = await hs256({ iss: 'myiss', exp: NOW + 600 }, key);
    expect(await authorizeControl(`Bearer ${token}`, { key, nowSeconds: NOW })).toEqual({ ok: true, scheme: 'jwt' });
    expect(await authorizeControl(`Bearer ${token}`, { key, iss: 'myiss', nowSeconds: NOW })).toEqual({ ok: true, scheme: 'jwt' });
    expect(await authorizeControl(`Bearer ${token}`, { key, iss: 'other', nowSeconds: NOW })).toEqual({
      ok: false,
      reason: 'bearer JWT rejected: wrong-issuer',
    });
  });

  it('refuses a Grip-Sig token (the server’s own issuer) replayed as a control credential', async () => {
    const gripSig = await signGripSig({ key, iss: 'pushpin', nowSeconds: NOW });
    expect(await authorizeControl(`Bearer ${gripSig}`, { key, refuseIss: 'pushpin', nowSeconds: NOW })).toEqual({
      ok: false,
      reason: 'bearer JWT rejected: its iss is the Grip-Sig issuer (a backend request token is not a control credential)',
    });
    const control = await hs256({ iss: 'my-backend', exp: NOW + 600 }, key);
    expect(await authorizeControl(`Bearer ${control}`, { key, refuseIss: 'pushpin', nowSeconds: NOW })).toEqual({
      ok: true,
      scheme: 'jwt',
    });
  });

  it('refuses a JWT without exp, or with exp further ahead than the maximum lifetime', async () => {
    const forever = await hs256({ iss: 'b' }, key);
    expect(await authorizeControl(`Bearer ${forever}`, { key, nowSeconds: NOW })).toEqual({
      ok: false,
      reason: 'bearer JWT rejected: malformed',
    });
    const year = await hs256({ iss: 'b', exp: NOW + 31_536_000 }, key);
    expect(await authorizeControl(`Bearer ${year}`, { key, maxLifetimeSeconds: 3600, nowSeconds: NOW })).toEqual({
      ok: false,
      reason: 'bearer JWT rejected: exp is more than 3600 s ahead',
    });
    const hour = await hs256({ iss: 'b', exp: NOW + 3600 }, key);
    expect(await authorizeControl(`Bearer ${hour}`, { key, maxLifetimeSeconds: 3600, nowSeconds: NOW })).toEqual({
      ok: true,
      scheme: 'jwt',
    });
  });

  it.each<[string, string | undefined, string]>([
    ['a missing header', undefined, 'missing Authorization header'],
    ['an empty header', '  ', 'missing Authorization header'],
    ['a scheme without a token', 'Bearer', 'malformed Authorization header: expected "Bearer <token>"'],
    ['Basic auth', `Basic ${Buffer.from(`user:${key}`).toString('base64')}`, 'unsupported Authorization scheme "Basic": use Bearer'],
    ['the wrong key', 'Bearer not-the-key', 'bearer token is neither the key nor a JWT'],
    ['a prefix of the key', 'Bearer top-secret', 'bearer token is neither the key nor a JWT'],
    ['the key plus more', `Bearer ${key}x`, 'bearer token is neither the key nor a JWT'],
    ['the key with another scheme', `Token ${key}`, 'unsupported Authorization scheme "Token": use Bearer'],
  ])('rejects %s', async (_name, header, reason) => {
    const auth = await authorizeControl(header, { key, nowSeconds: NOW });
    expect(auth).toEqual({ ok: false, reason });
  });

  it.each<[string, () => Promise<string>, string]>([
    ['an expired JWT', () => hs256({ exp: NOW - 1 }, key), 'bearer JWT rejected: expired'],
    ['a JWT signed with another key', () => hs256({ exp: NOW + 60 }, 'other-key'), 'bearer JWT rejected: bad-signature'],
    ['an alg:none JWT', async () => new UnsecuredJWT({ exp: NOW + 60 }).encode(), 'bearer JWT rejected: wrong-algorithm'],
    ['a JWT without exp', () => hs256({ iss: 'x' }, key), 'bearer JWT rejected: malformed'],
  ])('rejects %s', async (_name, makeToken, reason) => {
    const token = await makeToken();
    const auth = await authorizeControl(`Bearer ${token}`, { key, nowSeconds: NOW });
    expect(auth).toEqual({ ok: false, reason });
    if (!auth.ok) {
      expect(auth.reason).not.toContain(key);
      expect(auth.reason).not.toContain(token);
    }
  });

  it('a scheme name in a reason is cut short, so a pasted secret does not reach the logs whole', async () => {
    const auth = await authorizeControl(`${'s'.repeat(40)} x`, { key });
    expect(auth.ok).toBe(false);
    if (!auth.ok) expect(auth.reason).toContain(`"${'s'.repeat(16)}"`);
    if (!auth.ok) expect(auth.reason).not.toContain('s'.repeat(17));
  });
});
