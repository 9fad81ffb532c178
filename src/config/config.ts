import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The one typed configuration object. It is read from environment variables only (a secret may instead be
 * read from the file named by `<NAME>_FILE`), validated once at start, and passed down explicitly.
 */

export const SOURCE_NAMES = ['langfuse', 'langwatch', 'custom', 'standard'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

export const ROLES = ['all', 'api', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

const boolean = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);

/** Comma-separated secrets: several may be valid at once while one is being rotated. */
const secretList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  )
  .refine((list) => list.every((s) => s.length >= 8), 'every secret must be at least 8 characters');

const standardSecretList = secretList.refine(
  (list) => list.every((s) => /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(s)),
  'every secret must look like whsec_<base64>',
);

const envSchema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('production'),
  ROLE: z.enum(ROLES).default('all'),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  PORT: int(0, 65535).default(3000),
  TRUST_PROXY: z
    .string()
    .trim()
    .regex(/^(true|false|\d{1,2}|[\d.:/a-fA-F]+(,[\d.:/a-fA-F]+)*)$/, 'must be true, false, a hop count, or a comma-separated list of proxy addresses/CIDRs')
    .default('false'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATABASE_POOL_MAX: int(1, 200).default(10),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  DATA_DIR: z.string().trim().min(1).default('.data'),
  QUEUE_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1-40 letters, digits, - or _')
    .default('vertigo'),
  LANGFUSE_WEBHOOK_SECRET: secretList.optional(),
  LANGWATCH_WEBHOOK_SECRET: secretList.optional(),
  CUSTOM_WEBHOOK_SECRET: secretList.optional(),
  STANDARD_WEBHOOK_SECRET: standardSecretList.optional(),
  WEBHOOK_SKIP_VERIFICATION: boolean.default(false),
  WEBHOOK_TOLERANCE_SECONDS: int(1, 3600).default(300),
  WEBHOOK_BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  WEBHOOK_MAX_EVENTS_PER_DELIVERY: int(1, 10000).default(1000),
  WEBHOOK_RATE_LIMIT_MAX: int(0, 10_000_000).default(6000),
  WEBHOOK_RATE_LIMIT_WINDOW_SECONDS: int(1, 3600).default(60),
  ENQUEUE_TIMEOUT_MS: int(100, 60000).default(5000),
  ENQUEUE_MAX_EVENTS_PER_JOB: int(1, 10000).default(1000),
  ENQUEUE_MAX_IN_FLIGHT: int(1, 64).default(1),
  PERSIST_CONCURRENCY: int(1, 1024).default(128),
  PERSIST_BATCH_SIZE: int(1, 10000).default(1000),
  PERSIST_FLUSH_INTERVAL_MS: int(0, 10000).default(20),
  PERSIST_MAX_CONCURRENT_WRITES: int(1, 64).default(2),
  PERSIST_MAX_ATTEMPTS: int(1, 1000).default(50),
  PERSIST_BACKOFF_MS: int(10, 600000).default(1000),
  PERSIST_MAX_BACKOFF_MS: int(100, 3600000).default(60000),
  WORKER_LOCK_DURATION_MS: int(1000, 600000).default(30000),
  WORKER_STALLED_INTERVAL_MS: int(1000, 600000).default(30000),
  METRICS_MAX_MODELS: int(1, 10000).default(100),
  SHUTDOWN_DELAY_MS: int(0, 120000).default(0),
  SHUTDOWN_TIMEOUT_MS: int(1000, 600000).default(25000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SENTRY_DSN: url(['http:', 'https:']).optional(),
  SENTRY_ENVIRONMENT: z.string().trim().min(1).optional(),
  LOKI_URL: url(['http:', 'https:']).optional(),
  ENABLE_FIRESTORE_SYNC: boolean.default(false),
  GOOGLE_CLOUD_PROJECT: z.string().trim().min(1).optional(),
  FIRESTORE_DATABASE_ID: z.string().trim().min(1).default('(default)'),
  FIRESTORE_EMULATOR_HOST: z.string().trim().regex(/^[\w.-]+:\d{1,5}$/, 'must be host:port').optional(),
  FIRESTORE_SYNC_MAPPINGS_FILE: z.string().trim().min(1).optional(),
  FIRESTORE_SYNC_INTERVAL_SECONDS: int(5, 86400).default(300),
  FIRESTORE_SYNC_BATCH_SIZE: int(1, 10000).default(500),
  FIRESTORE_SYNC_HOURS_BACK: int(1, 24 * 365).default(24),
  FIRESTORE_SYNC_LIVE: boolean.default(true),
  FIRESTORE_SYNC_RETRY_ATTEMPTS: int(1, 20).default(6),
  FIRESTORE_SYNC_RETRY_BASE_MS: int(10, 60000).default(500),
  FIRESTORE_SYNC_RETRY_MAX_MS: int(100, 600000).default(30000),
  FIRESTORE_SYNC_CALL_TIMEOUT_MS: int(1000, 600000).default(20000),
  ADMIN_API_TOKEN: secretList.optional(),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 key)').optional(),
  JWT_ISSUER: z.string().trim().min(1).optional(),
  JWT_AUDIENCE: z.string().trim().min(1).optional(),
  API_RATE_LIMIT_PER_IP: int(0, 10_000_000).default(1200),
  API_RATE_LIMIT_PER_KEY: int(0, 10_000_000).default(600),
  API_RATE_LIMIT_ADMIN_WRITES: int(0, 10_000_000).default(30),
  API_RATE_LIMIT_WINDOW_SECONDS: int(1, 3600).default(60),
  CORS_ORIGINS: z
    .string()
    .trim()
    .transform((v) => v.split(',').map((o) => o.trim()).filter((o) => o !== ''))
    .pipe(z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, 'must be * or origins like https://grafana.example.com')))
    .optional(),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  nodeEnv: Env['NODE_ENV'];
  role: Role;
  version: string;
  /** Whom to believe in X-Forwarded-For (client IPs decide rate limits): Fastify's trustProxy. */
  http: { host: string; port: number; trustProxy: boolean | number | string[] };
  database: { url: string | undefined; poolMax: number };
  redis: { url: string | undefined };
  dataDir: string;
  queuePrefix: string;
  webhooks: {
    secrets: Record<SourceName, string[]>;
    skipVerification: boolean;
    toleranceSeconds: number;
    bodyLimitBytes: number;
    maxEventsPerDelivery: number;
    rateLimit: { max: number; windowSeconds: number };
  };
  enqueue: { timeoutMs: number; maxEventsPerJob: number; maxInFlight: number };
  persist: {
    concurrency: number;
    batchSize: number;
    flushIntervalMs: number;
    maxConcurrentWrites: number;
    maxAttempts: number;
    backoffMs: number;
    maxBackoffMs: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
  };
  metrics: { maxModels: number };
  shutdown: { delayMs: number; timeoutMs: number };
  logLevel: Env['LOG_LEVEL'];
  sentry: { dsn: string | undefined; environment: string };
  /** Push logs to Loki as well as stdout when set (credentials may be in the URL). */
  loki: { url: string | undefined };
  firestoreSync: {
    enabled: boolean;
    /** GOOGLE_CLOUD_PROJECT; credentials are found the usual Google way (GOOGLE_APPLICATION_CREDENTIALS, workload identity). */
    projectId: string | undefined;
    databaseId: string;
    emulatorHost: string | undefined;
    mappingsFile: string | undefined;
    intervalSeconds: number;
    batchSize: number;
    hoursBack: number;
    live: boolean;
    retry: { attempts: number; baseMs: number; maxMs: number; timeoutMs: number };
  };
  /** Static admin bearer tokens (ADMIN_API_TOKEN): the first key is made with one, or with `npm run keys`. */
  adminTokens: string[];
  /** HS256 JWT bearer tokens, when JWT_SECRET is set. */
  jwt: { secret: string; issuer?: string; audience?: string } | undefined;
  api: {
    rateLimit: { perIp: number; perKey: number; adminWrites: number; windowSeconds: number };
    /** Origins allowed by CORS; none: no CORS headers (same-origin only). */
    corsOrigins: string[];
  };
}

