import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { type ChildService, startChildService } from '../support/child-service.js';
import { createTestDatabase, type TestDatabase, uniquePrefix } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';
import { waitFor } from '../support/wait-for.js';
import { signedHeaders } from '../support/webhook-client.js';
import { cleanUp, duplicatedTraces, probe, queueCounts, sendTraces, sleep, traceEvent, traceIds } from './fault-helpers.js';
import { deleteKeys } from '../support/redis-keys.js';

/**
 * SIGTERM under load: readiness turns 503 at once while liveness stays 200, requests keep being answered
 * during the shutdown delay, the process exits 0 in time, and every event answered 202 is stored exactly once
 * (what was still queued at exit is stored by the next worker).
 *
 * Besides the load, one slow sender uploads its body across the moment the server stops listening: its
 * request is in flight when the HTTP server closes, must still be answered 202, and its keep-alive connection
 * must not hold the shutdown up.
 */

const SHUTDOWN_DELAY_MS = 1000;
const SHUTDOWN_TIMEOUT_MS = 8000;
const SENDERS = 20;
/** Hard bound on the load loop, whatever happens to the child. */
const LOAD_LIMIT_MS = 15_000;

describe('graceful shutdown under load', () => {
  const redisUrl = inject('redisUrl');
  const queuePrefix = uniquePrefix('shutdown');
  let db: TestDatabase | undefined;
  let child: ChildService | undefined;
  let drainer: TestService | undefined;
  const slowAgent = new Agent({ keepAlive: true, maxSockets: 1 });

  beforeAll(async () => {
    db = await createTestDatabase();
    child = await startChildService({
      databaseUrl: db.url,
      redisUrl,
      queuePrefix,
      role: 'all',
      env: {
        SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
        WEBHOOK_RATE_LIMIT_MAX: '1000000',
      },
    });
  });

  afterAll(async () => {
    await cleanUp(
      () => slowAgent.destroy(),
      () => child?.stop(2000),
      () => drainer?.stop(),
      () => deleteKeys(redisUrl, queuePrefix),
      () => db?.drop(),
    );
  });

  it('stops taking traffic, exits 0 and loses no acknowledged event', async () => {
    onTestFailed(() => console.error(child?.output()));
    const service = child!;
    const acknowledged = new Set<string>();
    const otherReplies = new Map<number, number>();
    const connectionErrors: string[] = [];
    let sigtermAt = 0;
    let acceptedAfterSigterm = 0;
    const loadStarted = Date.now();

    const sender = async (n: number) => {
      for (let i = 0; Date.now() - loadStarted < LOAD_LIMIT_MS; i++) {
        const id = `gs-${n}-${i}`;
        try {
          const reply = await sendTraces(service.baseUrl, [id], 5000);
          if (reply.status === 202) {
            acknowledged.add(id);
            if (sigtermAt > 0) acceptedAfterSigterm++;
          } else {
            otherReplies.set(reply.status, (otherReplies.get(reply.status) ?? 0) + 1);
            // 503 while the server closes: the client would retry elsewhere; don't spin.
            await sleep(10);
          }
        } catch (err) {
          // The server no longer takes connections: this sender is done.
          connectionErrors.push(String((err as Error).cause ?? err));
          return;
        }
      }
    };
    const load = Promise.all(Array.from({ length: SENDERS }, (_, n) => sender(n)));

    await sleep(1000);
    expect(connectionErrors).toEqual([]);
    const beforeSigterm = acknowledged.size;
    expect(beforeSigterm).toBeGreaterThan(0);
    const slow = slowUpload(service.port, slowAgent, 'gs-slow');
    sigtermAt = Date.now();
    expect(service.kill('SIGTERM')).toBe(true);

    // During the shutdown delay: not ready (load balancers stop sending), but alive (no restart).
    const ready = await waitFor(async () => {
      const r = await probe(service.baseUrl, '/health/ready', 500);
      return r.status === 503 ? r : undefined;
    }, SHUTDOWN_DELAY_MS - 200, 20);
    expect(Date.now() - sigtermAt).toBeLessThan(SHUTDOWN_DELAY_MS);
    expect(ready!.body).toEqual({ status: 'not_ready', reason: 'shutting down' });
    const live = await probe(service.baseUrl, '/health/live', 500);
    expect(live.status).toBe(200);
    expect(Date.now() - sigtermAt).toBeLessThan(SHUTDOWN_DELAY_MS);

    // The slow sender finishes its body once the HTTP server has begun closing: still answered 202.
    await sleep(SHUTDOWN_DELAY_MS + 300 - (Date.now() - sigtermAt));
    slow.finish();
    const slowReply = await slow.reply;
    expect(slowReply.status, JSON.stringify(slowReply)).toBe(202);
    acknowledged.add('gs-slow');

    // Exit 0 within the shutdown timeout.
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      service.exited,
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), SHUTDOWN_TIMEOUT_MS + 5000);
      }),
    ]);
    clearTimeout(timer);
    expect(exit).toEqual({ code: 0, signal: null });
    const exitedAfterMs = Date.now() - sigtermAt;
    expect(exitedAfterMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);

    // The senders run until the server stops taking connections.
    await load;
    expect(Date.now() - loadStarted).toBeLessThan(LOAD_LIMIT_MS);
    expect(connectionErrors).toHaveLength(SENDERS);
    // Requests kept being accepted during the shutdown delay.
    expect(acceptedAfterSigterm).toBeGreaterThan(0);
    // Any reply other than 202 is the 503 of a closing server, never an error.
    expect([...otherReplies.keys()].filter((s) => s !== 503)).toEqual([]);

    // A worker on the same queue stores what was still queued at exit.
    drainer = await startTestService(db!.url, { ROLE: 'worker', QUEUE_PREFIX: queuePrefix });
    const pool = db!.pool;
    await waitFor(async () => {
      const c = await queueCounts(redisUrl, queuePrefix);
      return c.waiting === 0 && c.active === 0 && c.delayed === 0 && c.prioritized === 0;
    }, 20_000, 100);
    await waitFor(async () => (await traceIds(pool)).length >= acknowledged.size, 10_000, 100);

    const stored = new Set(await traceIds(pool));
    const lost = [...acknowledged].filter((id) => !stored.has(id));
    expect(lost).toEqual([]);
    expect(await duplicatedTraces(pool)).toEqual([]);
    // Only events that were answered can be stored: a 503 one may have been queued (its sender retries it).
    expect(stored.size).toBeGreaterThanOrEqual(acknowledged.size);
    expect((await queueCounts(redisUrl, queuePrefix)).failed).toBe(0);
    console.info(
      `graceful-shutdown: ${acknowledged.size} events acknowledged (${beforeSigterm} before SIGTERM, ${acceptedAfterSigterm} after), ` +
        `other replies ${JSON.stringify(Object.fromEntries(otherReplies))}, exited ${exitedAfterMs} ms after SIGTERM, ` +
        `${stored.size} traces stored; the slow sender's reply had connection: ${slowReply.connection}`,
    );
  });
});

/**
 * Sends the headers and the first bytes of a signed single-event webhook at once, and the rest only when
 * `finish()` is called, on a keep-alive connection.
 */
function slowUpload(port: number, agent: Agent, id: string) {
  const body = JSON.stringify(traceEvent(id));
  const req = request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/live-data/webhooks/custom',
    agent,
    headers: { ...signedHeaders('custom', body), 'content-length': String(Buffer.byteLength(body)) },
  });
  const reply = new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }));
      res.on('error', reject);
    });
  });
  // Awaited later; a failure before then (the test already failing) must not count as unhandled.
  reply.catch(() => undefined);
  req.flushHeaders();
  req.write(body.slice(0, 16));
  return { reply, finish: () => req.end(body.slice(16)) };
}
