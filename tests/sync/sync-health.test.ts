import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';
import { waitFor } from '../support/wait-for.js';
import { customTrace, sendSigned } from '../support/webhook-client.js';

/**
 * Firestore sync switched on where no Google credentials exist: the sync says "unavailable" in /health, with
 * the reason, and the service stays ready and keeps ingesting webhooks.
 */

let db: TestDatabase;
let service: TestService;
const saved = { ...process.env };

beforeAll(async () => {
  // Google's client reads these from the process environment: no key file, no metadata server to ask.
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
  delete process.env.FIRESTORE_EMULATOR_HOST;
  process.env.METADATA_SERVER_DETECTION = 'none';
  process.env.HOME = '/nonexistent-home-for-gcloud';
  db = await createTestDatabase();
  service = await startTestService(db.url, { ENABLE_FIRESTORE_SYNC: 'true', GOOGLE_CLOUD_PROJECT: 'vertigo-no-credentials' });
});
afterAll(async () => {
  await service?.stop();
  await db?.drop();
  process.env = saved;
});

describe('Firestore sync without credentials', () => {
  it('reports the sync unavailable while webhooks keep flowing', async () => {
    const health = await waitFor(async () => {
      const body = (await (await fetch(`${service.baseUrl}/health`)).json()) as { status: string; components: { name: string; status: string; message?: string }[] };
      return body.components.find((c) => c.name === 'firestore-sync')?.status === 'unavailable' ? body : undefined;
    }, 30_000, 200);
    expect(health.status).toBe('degraded');
    expect(health.components.find((c) => c.name === 'firestore-sync')).toMatchObject({ message: expect.stringMatching(/unauthenticated: .*credentials/i) });
    expect((await fetch(`${service.baseUrl}/health/ready`)).status).toBe(200);

    expect((await sendSigned(service.baseUrl, 'custom', customTrace('no-creds-1'))).status).toBe(202);
    await waitFor(async () => (await db.pool.query(`SELECT 1 FROM live_traces WHERE external_id = 'no-creds-1'`)).rowCount === 1);
  });
});
