import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { freePort, isProcessAlive } from './free-port.js';
import type { LocalService } from './local-postgres.js';

export class RedisNotInstalledError extends Error {
  constructor() {
    super(
      'REDIS_URL is not set and there is no redis-server on the PATH to start one. Install it ' +
        '(apt-get install redis-server), run one with Docker (docker run -p 6379:6379 redis:7), ' +
        'or set REDIS_URL=redis://host:6379',
    );
    this.name = 'RedisNotInstalledError';
  }
}

/**
 * Development default when REDIS_URL is not set: `redis-server` from the PATH on a free loopback port, with
 * AOF on (so acknowledged events survive a restart) and `noeviction`, its files in `<DATA_DIR>/redis`.
 */
export async function startLocalRedis(dataDir: string, logger: Logger): Promise<LocalService> {
  const dir = resolve(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const stateFile = join(dir, 'vertigo-redis.json');
  if (existsSync(stateFile)) {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number; port: number };
    if (isProcessAlive(state.pid) && (await answers(state.port))) {
      logger.info({ port: state.port, dir }, 'development default: reusing the local redis-server already running');
      return { url: `redis://127.0.0.1:${state.port}`, stop: () => Promise.resolve() };
    }
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec',
      '--save', '', '--maxmemory-policy', 'noeviction', '--protected-mode', 'yes'],
    { stdio: 'ignore' },
  );
  await new Promise<void>((resolvePromise, reject) => {
    child.once('spawn', resolvePromise);
    child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new RedisNotInstalledError() : err));
  });
  for (let i = 0; i < 100 && !(await answers(port)); i++) await new Promise((r) => setTimeout(r, 50));
  writeFileSync(stateFile, JSON.stringify({ pid: child.pid, port }));
  logger.info({ port, dir }, 'development default: local redis-server started with AOF (set REDIS_URL to use your own)');
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolvePromise) => {
        if (child.exitCode !== null) return resolvePromise();
        child.once('exit', () => resolvePromise());
        child.kill('SIGTERM');
      }),
  };
}

async function answers(port: number): Promise<boolean> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
