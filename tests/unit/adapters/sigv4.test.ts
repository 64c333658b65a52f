import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, SourceData } from '@smithy/types';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExecuteApiSigner } from '#src/adapters/sigv4.js';

/** SHA-256 / HMAC in the shape @smithy/signature-v4 takes, for the reference signer. */
class Sha256 implements Checksum {
  private chunks: Uint8Array[] = [];
  constructor(private readonly secret?: SourceData) {}
  update(data: Uint8Array): void {
    this.chunks.push(data);
  }
  digest(): Promise<Uint8Array> {
    const s = this.secret;
    const key =
      s === undefined
        ? null
        : typeof s === 'string'
          ? s
          : ArrayBuffer.isView(s)
            ? new Uint8Array(s.buffer, s.byteOffset, s.byteLength)
            : new Uint8Array(s);
    const h = key === null ? createHash('sha256') : createHmac('sha256', key);
    for (const c of this.chunks) h.update(c);
    return Promise.resolve(new Uint8Array(h.digest()));
  }
  reset(): void {
    this.chunks = [];
  }
}

const when = new Date('2026-11-27T13:10:14.123Z');

async function reference(
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  method: string,
  path: string,
  body: Buffer | null,
) {
  const signer = new SignatureV4({
    service: 'execute-api',
    region: 'eu-west-1',
    credentials,
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: true,
  });
  const headers: Record<string, string> = { host: 'abc123.execute-api.eu-west-1.amazonaws.com' };
  if (body) Object.assign(headers, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
  const signed = await signer.sign(
    { method, protocol: 'https:', hostname: headers['host'] ?? '', path, query: {}, headers, ...(body ? { body } : {}) },
    { signingDate: when },
  );
  return { headers, signed: signed.headers };
}

describe('ExecuteApiSigner', () => {
  it('signs exactly as @smithy/signature-v4 does, for posts and deletes, with and without a session token', async () => {
    const cases = [
      {
        creds: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
        method: 'POST',
        body: Buffer.from('hello'),
      },
      {
        creds: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'IQoJb3JpZ2luX2VjE...token==' },
        method: 'POST',
        body: Buffer.from([0, 255, 1]),
      },
      { creds: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'tok' }, method: 'DELETE', body: null },
    ];
    for (const { creds, method, body } of cases) {
      const path = `/live/@connections/${encodeURIComponent('L0SM9cOFvHcCIhw=')}`;
      const { headers, signed } = await reference(creds, method, path, body);
      const ours = await new ExecuteApiSigner('eu-west-1', creds).sign(method, path, headers, body, when);
      expect(ours['authorization']).toBe(signed['authorization']);
      expect(ours['x-amz-date']).toBe(signed['x-amz-date']);
      expect(ours['x-amz-security-token']).toBe(signed['x-amz-security-token']);
    }
  });

  it('agrees with @smithy/signature-v4 for any connection id and body', async () => {
    const creds = { accessKeyId: 'AKID', secretAccessKey: 'SECRET', sessionToken: 'TOKEN' };
    const signer = new ExecuteApiSigner('eu-west-1', creds);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('.', '..', '...', 'a b', '=+/')),
        fc.uint8Array({ maxLength: 64 }),
        async (id, bytes) => {
          const path = `/live/@connections/${encodeURIComponent(id)}`;
          const body = Buffer.from(bytes);
          const { headers, signed } = await reference(creds, 'POST', path, body);
          expect((await signer.sign('POST', path, headers, body, when))['authorization']).toBe(signed['authorization']);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('picks up rotated credentials from a provider (new key, new signature)', async () => {
    let current = { accessKeyId: 'A1', secretAccessKey: 'S1' };
    const signer = new ExecuteApiSigner('eu-west-1', () => Promise.resolve(current));
    // the reference signer's headers, so the signatures are comparable
    const { headers } = await reference(current, 'DELETE', '/live/@connections/x', null);
    const first = await signer.sign('DELETE', '/live/@connections/x', headers, null, when);
    current = { accessKeyId: 'A2', secretAccessKey: 'S2' };
    const second = await signer.sign('DELETE', '/live/@connections/x', headers, null, when);
    expect(first['authorization']).toContain('Credential=A1/');
    expect(second['authorization']).toContain('Credential=A2/');
    const expected = (await reference(current, 'DELETE', '/live/@connections/x', null)).signed['authorization'];
    expect(expected).not.toBe(first['authorization']);
    // signed with S2's key, not a signing key cached for S1
    expect(second['authorization']).toBe(expected);
  });
});
