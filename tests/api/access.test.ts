import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_ROUTE_PREFIXES } from '../../src/api/auth/access.plugin.js';
import { ROLES, type Role } from '../../src/api/auth/roles.js';
import { apiKeyHeader } from '../support/api-auth.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';

/**
 * Who may call what, proven on the running service: every route in Fastify's table either is on the short
 * public list or answers 401 without a credential and 403 with every role below the one it declares.
 */

const JWT_SECRET = 'jwt-secret-for-tests-0123456789abcdef';
const ADMIN_TOKEN = 'admin-token-for-access-tests-0123';
/** Everything reachable without a credential: probes, /metrics, signed webhooks and the API description. */
const PUBLIC_ROUTES = ['/health', '/health/live', '/health/ready', '/health/startup', '/metrics', '/live-data/webhooks/:source'];

let db: TestDatabase;
let service: TestService;
const headers: Partial<Record<Role, { authorization: string }>> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  service = await startTestService(db.url, { JWT_SECRET, JWT_ISSUER: 'vertigo-tests', ADMIN_API_TOKEN: ADMIN_TOKEN, API_RATE_LIMIT_PER_KEY: '0', API_RATE_LIMIT_PER_IP: '0', CORS_ORIGINS: 'https://grafana.example.com' });
  for (const role of ROLES) headers[role] = await apiKeyHeader(db.pool, role);
});
afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

// Replies are checked field by field below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (res: Response): Promise<any> => res.json();

