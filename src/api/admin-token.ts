import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError, serviceUnavailable } from '../http/errors.js';

/**
 * Bearer-token access to the operations API until API keys and roles exist: the tokens come from
 * ADMIN_API_TOKEN (or ADMIN_API_TOKEN_FILE, comma-separated while one is rotated) and are compared in
 * constant time. Without any token configured the routes answer 503: they are never open by accident.
 */
export function adminTokenGuard(tokens: readonly string[]): (request: FastifyRequest) => Promise<void> {
  const digests = tokens.map(digest);
  return async (request) => {
    if (digests.length === 0) throw serviceUnavailable('api_disabled', 'the operations API is disabled: set ADMIN_API_TOKEN');
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new HttpError(401, 'unauthorized', 'missing bearer token (Authorization: Bearer <token>)', { 'www-authenticate': 'Bearer' });
    const given = digest(match[1]!);
    // Every configured token is compared, so the time taken does not say which one nearly matched.
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    if (!ok) throw new HttpError(401, 'unauthorized', 'invalid bearer token', { 'www-authenticate': 'Bearer error="invalid_token"' });
  };
}

const digest = (token: string) => createHash('sha256').update(token).digest();
