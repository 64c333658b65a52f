import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSecretString, SecretReadError } from '#src/adapters/secrets.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#src/local/services.js';

const SECRET_VALUE = 'super-secret-grip-key';

/** A stand-in Secrets Manager speaking its JSON protocol (`X-Amz-Target: secretsmanager.GetSecretValue`). */
function secretsManager(): Server {
  const server = createServer((req, res) => {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: string };
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      };
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') return reply(400, { __type: 'UnknownOperationException' });
      switch (input.SecretId) {
        case 'grip-key':
          return reply(200, { ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:grip-key', Name: 'grip-key', SecretString: SECRET_VALUE });
        case 'binary':
          return reply(200, { Name: 'binary', SecretBinary: Buffer.from([1, 2, 3]).toString('base64') });
        case 'denied':
          return reply(400, { __type: 'AccessDeniedException', message: 'User is not authorized' });
        default:
          return reply(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
      }
    });
  });
  server.on('connection', (s: Socket) => s.on('error', () => undefined));
  return server;
}

describe('readSecretString against a Secrets Manager stand-in', () => {
  let server: Server;
  let client: SecretsManagerClient;

  beforeAll(async () => {
    server = secretsManager();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    client = new SecretsManagerClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('returns the secret string', async () => {
    expect(await readSecretString(client, 'grip-key')).toBe(SECRET_VALUE);
  });

  it('throws a SecretReadError naming the secret id for a missing secret or denied access', async () => {
    for (const [id, why] of [
      ['missing', /ResourceNotFoundException/],
      ['denied', /AccessDeniedException/],
    ] as const) {
      const thrown = await readSecretString(client, id).catch((e: unknown) => e);
      expect(thrown).toBeInstanceOf(SecretReadError);
      expect(thrown).toMatchObject({ code: 'SECRET_READ_FAILED', secretId: id, message: expect.stringContaining(id) });
      expect(thrown).toMatchObject({ message: expect.stringMatching(why) });
    }
  });

  it('refuses a binary secret without echoing it', async () => {
    const thrown = await readSecretString(client, 'binary').catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(SecretReadError);
    expect(thrown).toMatchObject({ message: expect.stringMatching(/binary/) });
    expect(String(thrown)).not.toContain('AQID');
  });
});
