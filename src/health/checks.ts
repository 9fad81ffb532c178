import type { Redis } from 'ioredis';
import type { Pool } from 'pg';

/** `unavailable`: an optional feature that cannot work here (e.g. Firestore sync without credentials). */
export type ComponentStatus = 'ok' | 'degraded' | 'down' | 'unavailable';

export interface ComponentHealth {
  name: string;
  status: ComponentStatus;
  response_time_ms: number;
  message?: string;
}

/** One dependency the probes look at. `critical` ones decide readiness; the others only show in /health. */
export interface HealthCheck {
  name: string;
  critical: boolean;
  check(): Promise<{ status: ComponentStatus; message?: string }>;
}

export async function runCheck(check: HealthCheck, timeoutMs: number): Promise<ComponentHealth> {
  const started = performance.now();
  try {
    const result = await withTimeout(check.check(), timeoutMs);
    return { name: check.name, ...result, response_time_ms: elapsed(started) };
  } catch (err) {
    return { name: check.name, status: 'down', message: (err as Error).message, response_time_ms: elapsed(started) };
  }
}

/** The promise's outcome, or a rejection `no answer within <ms> ms`: a dependency that hangs must not hang a probe. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const elapsed = (since: number) => Math.round((performance.now() - since) * 100) / 100;

export const postgresCheck = (pool: Pool): HealthCheck => ({
  name: 'postgres',
  critical: true,
  async check() {
    await pool.query('SELECT 1');
    return { status: 'ok' };
  },
});

export const redisCheck = (redis: Redis): HealthCheck => ({
  name: 'redis',
  critical: true,
  async check() {
    const reply = await redis.ping();
    return reply === 'PONG' ? { status: 'ok' } : { status: 'down', message: `unexpected reply ${reply}` };
  },
});

/** The persist worker: running and connected, or why not. Not critical: the API keeps accepting events. */
export const workerCheck = (worker: { isRunning(): boolean; isPaused(): boolean }): HealthCheck => ({
  name: 'persist-worker',
  critical: false,
  check() {
    if (!worker.isRunning()) return Promise.resolve({ status: 'down', message: 'worker is not running' });
    if (worker.isPaused()) return Promise.resolve({ status: 'degraded', message: 'worker is paused' });
    return Promise.resolve({ status: 'ok' });
  },
});
