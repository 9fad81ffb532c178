import type { Pool } from 'pg';
import { generateApiKey } from './api-key.js';
import type { Role } from './roles.js';

/** The `api_keys` table: keys are created (the whole key returned once), listed without secrets, revoked. */

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  created_at: Date;
  created_by: string | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface StoredKey extends ApiKeyRecord {
  secret_hash: Buffer;
}

const COLUMNS = 'id, name, role, created_at, created_by, last_used_at, revoked_at';

export async function createApiKey(
  pool: Pool,
  input: { name: string; role: Role; createdBy?: string | null },
): Promise<{ record: ApiKeyRecord; key: string }> {
  const generated = generateApiKey();
  const { rows } = await pool.query<ApiKeyRecord>(
    `INSERT INTO api_keys (id, name, role, secret_hash, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [generated.keyId, input.name, input.role, generated.secretHash, input.createdBy ?? null],
  );
  return { record: rows[0]!, key: generated.key };
}

export async function listApiKeys(pool: Pool, options: { includeRevoked?: boolean } = {}): Promise<ApiKeyRecord[]> {
  const { rows } = await pool.query<ApiKeyRecord>(
    `SELECT ${COLUMNS} FROM api_keys ${options.includeRevoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY created_at, id`,
  );
  return rows;
}

/** Revokes a key; returns it, or undefined when there is no such key. Revoking twice keeps the first time. */
export async function revokeApiKey(pool: Pool, id: string): Promise<ApiKeyRecord | undefined> {
  const { rows } = await pool.query<ApiKeyRecord>(
    `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING ${COLUMNS}`,
    [id],
  );
  return rows[0];
}

export async function findApiKey(pool: Pool, id: string): Promise<StoredKey | undefined> {
  const { rows } = await pool.query<StoredKey>(`SELECT ${COLUMNS}, secret_hash FROM api_keys WHERE id = $1`, [id]);
  return rows[0];
}

/** Records use at most once a minute per key: a request does not cost a write. */
export async function touchApiKey(pool: Pool, id: string): Promise<void> {
  await pool.query(
    `UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
    [id],
  );
}
