/**
 * Credentials at rest: AES-256-GCM under a keyring. The first key encrypts; every key decrypts,
 * so a deployer rotates by putting a new key first, re-encrypting (`reencrypt` in connections),
 * then dropping the old key. Each ciphertext names its key by an id derived from the key itself.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export interface Cipher {
  /** Id of the key new ciphertexts use. */
  readonly currentKeyId: string;
  encrypt(plaintext: string): string;
  decrypt(ciphertext: string): string;
  /** The key id a ciphertext was written with (null when it is not ours). */
  keyIdOf(ciphertext: string): string | null;
}

export class CipherError extends Error {
  readonly code = 'DECRYPT_FAILED';
}

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** Parses "base64key[,base64key…]": 32-byte keys, the first one current. */
export function parseKeyring(value: string): Buffer[] {
  const keys = value.split(',').map((part) => part.trim()).filter(Boolean).map((part) => Buffer.from(part, 'base64'));
  if (keys.length === 0) throw new Error('the encryption keyring is empty');
  for (const key of keys) if (key.length !== 32) throw new Error(`an encryption key decodes to ${key.length} bytes; AES-256 needs 32 (generate one with \`openssl rand -base64 32\`)`);
  return keys;
}

export function generateEncryptionKey(): string {
  return randomBytes(32).toString('base64');
}

export function createCipher(keys: Buffer[]): Cipher {
  const [current] = keys;
  if (!current) throw new Error('createCipher needs at least one key');
  const byId = new Map(keys.map((k) => [keyId(k), k]));
  const currentKeyId = keyId(current);

  function split(ciphertext: string) {
    const [version, id, iv, tag, data] = ciphertext.split(':');
    if (version !== VERSION || !id || !iv || !tag || data === undefined) return null;
    return { id, iv, tag, data };
  }

  return {
    currentKeyId,
    encrypt(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, currentKeyId, iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(':');
    },
    decrypt(ciphertext) {
      const parts = split(ciphertext);
      if (!parts) throw new CipherError('not a Ferry ciphertext');
      const key = byId.get(parts.id);
      if (!key) throw new CipherError(`credentials were encrypted with key ${parts.id}, which is not in the keyring (FERRY_ENCRYPTION_KEY)`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts.iv, 'base64'));
        decipher.setAuthTag(Buffer.from(parts.tag, 'base64'));
        return Buffer.concat([decipher.update(Buffer.from(parts.data, 'base64')), decipher.final()]).toString('utf8');
      } catch {
        throw new CipherError(`credentials under key ${parts.id} failed authentication (tampered or wrong key)`);
      }
    },
    keyIdOf: (ciphertext) => split(ciphertext)?.id ?? null,
  };
}
