import { mkdirSync } from 'node:fs';
import { type Child, freePort, startChild, waitForHttp, whileRunning } from './children.js';
import { BenchFailure, echoLogLine, say } from './output.js';
import { createBodyFactory } from './payload.js';
import { profileDir, REPO_ROOT, runId, secret, settings, WEBHOOK_PATH } from './settings.js';
import { startVertigo } from './vertigo-service.js';

/**
 * The two servers measured side by side, started once and up for all rounds (each idle while the other is
 * measured): bare Fastify (scripts/bench/bare-server.ts) and Vertigo with ROLE=api (`node dist/server.js`).
 */

export interface Servers {
  bare: Child;
  api: Child;
  /** The webhook URL of each. */
  bareUrl: string;
  apiUrl: string;
}

export async function startServers(databaseUrl: string): Promise<Servers> {
  const barePort = await freePort();
  const bare = startChild({
    name: 'bare-fastify',
    command: process.execPath,
    args: ['--import', 'tsx', 'scripts/bench/bare-server.ts'],
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: String(barePort), HOST: '127.0.0.1' },
    onLine: (line) => {
      if (!line.startsWith('bare fastify listening')) say(`  [bare] ${line}`);
    },
  });
  const apiPort = await freePort();
  if (settings.cpuProfile) mkdirSync(profileDir, { recursive: true });
  const api = startVertigo({
    name: 'vertigo-api',
    databaseUrl,
    env: { ROLE: 'api', PORT: String(apiPort) },
    cpuProfileDir: profileDir,
    onLine: echoLogLine('vertigo-api'),
  });
  await whileRunning(bare, waitForHttp(`http://127.0.0.1:${barePort}/`, () => true, 30_000), 'starting');
  await whileRunning(api, waitForHttp(`http://127.0.0.1:${apiPort}/health/ready`, (s) => s === 200, 60_000), 'starting');
  say(`servers: bare Fastify pid ${bare.pid} on :${barePort}, Vertigo (ROLE=api) pid ${api.pid} on :${apiPort}`);
  return {
    bare,
    api,
    bareUrl: `http://127.0.0.1:${barePort}${WEBHOOK_PATH}`,
    apiUrl: `http://127.0.0.1:${apiPort}${WEBHOOK_PATH}`,
  };
}

/**
 * One signed request to each server before any load, so that a configuration problem shows here with its
 * answer. Returns how many requests Vertigo accepted (they are rows to be found later).
 */
export async function probeServers(servers: Servers): Promise<number> {
  let accepted = 0;
  const probe = createBodyFactory(secret, `${runId}p`);
  for (const [name, url] of [['bare', servers.bareUrl], ['vertigo', servers.apiUrl]] as const) {
    const signed = probe.next();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': signed.signature },
      body: signed.body,
    });
    const text = await response.text();
    if (response.status === 429 && name === 'vertigo' && settings.rateLimitMax === 0) {
      throw new BenchFailure(
        `probe request to vertigo answered 429 with WEBHOOK_RATE_LIMIT_MAX=0: ${text.slice(0, 300)}\n` +
          '  This build of the service (dist/) does not treat 0 as "limiter off" (fixed in src/ingest/webhook.route.ts\n' +
          '  by f9f70ab): rebuild (drop BENCH_SKIP_BUILD), or measure with the Redis-backed limiter on:\n' +
          '  BENCH_RATE_LIMIT_MAX=10000000 npm run bench:ingest',
      );
    }
    if (response.status !== 202) throw new BenchFailure(`probe request to ${name} answered ${response.status}: ${text.slice(0, 500)}`);
    if (name === 'vertigo') accepted++;
  }
  say('probe: both servers answer 202 to a signed webhook');
  say();
  return accepted;
}
