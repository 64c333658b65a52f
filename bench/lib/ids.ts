/**
 * Deterministic connection ids for seeded subscribers, shared by the seeder (bench process) and the counting
 * sink (Management API process), so both sides agree on who must receive what without shipping 100,000 ids over IPC.
 */

/**
 * The `index`-th connection id of a family. Shaped like API Gateway's ids (16 characters ending in `=`), so the
 * SDK percent-encodes it in the path exactly as it does on AWS.
 */
export function connectionIdOf(prefix: string, index: number): string {
  return `${prefix}${index.toString(36).padStart(15 - prefix.length, '0')}=`;
}

/** A family of `count` ids: `connectionIdOf(prefix, 0 … count-1)`. */
export interface IdFamily {
  readonly prefix: string;
  readonly count: number;
}
