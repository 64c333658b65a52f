import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describeAwsError, summarizeAwsError } from './aws-errors.js';

/**
 * A secret could not be read. The message names the secret id and why (the SDK's error name and message, which
 * never contain the value); the SDK error is the `cause`.
 */
export class SecretReadError extends Error {
  override readonly name = 'SecretReadError';
  readonly code = 'SECRET_READ_FAILED';
  constructor(
    readonly secretId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Reads a string secret (the GRIP key, at cold start). Call once per container and keep the value in memory;
 * never log it.
 *
 * @throws SecretReadError naming `secretId` when the call fails (missing secret, no permission, network) or the
 *   secret holds binary data or an empty string instead of text.
 *
 * @example
 * const key = await readSecretString(new SecretsManagerClient({}), process.env.GRIP_KEY_SECRET_ARN!);
 */
export async function readSecretString(client: SecretsManagerClient, secretId: string): Promise<string> {
  let value: string | undefined;
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    value = out.SecretString;
  } catch (e) {
    const info = describeAwsError(e);
    throw new SecretReadError(secretId, `could not read secret ${secretId}: ${summarizeAwsError(info)}`, { cause: e });
  }
  if (value === undefined || value === '') {
    throw new SecretReadError(secretId, `secret ${secretId} has no string value (empty, or binary data)`);
  }
  return value;
}
