/**
 * A success or an expected failure. Expected failures are values, not exceptions: callers branch on `ok`
 * and then on the error's `kind`, which says what went wrong (and, for I/O ports, whether a retry is safe).
 */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export const ok = <T>(value: T): { readonly ok: true; readonly value: T } => ({ ok: true, value });
export const err = <E>(error: E): { readonly ok: false; readonly error: E } => ({ ok: false, error });

/**
 * A bug or a broken invariant: thrown, never returned. Carries a stable `code` for logs and alarms and keeps
 * the original error as `cause`.
 */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Turns anything thrown into an `Error`, so logs always get a name, a message and a stack. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : `non-Error thrown: ${safeStringify(thrown)}`, { cause: thrown });
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