type RawEnv = Record<string, string | undefined>;

/** Variables that may be given as `<NAME>_FILE`, the path of a file holding the value (Kubernetes secrets). */
const FILE_VARIABLES = [
  'DATABASE_URL',
  'REDIS_URL',
  'LANGFUSE_WEBHOOK_SECRET',
  'LANGWATCH_WEBHOOK_SECRET',
  'CUSTOM_WEBHOOK_SECRET',
  'STANDARD_WEBHOOK_SECRET',
  'SENTRY_DSN',
  'LOKI_URL',
  'ADMIN_API_TOKEN',
  'JWT_SECRET',
] as const;

function resolveFileVariables(env: RawEnv): RawEnv {
  const resolved: RawEnv = { ...env };
  for (const name of FILE_VARIABLES) {
    const path = env[`${name}_FILE`];
    if (!path) continue;
    if (env[name]) throw new ConfigError(name, `set both ${name} and ${name}_FILE; set only one`);
    try {
      resolved[name] = readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(`${name}_FILE`, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  // An empty variable means "not set", as in most shells' `FOO= command`.
  for (const [key, value] of Object.entries(resolved)) if (value === '') delete resolved[key];
  return resolved;
}

/** Validates the environment into a Config, or throws a ConfigError naming the first bad variable. */
export function loadConfig(env: RawEnv = process.env, version = '0.0.0'): Config {
  const resolved = resolveFileVariables(env);
  const parsed = envSchema.safeParse(resolved);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const value = resolved[variable];
    const shown = value === undefined || variable.endsWith('SECRET') || variable.endsWith('TOKEN') || variable.endsWith('_URL') || variable === 'SENTRY_DSN'
      ? ''
      : ` (got "${value}")`;
    const message = issue.code === 'invalid_value' ? `must be one of ${issue.values.join(', ')}` : issue.message;
    throw new ConfigError(variable, `${message}${shown}`);
  }
  const e = parsed.data;
  if (e.WEBHOOK_SKIP_VERIFICATION && e.NODE_ENV !== 'development') {
    throw new ConfigError('WEBHOOK_SKIP_VERIFICATION', 'may be true only when NODE_ENV=development');
  }
  if (e.PERSIST_MAX_CONCURRENT_WRITES > e.DATABASE_POOL_MAX) {
    throw new ConfigError('PERSIST_MAX_CONCURRENT_WRITES', `must not exceed DATABASE_POOL_MAX (${e.DATABASE_POOL_MAX})`);
  }
  if (e.PERSIST_MAX_BACKOFF_MS < e.PERSIST_BACKOFF_MS) {
    throw new ConfigError('PERSIST_MAX_BACKOFF_MS', 'must not be smaller than PERSIST_BACKOFF_MS');
  }
  return {
    nodeEnv: e.NODE_ENV,
    role: e.ROLE,
    version,
    http: { host: e.HOST, port: e.PORT, trustProxy: parseTrustProxy(e.TRUST_PROXY) },
    database: { url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX },
    redis: { url: e.REDIS_URL },
    dataDir: e.DATA_DIR,
    queuePrefix: e.QUEUE_PREFIX,
    webhooks: {
      secrets: {
        langfuse: e.LANGFUSE_WEBHOOK_SECRET ?? [],
        langwatch: e.LANGWATCH_WEBHOOK_SECRET ?? [],
        custom: e.CUSTOM_WEBHOOK_SECRET ?? [],
        standard: e.STANDARD_WEBHOOK_SECRET ?? [],
      },
      skipVerification: e.WEBHOOK_SKIP_VERIFICATION,
      toleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
      bodyLimitBytes: e.WEBHOOK_BODY_LIMIT_BYTES,
      maxEventsPerDelivery: e.WEBHOOK_MAX_EVENTS_PER_DELIVERY,
      rateLimit: { max: e.WEBHOOK_RATE_LIMIT_MAX, windowSeconds: e.WEBHOOK_RATE_LIMIT_WINDOW_SECONDS },
    },
    enqueue: {
      timeoutMs: e.ENQUEUE_TIMEOUT_MS,
      maxEventsPerJob: e.ENQUEUE_MAX_EVENTS_PER_JOB,
      maxInFlight: e.ENQUEUE_MAX_IN_FLIGHT,
    },
    persist: {
      concurrency: e.PERSIST_CONCURRENCY,
      batchSize: e.PERSIST_BATCH_SIZE,
      flushIntervalMs: e.PERSIST_FLUSH_INTERVAL_MS,
      maxConcurrentWrites: e.PERSIST_MAX_CONCURRENT_WRITES,
      maxAttempts: e.PERSIST_MAX_ATTEMPTS,
      backoffMs: e.PERSIST_BACKOFF_MS,
      maxBackoffMs: e.PERSIST_MAX_BACKOFF_MS,
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
    },
    metrics: { maxModels: e.METRICS_MAX_MODELS },
    shutdown: { delayMs: e.SHUTDOWN_DELAY_MS, timeoutMs: e.SHUTDOWN_TIMEOUT_MS },
    logLevel: e.LOG_LEVEL,
    sentry: { dsn: e.SENTRY_DSN, environment: e.SENTRY_ENVIRONMENT ?? e.NODE_ENV },
    loki: { url: e.LOKI_URL },
    firestoreSync: {
      enabled: e.ENABLE_FIRESTORE_SYNC,
      projectId: e.GOOGLE_CLOUD_PROJECT,
      databaseId: e.FIRESTORE_DATABASE_ID,
      emulatorHost: e.FIRESTORE_EMULATOR_HOST,
      mappingsFile: e.FIRESTORE_SYNC_MAPPINGS_FILE,
      intervalSeconds: e.FIRESTORE_SYNC_INTERVAL_SECONDS,
      batchSize: e.FIRESTORE_SYNC_BATCH_SIZE,
      hoursBack: e.FIRESTORE_SYNC_HOURS_BACK,
      live: e.FIRESTORE_SYNC_LIVE,
      retry: {
        attempts: e.FIRESTORE_SYNC_RETRY_ATTEMPTS,
        baseMs: e.FIRESTORE_SYNC_RETRY_BASE_MS,
        maxMs: e.FIRESTORE_SYNC_RETRY_MAX_MS,
        timeoutMs: e.FIRESTORE_SYNC_CALL_TIMEOUT_MS,
      },
    },
    adminTokens: e.ADMIN_API_TOKEN ?? [],
    jwt: e.JWT_SECRET
      ? { secret: e.JWT_SECRET, ...(e.JWT_ISSUER ? { issuer: e.JWT_ISSUER } : {}), ...(e.JWT_AUDIENCE ? { audience: e.JWT_AUDIENCE } : {}) }
      : undefined,
    api: {
      rateLimit: {
        perIp: e.API_RATE_LIMIT_PER_IP,
        perKey: e.API_RATE_LIMIT_PER_KEY,
        adminWrites: e.API_RATE_LIMIT_ADMIN_WRITES,
        windowSeconds: e.API_RATE_LIMIT_WINDOW_SECONDS,
      },
      corsOrigins: e.CORS_ORIGINS ?? [],
    },
  };
}

function parseTrustProxy(value: string): boolean | number | string[] {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',');
}

/** Sources that accept webhooks: those with a secret, or all of them when verification is skipped. */
export function enabledSources(config: Config): SourceName[] {
  return SOURCE_NAMES.filter((s) => config.webhooks.skipVerification || config.webhooks.secrets[s].length > 0);
}
