import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys: `vlk_<key id>_<secret>`. The key id (12 hex characters) is stored in clear to find the row; the
 * secret (32 random bytes, base64url) is stored only as its SHA-256, so a leaked table does not leak keys. A
 * key of 256 random bits needs no slow hash: nothing about it can be guessed offline.
 */
const KEY_PATTERN = /^vlk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface GeneratedKey {
  keyId: string;
  /** The whole key: shown once, never stored. */
  key: string;
  secretHash: Buffer;
}

export function generateApiKey(): GeneratedKey {
  const keyId = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { keyId, key: `vlk_${keyId}_${secret}`, secretHash: hashSecret(secret) };
}

/** The key id and secret of a well-formed key; undefined for anything else (then no lookup is made). */
export function parseApiKey(token: string): { keyId: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(token);
  return match ? { keyId: match[1]!, secret: match[2]! } : undefined;
}

export const hashSecret = (secret: string): Buffer => createHash('sha256').update(secret).digest();

export const secretMatches = (secret: string, storedHash: Buffer): boolean =>
  storedHash.length === 32 && timingSafeEqual(hashSecret(secret), storedHash);
