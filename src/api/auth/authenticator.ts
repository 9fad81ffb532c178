import { createHash, timingSafeEqual } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { Pool } from 'pg';
import { HttpError } from '../../http/errors.js';
import { parseApiKey, secretMatches } from './api-key.js';
import { findApiKey, touchApiKey } from './api-keys.repository.js';
import { isRole, type Role } from './roles.js';

/** Who is calling: the subject of a verified credential and the role it carries. */
export interface Principal {
  kind: 'api-key' | 'jwt' | 'admin-token';
  /** Stable per credential: the rate limit per key counts on it. */
  id: string;
  name: string;
  role: Role;
}

export interface AuthenticatorOptions {
  pool: Pool;
  /** HS256 secret of JWT bearer tokens; without it, JWTs are refused. */
  jwt?: { secret: string; issuer?: string; audience?: string };
  /** Static admin tokens (ADMIN_API_TOKEN): for the first key, before any exists, and break-glass. */
  adminTokens: readonly string[];
  /** Called when recording a key's use fails (best effort; never fails the request). */
  onTouchError?: (err: Error) => void;
}

const unauthorized = (message: string, error?: 'invalid_token') =>
  new HttpError(401, 'unauthorized', message, { 'www-authenticate': error ? `Bearer error="${error}"` : 'Bearer' });

const digest = (token: string) => createHash('sha256').update(token).digest();

/**
 * Turns an `Authorization: Bearer <credential>` header into a Principal, or throws 401. A credential is an API
 * key (`vlk_…`, looked up by its id, secret compared by hash), a JWT (three dot-separated parts, HS256, with
 * `sub`, `exp` and a `role` claim), or one of the static admin tokens.
 */
export class Authenticator {
  private readonly adminDigests: Buffer[];
  private readonly jwtKey: Uint8Array | undefined;

  constructor(private readonly options: AuthenticatorOptions) {
    this.adminDigests = options.adminTokens.map(digest);
    this.jwtKey = options.jwt ? new TextEncoder().encode(options.jwt.secret) : undefined;
  }

  async authenticate(header: string | undefined): Promise<Principal> {
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw unauthorized('missing bearer credential (Authorization: Bearer <API key or JWT>)');
    const token = match[1]!;
    if (token.startsWith('vlk_')) return this.apiKey(token);
    if (token.split('.').length === 3) return this.jwt(token);
    if (this.isAdminToken(token)) return { kind: 'admin-token', id: 'admin-token', name: 'ADMIN_API_TOKEN', role: 'admin' };
    throw unauthorized('invalid bearer credential', 'invalid_token');
  }

  private async apiKey(token: string): Promise<Principal> {
    const parsed = parseApiKey(token);
    if (!parsed) throw unauthorized('malformed API key', 'invalid_token');
    const stored = await findApiKey(this.options.pool, parsed.keyId);
    // The same answer whether the id is unknown or the secret wrong: nothing to learn about which keys exist.
    if (!stored || !secretMatches(parsed.secret, stored.secret_hash)) throw unauthorized('invalid API key', 'invalid_token');
    if (stored.revoked_at) throw unauthorized('API key revoked', 'invalid_token');
    // Use is recorded at most once a minute: most requests cost the lookup alone, not a write too.
    if (!stored.last_used_at || Date.now() - stored.last_used_at.getTime() > 60_000) {
      touchApiKey(this.options.pool, stored.id).catch((err: Error) => this.options.onTouchError?.(err));
    }
    return { kind: 'api-key', id: `key:${stored.id}`, name: stored.name, role: stored.role };
  }

  private async jwt(token: string): Promise<Principal> {
    if (!this.jwtKey) throw unauthorized('JWT bearer tokens are not accepted here (JWT_SECRET is not set)', 'invalid_token');
    const jwtOptions = this.options.jwt!;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.jwtKey, {
        algorithms: ['HS256'],
        requiredClaims: ['sub', 'exp'],
        ...(jwtOptions.issuer ? { issuer: jwtOptions.issuer } : {}),
        ...(jwtOptions.audience ? { audience: jwtOptions.audience } : {}),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthorized('JWT expired', 'invalid_token');
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw unauthorized(`JWT claim "${err.claim}" is not acceptable: ${err.reason}`, 'invalid_token');
      throw unauthorized('invalid JWT', 'invalid_token');
    }
    if (!isRole(payload.role)) throw unauthorized('JWT has no valid "role" claim (viewer, operator or admin)', 'invalid_token');
    return { kind: 'jwt', id: `jwt:${payload.sub}`, name: String(payload.sub), role: payload.role };
  }

  private isAdminToken(token: string): boolean {
    const given = digest(token);
    // Every configured token is compared, so the time taken does not say which one nearly matched.
    let ok = false;
    for (const d of this.adminDigests) ok = timingSafeEqual(d, given) || ok;
    return ok;
  }
}
