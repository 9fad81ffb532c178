import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { freePort } from '../../src/dev/free-port.js';
import { createLogger, epochTime, LOKI_PUSH_TIMEOUT_MS, lokiTransportOptions } from '../../src/observability/logger.js';
import { type ChildService, startChildService } from '../support/child-service.js';
import { createTestDatabase, type TestDatabase, uniquePrefix } from '../support/test-database.js';
import { deleteKeys } from '../support/redis-keys.js';
import { SECRETS } from '../support/test-runtime.js';
import { waitFor } from '../support/wait-for.js';
import { customTrace, post, signedHeaders } from '../support/webhook-client.js';

/**
 * Direct log shipping (LOKI_URL): a local server speaking Loki's push API receives the service's lines through
 * the pino-loki transport. Labels are exactly {service, role, level}, the lines are the redacted JSON lines,
 * and a Loki that refuses connections or never answers changes nothing for the service.
 */

interface Push {
  headers: IncomingHttpHeaders;
  streams: { stream: Record<string, string>; values: [string, string][] }[];
}

interface FakeLoki {
  url: string;
  pushes: Push[];
  /** Every received line, parsed, with its labels and entry timestamp (ns). */
  entries(): { labels: Record<string, string>; ns: string; line: Record<string, unknown>; raw: string }[];
  close(): Promise<void>;
}

