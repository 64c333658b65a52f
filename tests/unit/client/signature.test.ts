import { describe, expect, it } from 'vitest';
import { GripUsageError } from '#src/client/errors.js';
import { verifyGripSig } from '#src/client/signature.js';
import { signGripSig } from '#src/domain/auth.js';

const NOW_MS = 1_700_000_000_000;
const now = () => NOW_MS;

function withSig(sig: string | null): Request {
  return new Request('http://backend.test/', { method: 'POST', headers: sig === null ? {} : { 'Grip-Sig': sig } });
}

describe('verifyGripSig', () => {
  it('accepts a token signed with the key, and returns its claims', async () => {
    const sig = await signGripSig({ key: 'changeme', iss: 'pushpin', nowSeconds: NOW_MS / 1000 });
    expect(await verifyGripSig(withSig(sig), { key: 'changeme', now })).toEqual({
      signed: true,
      claims: { iss: 'pushpin', exp: NOW_MS / 1000 + 300 },
    });
    expect((await verifyGripSig(withSig(sig), { key: 'changeme', iss: 'pushpin', now })).signed).toBe(true);
  });

  it('decodes base64: keys the way the server does', async () => {
    const sig = await signGripSig({ key: new Uint8Array([1, 2, 3]), iss: 'x', nowSeconds: NOW_MS / 1000 });
    expect((await verifyGripSig(withSig(sig), { key: 'base64:AQID', now })).signed).toBe(true);
  });

  it('says why a request is not signed', async () => {
    const sig = await signGripSig({ key: 'changeme', iss: 'pushpin', nowSeconds: NOW_MS / 1000 });
    expect(await verifyGripSig(withSig(null), { key: 'changeme', now })).toEqual({ signed: false, reason: 'missing' });
    expect(await verifyGripSig(withSig('not-a-jwt'), { key: 'changeme', now })).toEqual({ signed: false, reason: 'malformed' });
    expect(await verifyGripSig(withSig(sig), { key: 'other', now })).toEqual({ signed: false, reason: 'bad-signature' });
    expect(await verifyGripSig(withSig(sig), { key: 'changeme', iss: 'someone-else', now })).toEqual({
      signed: false,
      reason: 'wrong-issuer',
    });
    expect(await verifyGripSig(withSig(sig), { key: 'changeme', now: () => NOW_MS + 3601_000 })).toEqual({
      signed: false,
      reason: 'expired',
    });
  });

  it('throws a usage error for an unusable key, even without a header', async () => {
    await expect(verifyGripSig(withSig(null), { key: '' })).rejects.toBeInstanceOf(GripUsageError);
    await expect(verifyGripSig(withSig(null), { key: 'base64:!!' })).rejects.toMatchObject({ code: 'invalid-config' });
  });
});
