import { describe, expect, it } from 'vitest';
import { HeaderSealer } from '#src/adapters/header-sealing.js';

describe('HeaderSealer', () => {
  const sealer = new HeaderSealer('the-grip-key-0123456789');

  it('seals credential headers (randomized) and opens them again; other headers stay clear', () => {
    const sealed = sealer.sealHeaders({ cookie: 'sid=s3cret', authorization: 'Bearer t0ken', 'x-app': 'v1' });
    expect(sealed['x-app']).toBe('v1');
    expect(JSON.stringify(sealed)).not.toMatch(/s3cret|t0ken/);
    expect(sealer.seal('sid=s3cret')).not.toBe(sealer.seal('sid=s3cret'));
    expect(sealer.openHeaders(sealed)).toEqual({ cookie: 'sid=s3cret', authorization: 'Bearer t0ken', 'x-app': 'v1' });
  });

  it('passes values from before sealing through, and drops what another key sealed or was tampered with', () => {
    expect(sealer.openHeaders({ cookie: 'sid=old' })).toEqual({ cookie: 'sid=old' });
    const other = new HeaderSealer('another-key-0123456789');
    expect(sealer.openHeaders({ cookie: other.seal('sid=1'), 'x-app': 'v1' })).toEqual({ 'x-app': 'v1' });
    const sealed = sealer.seal('sid=1');
    const tampered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(sealer.open(tampered)).toBeNull();
    expect(sealer.open('sealed:v1:AAAA')).toBeNull();
  });
});