/** POST /loki/api/v1/push with a JSON body, as Loki answers it (204); `hang` accepts and never answers. */
async function startFakeLoki(mode: 'ok' | 'hang' = 'ok'): Promise<FakeLoki> {
  const pushes: Push[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (mode === 'hang') return;
      if (req.method !== 'POST' || req.url !== '/loki/api/v1/push' || req.headers['content-type'] !== 'application/json') {
        res.writeHead(400).end('unexpected request');
        return;
      }
      pushes.push({ headers: req.headers, ...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<Push, 'headers'>) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    pushes,
    entries: () =>
      pushes.flatMap((p) =>
        p.streams.flatMap((s) => s.values.map(([ns, raw]) => ({ labels: s.stream, ns, raw, line: JSON.parse(raw) as Record<string, unknown> }))),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

function expectBoundedLabels(labels: Record<string, string>, role: string) {
  expect(Object.keys(labels).sort()).toEqual(['level', 'role', 'service']);
  expect(labels.service).toBe('vertigo-live');
  expect(labels.role).toBe(role);
  expect(LEVELS).toContain(labels.level);
}

describe('LOKI_URL', () => {
  it('is validated as an http(s) URL, may carry credentials, and is optional', () => {
    expect(loadConfig({}).loki.url).toBeUndefined();
    expect(loadConfig({ LOKI_URL: 'http://loki:3100' }).loki.url).toBe('http://loki:3100');
    expect(() => loadConfig({ LOKI_URL: 'loki:3100' })).toThrow('LOKI_URL: must be a URL starting with http:// or https://');
    expect(() => loadConfig({ LOKI_URL: 'ftp://user:hunter22@loki' })).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter22') }));
    const options = lokiTransportOptions('https://tenant:s%40cret@logs.example.com/proxy', 'api');
    expect(options.host).toBe('https://logs.example.com/proxy/');
    expect(options.basicAuth).toEqual({ username: 'tenant', password: 's@cret' });
    expect(epochTime('{"level":"info","time":"2026-01-01T00:00:00.000Z","msg":"x"}')).toBe('{"level":"info","time":1767225600000,"msg":"x"}');
    expect(epochTime('not json')).toBe('not json');
  });
});

describe('the logger with LOKI_URL', () => {
  let loki: FakeLoki;
  beforeAll(async () => {
    loki = await startFakeLoki();
  });
  afterAll(async () => {
    await loki?.close();
  });

  it('pushes redacted JSON lines labelled only service, role and level, stamped with their own time', async () => {
    const stdout: string[] = [];
    const logger = createLogger(
      { level: 'debug', role: 'worker', version: 'test', loki: { url: loki.url.replace('http://', 'http://shipper:p%40ss@') } },
      { write: (line: string) => void stdout.push(line) },
    );
    const headers = { authorization: 'Bearer top-secret-token', 'x-signature': 'sha256=deadbeefcafe' };
    logger.info({ reqId: 'req-1', req: { headers }, hostname: 'pod-abc-123', userId: 'u-42' }, 'a careless line');
    logger.warn({ reqId: 'req-2', config: { password: 'hunter22' } }, 'warned');
    logger.error({ reqId: 'req-3', meta: { traceId: 't-1' } }, 'failed');
    logger.debug('debugging');

    const entries = await waitFor(() => (loki.entries().length >= 5 ? loki.entries() : undefined), 10_000);
    const push = loki.pushes[0]!;
    expect(push.headers.authorization).toBe(`Basic ${Buffer.from('shipper:p@ss').toString('base64')}`);
    for (const e of entries) expectBoundedLabels(e.labels, 'worker');
    expect(entries.map((e) => e.labels.level)).toEqual(['info', 'info', 'warn', 'error', 'debug']);
    const careless = entries.find((e) => e.line.msg === 'a careless line')!;
    expect(careless.line).toMatchObject({ reqId: 'req-1', service: 'vertigo-live', role: 'worker', version: 'test', userId: 'u-42' });
    // the entry's timestamp is the line's own time (ns), not the time of the push
    const stdoutLine = JSON.parse(stdout.find((l) => l.includes('a careless line'))!) as { time: string };
    expect(careless.ns).toBe(`${Date.parse(stdoutLine.time)}000000`);
    const text = JSON.stringify(loki.pushes.map((p) => p.streams));
    for (const secret of ['top-secret-token', 'deadbeefcafe', 'hunter22', 'p@ss']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
    // stdout is unchanged: ISO time, every line
    expect(stdout).toHaveLength(5);
    expect(stdout.every((l) => /"time":"\d{4}-\d\d-\d\dT/.test(l))).toBe(true);
  });
});

describe('the service with LOKI_URL', () => {
  const redisUrl = inject('redisUrl');
  const queuePrefix = uniquePrefix('loki');
  let db: TestDatabase | undefined;
  const children: ChildService[] = [];
  const lokis: FakeLoki[] = [];

  const start = async (lokiUrl: string, name: string) => {
    const child = await startChildService({ databaseUrl: db!.url, redisUrl, queuePrefix, role: 'api', name, env: { LOKI_URL: lokiUrl, LOG_LEVEL: 'info' } });
    children.push(child);
    onTestFailed(() => console.error(child.output()));
    return child;
  };
  const webhook = (child: ChildService, id: string, extra: Record<string, string> = {}) => {
    const body = customTrace(id);
    return post(child.baseUrl, 'custom', body, { ...signedHeaders('custom', body), ...extra }, 5000);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const child of children) await child.stop(2000).catch(() => undefined);
    for (const loki of lokis) await loki.close().catch(() => undefined);
    await deleteKeys(inject('redisUrl'), queuePrefix);
    await db?.drop();
  });

  it('ships its request lines to Loki with bounded labels and without credentials', async () => {
    const loki = await startFakeLoki();
    lokis.push(loki);
    const child = await start(loki.url, 'api-loki');
    const body = customTrace('loki-1');
    const signature = signedHeaders('custom', body)['x-signature']!;
    const accepted = await post(child.baseUrl, 'custom', body, { ...signedHeaders('custom', body), authorization: 'Bearer never-logged-token', 'x-request-id': 'req-loki-ok' });
    expect(accepted.status).toBe(202);
    const rejected = await webhook(child, 'loki-2', { 'x-signature': 'sha256=00', 'x-request-id': 'req-loki-bad' });
    expect(rejected.status).toBe(401);

    const ofRequests = await waitFor(() => {
      const lines = loki.entries().filter((e) => e.line.reqId === 'req-loki-bad');
      return lines.some((e) => e.line.code === 'invalid_signature') ? loki.entries() : undefined;
    }, 10_000);
    for (const e of ofRequests) {
      expectBoundedLabels(e.labels, 'api');
      expect(typeof e.line.msg).toBe('string');
    }
    expect(ofRequests.filter((e) => e.line.reqId === 'req-loki-ok').length).toBeGreaterThanOrEqual(2);
    expect(ofRequests.find((e) => e.line.code === 'invalid_signature')!.labels.level).toBe('info');
    const text = JSON.stringify(loki.pushes.map((p) => p.streams));
    for (const secret of ['never-logged-token', signature, SECRETS.custom]) expect(text).not.toContain(secret);

    // the last lines, written while the process exits, are pushed before it is gone
    expect(await child.stop(10_000)).toEqual({ code: 0, signal: null });
    expect(loki.entries().some((e) => e.line.msg === 'stopped')).toBe(true);
  });

  it('keeps answering, and stops in time, when Loki refuses connections or never answers', async () => {
    const closedPort = await freePort();
    const hanging = await startFakeLoki('hang');
    lokis.push(hanging);
    for (const [name, url] of [['api-closed', `http://127.0.0.1:${closedPort}`], ['api-hang', hanging.url]] as const) {
      const child = await start(url, name);
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        expect((await webhook(child, `${name}-${i}`)).status).toBe(202);
        expect(Date.now() - started).toBeLessThan(1000);
        await new Promise((r) => setTimeout(r, 600)); // across a batch push
      }
      expect((await fetch(`${child.baseUrl}/health/ready`)).status).toBe(200);
      const stopping = Date.now();
      expect(await child.stop(15_000)).toEqual({ code: 0, signal: null });
      // at exit the last batch is pushed once more, bounded by the push timeout
      expect(Date.now() - stopping).toBeLessThan(LOKI_PUSH_TIMEOUT_MS + 3_000);
      expect(child.output()).not.toMatch(/Error|error:/);
    }
    expect(hanging.pushes).toHaveLength(0);
  });
});
