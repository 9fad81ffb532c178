import { join } from 'node:path';
import { type Child, runToCompletion, startChild } from './children.js';
import { say } from './output.js';
import { findProfile, summarizeCpuProfile, type ProfileSummary } from './profile.js';
import { profileDir, queuePrefix, REPO_ROOT, secret, settings, standardSecret } from './settings.js';

/**
 * The service under test as the benchmark runs it: built once (`npm run build`), then `node dist/server.js`
 * children with an environment of their own (never the service variables of this shell), optionally under
 * `--cpu-prof` (BENCH_CPU_PROF=1), whose profiles are read back after the rounds.
 */

export async function buildService(): Promise<void> {
  if (settings.skipBuild) say('build: skipped (BENCH_SKIP_BUILD=1), using dist/ as it is');
  else {
    say('build: npm run build');
    await runToCompletion('build', 'npm', ['run', 'build', '--silent'], REPO_ROOT);
  }
}

/** Variables the service reads: never inherited from this shell, only set explicitly below. */
const SERVICE_VARIABLE =
  /^(NODE_ENV|ROLE|HOST|PORT|DATA_DIR|QUEUE_PREFIX|LOG_LEVEL|DATABASE_|REDIS_|LANGFUSE_|LANGWATCH_|CUSTOM_|STANDARD_|WEBHOOK_|ENQUEUE_|PERSIST_|WORKER_|METRICS_|SHUTDOWN_|SENTRY_)/;

export function serviceEnv(databaseUrl: string, overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !SERVICE_VARIABLE.test(key) && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return {
    ...env,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    REDIS_URL: settings.redisUrl,
    QUEUE_PREFIX: queuePrefix,
    CUSTOM_WEBHOOK_SECRET: secret,
    STANDARD_WEBHOOK_SECRET: standardSecret,
    WEBHOOK_RATE_LIMIT_MAX: String(settings.rateLimitMax),
    LOG_LEVEL: 'warn',
    ...settings.serviceEnv,
    ...overrides,
  };
}

export interface VertigoChildOptions {
  name: string;
  databaseUrl: string;
  /** ROLE, PORT and any other service variable of this child. */
  env: Record<string, string>;
  /** Where `--cpu-prof` writes when BENCH_CPU_PROF=1. */
  cpuProfileDir: string;
  onLine: (line: string) => void;
}

/** Told of every Vertigo child as it starts (the memory sampler of `npm run bench` follows them this way). */
type ChildListener = (child: Child, role: string) => void;
const listeners = new Set<ChildListener>();

export function onVertigoStart(listener: ChildListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function startVertigo(options: VertigoChildOptions): Child {
  const child = startChild({
    name: options.name,
    command: process.execPath,
    args: [...(settings.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : []), 'dist/server.js'],
    cwd: REPO_ROOT,
    env: serviceEnv(options.databaseUrl, options.env),
    onLine: options.onLine,
  });
  for (const listener of listeners) listener(child, options.env.ROLE ?? 'all');
  return child;
}

/** The `--cpu-prof` directory of the ROLE=worker child of a round (the API child's is `profileDir` itself). */
export const workerProfileDir = (round: number | string): string => join(profileDir, `worker-${round}`);

export interface Profiles {
  /** The API child, whole life. */
  api?: ProfileSummary;
  /** The worker child of the last round. */
  worker?: ProfileSummary;
}

/** The CPU profiles of the API child and of a worker, by default the last round's (none unless BENCH_CPU_PROF=1). */
export function collectProfiles(workerDir = workerProfileDir(settings.rounds)): Profiles {
  const profiles: Profiles = {};
  if (!settings.cpuProfile) return profiles;
  const apiFile = findProfile(profileDir);
  if (apiFile) profiles.api = summarizeCpuProfile(apiFile);
  else say(`no .cpuprofile of the API child found in ${profileDir}`);
  const workerFile = findProfile(workerDir);
  if (workerFile) profiles.worker = summarizeCpuProfile(workerFile);
  return profiles;
}
