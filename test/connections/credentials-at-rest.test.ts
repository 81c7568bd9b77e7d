/**
 * Credentials at rest: AES-256-GCM ciphertexts naming their key, tampering detected, and a key
 * rotation (new key first, re-encrypt, drop the old key) that leaves every connection readable.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createConnections } from '../../host/connections/connections.ts';
import { createCipher, generateEncryptionKey, keyId, parseKeyring } from '../../host/crypto/cipher.ts';
import { createEnvironments } from '../../host/tenancy/environments.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
beforeAll(async () => { db = await createTestDatabase(); });
afterAll(async () => { await db?.drop(); });

describe('cipher', () => {
  test('round-trips, names its key, and refuses tampered or foreign ciphertexts', () => {
    const key = generateEncryptionKey();
    const cipher = createCipher(parseKeyring(key));
    const sealed = cipher.encrypt('{"token":"s3cret"}');
    expect(sealed).not.toContain('s3cret');
    expect(cipher.keyIdOf(sealed)).toBe(keyId(Buffer.from(key, 'base64')));
    expect(cipher.decrypt(sealed)).toBe('{"token":"s3cret"}');
    const parts = sealed.split(':');
    parts[4] = Buffer.from('tampered').toString('base64');
    expect(() => cipher.decrypt(parts.join(':'))).toThrow(/failed authentication/);
    expect(() => createCipher(parseKeyring(generateEncryptionKey())).decrypt(sealed)).toThrow(/not in the keyring/);
    expect(() => parseKeyring(Buffer.alloc(16).toString('base64'))).toThrow(/32/);
  });
});

describe('connections at rest', () => {
  test('plaintext never hits the table; rotation re-encrypts every row under the new key', async () => {
    const env = await createEnvironments(db.sql).ensure('rest');
    const oldKey = generateEncryptionKey();
    const newKey = generateEncryptionKey();
    const before = createConnections(db.sql, createCipher(parseKeyring(oldKey)));
    for (let i = 0; i < 3; i++) {
      await before.create(env.id, { connection_id: `c${i}`, provider: 'p', credentials: { type: 'basic', username: 'u', password: `pw-${i}-secret` }, connection_config: {}, metadata: null });
    }
    // A row from before encryption existed (plaintext jsonb): start-up moves it too.
    await db.sql`insert into connections (environment_id, connection_id, provider, credentials) values (${env.id}, 'legacy', 'p', ${JSON.stringify({ type: 'bearer', token: 'legacy-secret' })}::text::jsonb)`;
    const dump = async () => JSON.stringify(await db.sql`select * from connections`);
    expect(await dump()).not.toMatch(/pw-\d-secret/);

    const during = createConnections(db.sql, createCipher(parseKeyring(`${newKey},${oldKey}`)));
    expect(await during.reencrypt()).toBe(4);
    expect(await during.reencrypt()).toBe(0);
    const keyIds = await db.sql<{ credentials_key_id: string }[]>`select distinct credentials_key_id from connections`;
    expect(keyIds.map((r) => r.credentials_key_id)).toEqual([keyId(Buffer.from(newKey, 'base64'))]);
    expect(await dump()).not.toContain('legacy-secret');

    const after = createConnections(db.sql, createCipher(parseKeyring(newKey)));
    const rows = await after.list(env.id);
    const creds = await Promise.all(rows.map((r) => after.credentials(r.id)));
    expect(creds).toContainEqual({ type: 'bearer', token: 'legacy-secret' });
    expect(creds).toContainEqual({ type: 'basic', username: 'u', password: 'pw-2-secret' });
  });
});