const call = (method: string, path: string, extra: Record<string, string> = {}, body?: unknown) =>
  fetch(`${service.baseUrl}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...extra },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

/** A concrete path for a route pattern: parameters get a well-formed value (authorisation comes before validation anyway). */
const concrete = (url: string) => url.replace(':id', url.startsWith('/live-data/api/keys') ? 'abcdefabcdef' : '1').replace(/:(\w+)/g, 'x');

const jwt = (claims: Record<string, unknown>, options: { secret?: string; expiresIn?: string; issuer?: string } = {}) => {
  const token = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('alice@example.com').setIssuer(options.issuer ?? 'vertigo-tests').setIssuedAt();
  if (options.expiresIn !== 'none') token.setExpirationTime(options.expiresIn ?? '5m');
  return token.sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
};

describe('the route table', () => {
  it('has only the short public list open; every other route needs a credential and its role', async () => {
    const table = service.runtime.app.routeAccess.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
    const open = table.filter((r) => r.access === 'public');
    const openOutsideDocs = [...new Set(open.map((r) => r.url))].filter((u) => !PUBLIC_ROUTE_PREFIXES.some((p) => u.startsWith(p)));
    expect(openOutsideDocs.sort()).toEqual([...PUBLIC_ROUTES].sort());

    const protectedRoutes = table.filter((r) => r.access !== 'public');
    // The API is there: reads, operator actions and admin changes.
    expect(protectedRoutes.length).toBeGreaterThanOrEqual(8);
    for (const needed of ROLES) expect(protectedRoutes.some((r) => r.access === needed)).toBe(true);

    for (const route of protectedRoutes) {
      const path = concrete(route.url);
      const body = route.method === 'GET' || route.method === 'DELETE' ? undefined : {};
      const anonymous = await call(route.method, path, {}, body);
      expect({ route: `${route.method} ${route.url}`, status: anonymous.status }).toEqual({ route: `${route.method} ${route.url}`, status: 401 });
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await json(anonymous)).error.code).toBe('unauthorized');

      for (const held of ROLES.slice(0, ROLES.indexOf(route.access as Role))) {
        const weak = await call(route.method, path, headers[held]!, body);
        expect({ route: `${route.method} ${route.url}`, held, status: weak.status }).toEqual({ route: `${route.method} ${route.url}`, held, status: 403 });
        expect(await json(weak)).toEqual({ error: { code: 'forbidden', message: `${route.method} ${route.url} needs the ${route.access} role; this credential has ${held}` } });
      }
      // The role it declares is enough: whatever comes back, it is not an access refusal.
      const enough = await call(route.method, path, headers[route.access as Role]!, body);
      expect([401, 403]).not.toContain(enough.status);
    }
  });
});

describe('credentials', () => {
  it('accepts JWTs signed with JWT_SECRET that carry sub, exp and a role, and refuses the rest with the reason', async () => {
    const path = '/live-data/api/keys';
    const bearer = async (token: Promise<string> | string) => ({ authorization: `Bearer ${await token}` });
    expect((await call('GET', path, await bearer(jwt({ role: 'admin' })))).status).toBe(200);

    const forbidden = await call('GET', path, await bearer(jwt({ role: 'operator' })));
    expect(forbidden.status).toBe(403);

    const refusals: [Promise<string>, RegExp][] = [
      [jwt({ role: 'admin' }, { expiresIn: '-1m' }), /JWT expired/],
      [jwt({ role: 'admin' }, { secret: 'another-secret-another-secret-0123456' }), /invalid JWT/],
      [jwt({ role: 'admin' }, { issuer: 'someone-else' }), /claim "iss"/],
      [jwt({ role: 'superuser' }), /no valid "role" claim/],
      [jwt({ role: 'admin' }, { expiresIn: 'none' }), /claim "exp"/],
    ];
    for (const [token, message] of refusals) {
      const res = await call('GET', path, await bearer(token));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expect((await json(res)).error.message).toMatch(message);
    }
  });

  it('creates a key once, stores only its hash, and refuses it from the moment it is revoked', async () => {
    const created = await call('POST', '/live-data/api/keys', { authorization: `Bearer ${ADMIN_TOKEN}` }, { name: 'ci', role: 'operator' });
    expect(created.status).toBe(201);
    const { data } = await json(created);
    expect(data).toMatchObject({ name: 'ci', role: 'operator', created_by: 'ADMIN_API_TOKEN', revoked_at: null });
    expect(data.key).toMatch(/^vlk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);

    const stored = await db.pool.query<{ row: string }>('SELECT row_to_json(k)::text AS row FROM api_keys k WHERE id = $1', [data.id]);
    expect(stored.rows[0]!.row).not.toContain(data.key.split('_')[2]);
    const listed = await json(await call('GET', '/live-data/api/keys', headers.admin!));
    expect(JSON.stringify(listed)).not.toContain(data.key.split('_')[2]);
    expect(listed.data.map((k: { id: string }) => k.id)).toContain(data.id);

    const withKey = { authorization: `Bearer ${data.key}` };
    expect((await call('GET', '/live-data/api/sync-status', withKey)).status).not.toBe(401);
    const tampered = { authorization: `Bearer ${data.key.slice(0, -1)}${data.key.endsWith('A') ? 'B' : 'A'}` };
    expect((await json(await call('GET', '/live-data/api/sync-status', tampered))).error.message).toBe('invalid API key');

    const revoked = await call('DELETE', `/live-data/api/keys/${data.id}`, headers.admin!);
    expect(revoked.status).toBe(200);
    expect((await json(revoked)).data.revoked_at).toEqual(expect.any(String));
    const after = await call('GET', '/live-data/api/sync-status', withKey);
    expect(after.status).toBe(401);
    expect((await json(after)).error.message).toBe('API key revoked');
    expect((await call('DELETE', '/live-data/api/keys/000000000000', headers.admin!)).status).toBe(404);
  });
});

describe('headers', () => {
  it('sets security headers everywhere and CORS only for the configured origin', async () => {
    const res = await call('GET', '/health/live', { origin: 'https://grafana.example.com' });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://grafana.example.com');
    const other = await call('GET', '/health/live', { origin: 'https://evil.example.com' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();

    const preflight = await call('OPTIONS', '/live-data/api/live-traces', {
      origin: 'https://grafana.example.com',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization',
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
  });
});

describe('the API description', () => {
  it('is served at /docs with every API route, its role and the bearer scheme', async () => {
    const res = await call('GET', '/docs/json');
    expect(res.status).toBe(200);
    const doc = await json(res);
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    const apiRoutes = service.runtime.app.routeAccess.filter((r) => r.url.startsWith('/live-data/api') && r.method !== 'HEAD');
    for (const route of apiRoutes) {
      const openApiPath = route.url.replace(/:(\w+)/g, '{$1}');
      const operation = doc.paths[openApiPath]?.[route.method.toLowerCase()];
      expect({ route: `${route.method} ${route.url}`, documented: Boolean(operation) }).toEqual({ route: `${route.method} ${route.url}`, documented: true });
      expect(operation.security).toEqual([{ bearer: [] }]);
      expect(operation.description).toContain(`Needs the **${route.access}** role.`);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
    }
    const ui = await call('GET', '/docs/');
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toMatch(/text\/html/);
  });
});
