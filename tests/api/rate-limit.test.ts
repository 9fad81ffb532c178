import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyHeader } from '../support/api-auth.js';
import { createTestDatabase, type TestDatabase, uniquePrefix } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';

/**
 * The API's rate limits hold across replicas: two services over one Redis count the same credential together,
 * answer 429 with Retry-After and the RateLimit headers, and count admin changes against a stricter limit.
 */

let db: TestDatabase;
const replicas: TestService[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const env = { QUEUE_PREFIX: uniquePrefix('rl'), API_RATE_LIMIT_PER_KEY: '6', API_RATE_LIMIT_PER_IP: '40', API_RATE_LIMIT_ADMIN_WRITES: '2' };
  replicas.push(await startTestService(db.url, env), await startTestService(db.url, env));
});
afterAll(async () => {
  for (const r of replicas) await r.stop();
  await db?.drop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (res: Response): Promise<any> => res.json();
const get = (replica: TestService, path: string, headers: Record<string, string>) => fetch(`${replica.baseUrl}${path}`, { headers });

describe('API rate limits', () => {
  it('count one credential across replicas and answer 429 with Retry-After and RateLimit headers', async () => {
    const viewer = await apiKeyHeader(db.pool, 'viewer');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await get(replicas[i % 2]!, '/live-data/api/sync-status', viewer);
      statuses.push(res.status);
      if (res.status === 429) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(res.headers.get('ratelimit-limit')).toBe('6');
        expect(res.headers.get('ratelimit-remaining')).toBe('0');
        expect(await json(res)).toEqual({ error: { code: 'rate_limited', message: expect.stringMatching(/^rate limit of 6 requests per 60 s per credential exceeded/) } });
      } else {
        await res.body?.cancel();
      }
    }
    // Six pass (the sync is off here: 503 after authorisation), then the shared counter says no, on either replica.
    expect(statuses).toEqual([503, 503, 503, 503, 503, 503, 429, 429]);

    // Another key has its own budget.
    const other = await apiKeyHeader(db.pool, 'viewer', 'other');
    expect((await get(replicas[0]!, '/live-data/api/sync-status', other)).status).toBe(503);
  });

  it('limits admin changes more strictly than reads', async () => {
    const admin = await apiKeyHeader(db.pool, 'admin');
    const create = (replica: TestService) =>
      fetch(`${replica.baseUrl}/live-data/api/keys`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'made-in-a-loop', role: 'viewer' }),
      });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await create(replicas[i % 2]!)).status);
    expect(statuses).toEqual([201, 201, 429]);
    // Reads by the same admin are still within their own limit.
    expect((await get(replicas[0]!, '/live-data/api/keys', admin)).status).toBe(200);
    const made = await db.pool.query("SELECT count(*)::int AS n FROM api_keys WHERE name = 'made-in-a-loop'");
    expect(made.rows[0].n).toBe(2);
  });
});
