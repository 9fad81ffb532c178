import pg, { type Pool } from 'pg';
import { createApiKey } from '../../src/api/auth/api-keys.repository.js';
import type { Role } from '../../src/api/auth/roles.js';
import { Authenticator } from '../../src/api/auth/authenticator.js';

/** An `Authorization` header with a fresh API key of this role, created the way `npm run keys` creates one. */
export async function apiKeyHeader(pool: Pool, role: Role, name = `test-${role}`): Promise<{ authorization: string }> {
  const { key } = await createApiKey(pool, { name, role, createdBy: 'test' });
  return { authorization: `Bearer ${key}` };
}

/**
 * The access dependency of an app whose test calls only public routes (webhooks, probes): its authenticator
 * knows no keys and its pool never connects.
 */
export function unusedAccess(): { authenticator: Authenticator } {
  return { authenticator: new Authenticator({ pool: new pg.Pool({ connectionString: 'postgres://unused.invalid/none' }), adminTokens: [] }) };
}
