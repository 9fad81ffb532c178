import { pino } from 'pino';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { ErrorReporter } from '../../src/observability/sentry.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { deleteKeys } from './redis-keys.js';
import { uniquePrefix } from './test-database.js';

export const SECRETS = {
  langfuse: 'lf-whsec_test_secret_one',
  langwatch: 'lw_test_secret_one',
  custom: 'custom-test-secret',
  // base64 of "standard-webhooks-test-key-32byt"
  standard: 'whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieXQ=',
};

export interface TestService {
  runtime: Runtime;
  baseUrl: string;
  queuePrefix: string;
  stop(): Promise<void>;
}

/** Builds and starts the whole service in this process on a free loopback port. */
export async function startTestService(
  databaseUrl: string,
  env: Record<string, string> = {},
  options: { reporter?: ErrorReporter; redisUrl?: string } = {},
): Promise<TestService> {
  const queuePrefix = env.QUEUE_PREFIX ?? uniquePrefix('q');
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    QUEUE_PREFIX: queuePrefix,
    LANGFUSE_WEBHOOK_SECRET: SECRETS.langfuse,
    LANGWATCH_WEBHOOK_SECRET: SECRETS.langwatch,
    CUSTOM_WEBHOOK_SECRET: SECRETS.custom,
    STANDARD_WEBHOOK_SECRET: SECRETS.standard,
    PERSIST_FLUSH_INTERVAL_MS: '5',
    ...env,
  });
  const logger = pino({ level: config.logLevel });
  const runtime = await createRuntime(config, logger, {
    databaseUrl,
    redisUrl: options.redisUrl ?? inject('redisUrl'),
    ...(options.reporter ? { reporter: options.reporter } : {}),
  });
  await runtime.start();
  const address = runtime.app.server.address() as { port: number };
  return {
    runtime,
    baseUrl: `http://127.0.0.1:${address.port}`,
    queuePrefix,
    async stop() {
      await runtime.stop();
      await deleteKeys(options.redisUrl ?? inject('redisUrl'), queuePrefix);
    },
  };
}
