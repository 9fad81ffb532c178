import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/child-service.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';

/** `npm run keys`: the first key of a fresh install comes from a shell, and works against the running service. */

const run = promisify(execFile);
let db: TestDatabase;
let service: TestService;

beforeAll(async () => {
  db = await createTestDatabase();
  service = await startTestService(db.url);
});
afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

const keys = async (...args: string[]) => {
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/keys.ts', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
    });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe('npm run keys', () => {
  it('creates a key shown once, lists it without its secret, and revokes it', async () => {
    const created = await keys('create', '--role', 'operator', '--name', 'ci');
    expect(created.code).toBe(0);
    const key = created.stdout.trim().split('\n').at(-1)!;
    expect(key).toMatch(/^vlk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const id = key.split('_')[1]!;

    const auth = { authorization: `Bearer ${key}` };
    // The sync is off here: 503 after the key was accepted; an operator route answers the same way.
    expect((await fetch(`${service.baseUrl}/live-data/api/sync-status`, { headers: auth })).status).toBe(503);
    expect((await fetch(`${service.baseUrl}/live-data/api/keys`, { headers: auth })).status).toBe(403);

    const listed = await keys('list');
    expect(listed.stdout).toMatch(new RegExp(`^${id}  operator  ci  created \\S+  last used \\S+$`, 'm'));
    expect(listed.stdout).not.toContain(key.split('_')[2]);

    expect((await keys('revoke', id)).stdout).toContain(`revoked key ${id} "ci" (operator)`);
    expect((await fetch(`${service.baseUrl}/live-data/api/sync-status`, { headers: auth })).status).toBe(401);
    expect((await keys('list')).stdout).toBe('no keys\n');
    expect((await keys('list', '--all')).stdout).toContain('REVOKED');
  });

  it('refuses bad usage with exit code 2 and says what is missing', async () => {
    const bad = await keys('create', '--role', 'root', '--name', 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('create needs --role (viewer, operator, admin) and --name');
    expect((await keys('revoke')).code).toBe(2);
    expect((await keys('delete-everything')).stderr).toContain('unknown command "delete-everything"');
  });
});
