import { signGripSig, type SharedKey } from '../domain/auth.js';
import type { Clock, GripSigner } from '../domain/ports.js';

/** Tokens live 5 minutes (`DEFAULT_GRIP_SIG_TTL_SECONDS`); re-minting after a minute keeps every token's exp ≥ 4 minutes ahead. */
const REUSE_MS = 60_000;

/**
 * Mints `Grip-Sig` tokens (HS256 `{iss, exp: now + 300}`), reusing one for up to a minute: signing costs a
 * fraction of a millisecond and a WebSocket server signs every request it forwards.
 *
 * @example
 * const signer = new CachingGripSigner({ key: 'changeme', iss: 'pushpin', clock: Date.now });
 * headers['Grip-Sig'] = await signer.sign();
 */
export class CachingGripSigner implements GripSigner {
  private cached: { token: Promise<string>; at: number } | null = null;

  constructor(private readonly options: { readonly key: SharedKey; readonly iss: string; readonly clock: Clock }) {}

  sign(): Promise<string> {
    const now = this.options.clock();
    if (this.cached === null || now - this.cached.at >= REUSE_MS) {
      const token = signGripSig({ key: this.options.key, iss: this.options.iss, nowSeconds: Math.floor(now / 1000) });
      this.cached = { token, at: now };
      // A failed signing must not be cached.
      token.catch(() => {
        this.cached = null;
      });
    }
    return this.cached.token;
  }
}
