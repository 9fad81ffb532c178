import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../src/dev/free-port.js';
import { type FuzzProperty, PROPERTIES } from '../tests/fuzz/arbitraries.js';
import { CORPUS, FUZZ_SECRET_ENV, materialize, type Spec, type Wire } from '../tests/fuzz/corpus.js';

/**
 * `npm run fuzz -- --requests 100000`: the webhook fuzzer's long run, and the runner tests/fuzz shares.
 *
 * Starts the service as a child process (`node --expose-gc --import tsx src/server.ts`, ROLE=all) against a
 * scratch database on DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; dropped afterwards) and
 * REDIS_URL (default redis://127.0.0.1:6379) under a queue prefix of its own (its keys deleted afterwards),
 * with WEBHOOK_RATE_LIMIT_MAX=0. Then, in cycles until --requests have been sent, with --concurrency requests
 * in flight: the whole hand-written corpus (tests/fuzz/corpus.ts) and every fast-check property
 * (tests/fuzz/arbitraries.ts). Every reply is checked (no 5xx, the documented status, the error shape with a
 * code and a message that names the problem); at the end, once the queue has drained, every row in
 * webhook_events, live_traces and live_trace_tombstones must trace back to a request answered 202, and every
 * accepted event must be stored and not failed. The child's RSS is sampled every second from /proc; its heap
 * is measured after forced GCs (SIGUSR2 to a preloaded probe) after the first cycle and at the end.
 *
 * Options: --requests N (20000), --concurrency N (8), --seed N (random), --timeout ms (30000),
 * Exits 1 on any violation, printing fast-check's minimal counterexample with its seed, and a snippet that
 * sends the same bytes.
 */

// ---- replies -----------------------------------------------------------------------------------------------

export interface Outcome {
  status?: number;
  contentType?: string;
  text?: string;
  /** No reply: the connection failed, closed or timed out. */
  error?: string;
  /** fetch itself refused the request (e.g. a header value with CR/LF): nothing was sent. */
  refused?: boolean;
}

export async function send(baseUrl: string, wire: Wire, timeoutMs = 30_000): Promise<Outcome> {
  if (wire.transport === 'socket') return sendRaw(baseUrl, wire, timeoutMs);
  let headers: Headers;
  try {
    headers = new Headers();
    for (const [k, v] of wire.headers) headers.append(k, v);
  } catch (err) {
    return { refused: true, error: (err as Error).message };
  }
  const body = wire.body && wire.chunked
    ? new ReadableStream<Uint8Array>({ start(c) { c.enqueue(new Uint8Array(wire.body!)); c.close(); } })
    : wire.body;
  try {
    const res = await fetch(`${baseUrl}${wire.path}`, {
      method: wire.method,
      headers,
      ...(body ? { body, duplex: 'half' } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    } as RequestInit);
    const text = await res.text();
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', text };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    // fetch refuses some header values only when it sends (undici's UND_ERR_INVALID_ARG): nothing left this process.
    if (err instanceof TypeError && (!cause || cause.code === 'UND_ERR_INVALID_ARG')) return { refused: true, error: cause?.message ?? err.message };
    return { error: `${(err as Error).message}${cause ? `: ${cause.code ?? cause.message}` : ''}` };
  }
}

/** The bytes of a hand-built HTTP/1.1 request (header values as they are, CR/LF and NUL included). */
function rawRequest(baseUrl: string, wire: Wire): Buffer {
  const { host } = new URL(baseUrl);
  const names = new Set(wire.headers.map(([k]) => k.toLowerCase()));
  const head = [`${wire.method} ${wire.path} HTTP/1.1`, `host: ${host}`, ...wire.headers.map(([k, v]) => `${k}: ${v}`)];
  if (wire.body && !names.has('content-length') && !names.has('transfer-encoding')) head.push(`content-length: ${wire.body.length}`);
  head.push('connection: close');
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), wire.body ?? Buffer.alloc(0)]);
}

function sendRaw(baseUrl: string, wire: Wire, timeoutMs: number): Promise<Outcome> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('timeout')));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(parseRaw(Buffer.concat(chunks))));
    // Not end(): a client that half-closes gets no reply from Node's HTTP server for a handler that awaits.
    socket.write(rawRequest(baseUrl, wire));
  });
}

function parseRaw(data: Buffer): Outcome {
  // Interim replies (100 Continue) come before the real one.
  while (/^HTTP\/1\.[01] 1\d\d /.test(data.subarray(0, 16).toString('latin1')) && data.indexOf('\r\n\r\n') > 0) {
    data = data.subarray(data.indexOf('\r\n\r\n') + 4);
  }
  const split = data.indexOf('\r\n\r\n');
  if (split < 0) return { error: data.length ? `incomplete reply: ${data.toString('latin1').slice(0, 80)}` : 'connection closed without a reply' };
  const lines = data.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
  const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  let body = data.subarray(split + 4);
  if (headers.get('transfer-encoding') === 'chunked') {
    const parts: Buffer[] = [];
    for (let i = 0; ;) {
      const eol = body.indexOf('\r\n', i);
      const size = parseInt(body.subarray(i, eol).toString('latin1'), 16);
      if (!(size > 0)) break;
      parts.push(body.subarray(eol + 2, eol + 2 + size));
      i = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers.has('content-length')) body = body.subarray(0, Number(headers.get('content-length')));
  if (!status) return { error: `not an HTTP reply: ${lines[0]?.slice(0, 80)}` };
  return { status, contentType: headers.get('content-type') ?? '', text: body.toString('utf8') };
}

const SHAPE_KEYS = ['error'];

/** What is wrong with the reply to one request: [] when it meets every invariant and the spec's expectation. */
export function checkReply(spec: Spec, wire: Wire, outcome: Outcome): string[] {
  if (outcome.refused) return [];
  if (outcome.status === undefined) return spec.expect.closeOk ? [] : [`no reply (${outcome.error})`];
  const problems: string[] = [];
  const status = outcome.status;
  if (status >= 500) problems.push(`server error ${status}`);
  if (!spec.expect.status.includes(status)) problems.push(`status ${status}, expected ${spec.expect.status.join(' or ')}`);
  let json: any;
  try {
    json = JSON.parse(outcome.text ?? '');
  } catch {
    json = undefined;
  }
  if (status >= 200 && status < 300) {
    if (json?.status !== 'accepted' || typeof json.delivery_id !== 'string' || !(json.events >= 1)) {
      problems.push(`2xx body is not {status:"accepted",delivery_id,events}: ${outcome.text?.slice(0, 200)}`);
    }
  } else if (wire.method !== 'HEAD') {
    const error = json?.error;
    if (!json || typeof json !== 'object' || Object.keys(json).join() !== SHAPE_KEYS.join() || typeof error !== 'object' || !error) {
      problems.push(`error body is not {"error":{"code","message"}}: ${JSON.stringify(outcome.text?.slice(0, 300))}`);
    } else {
      const { code, message } = error as { code: unknown; message: unknown };
      if (typeof code !== 'string' || !/^[a-z][a-z0-9_]*$/.test(code)) problems.push(`error.code ${JSON.stringify(code)}`);
      if (typeof message !== 'string' || message.trim() === '') problems.push('error.message is empty');
      else if (/\n\s+at |node_modules|\.ts:\d+/.test(message) || message.length > 2000) problems.push(`error.message leaks internals: ${message.slice(0, 200)}`);
      if (spec.expect.codes && !spec.expect.codes.includes(code as string)) problems.push(`code ${code}, expected ${spec.expect.codes.join(' or ')}`);
      if (typeof message === 'string') {
        const want = spec.expect.messageStarts;
        if (want !== undefined && status === 400 && !message.startsWith(`${want}:`)) problems.push(`message ${JSON.stringify(message)} does not start with "${want}:"`);
        if (spec.expect.messageIncludes && !message.includes(spec.expect.messageIncludes)) problems.push(`message ${JSON.stringify(message)} lacks "${spec.expect.messageIncludes}"`);
      }
    }
    if (!outcome.contentType?.startsWith('application/json')) problems.push(`content-type ${JSON.stringify(outcome.contentType)}`);
  }
  return problems;
}

/** A snippet that sends the same bytes again (signatures expire after 300 s: re-sign the body for timestamped sources). */
export function repro(wire: Wire, baseUrl: string): string {
  const bytes = (b: Buffer) => (b.length > 8192
    ? `/* ${b.length} bytes, sha256 ${createHash('sha256').update(b).digest('hex')}, starting ${JSON.stringify(b.subarray(0, 160).toString('latin1'))} */`
    : `Buffer.from('${b.toString('base64')}', 'base64')`);
  if (wire.transport === 'socket') {
    const { hostname, port } = new URL(baseUrl);
    return `const s = require('net').connect(${port}, '${hostname}', () => s.write(${bytes(rawRequest(baseUrl, wire))})); s.on('data', (d) => process.stdout.write(d))`;
  }
  const body = wire.body ? (wire.chunked ? `new Blob([${bytes(wire.body)}]).stream(), duplex: 'half'` : bytes(wire.body)) : 'undefined';
  return `await fetch('${baseUrl}${wire.path}', { method: '${wire.method}', headers: ${JSON.stringify(wire.headers)}, body: ${body} })`;
}

// ---- the ledger: what was sent, how it was answered, what is wrong -----------------------------------------

export interface Violation {
  label: string;
  problems: string[];
}

export class Ledger {
  readonly run = randomBytes(3).toString('hex');
  private n = 0;
  requests = 0;
  readonly replies = new Map<string, number>();
  readonly labels = new Map<string, string>();
  readonly accepted = new Map<string, { label: string; body: string }>();
  /** Requests that got no reply: whether they were stored is unknowable (their no-reply is checked on its own). */
  readonly unanswered = new Set<string>();
  readonly violations: Violation[] = [];

  token = (): string => `fz-${this.run}-${++this.n}z`;
  get tokenPattern(): string {
    return `fz-${this.run}-[0-9]+z`;
  }

  record(wire: Wire, outcome: Outcome): void {
    this.requests++;
    this.labels.set(wire.token, wire.label);
    let code = '';
    try {
      code = (JSON.parse(outcome.text ?? '') as { error?: { code?: unknown } }).error?.code as string ?? '';
    } catch {
      // not JSON: counted by status alone
    }
    const key = outcome.refused ? 'not sent (fetch refused)' : outcome.status ? `${outcome.status} ${typeof code === 'string' ? code : ''}`.trim()
      : `no reply (${outcome.error?.slice(0, 60)})`;
    this.replies.set(key, (this.replies.get(key) ?? 0) + 1);
    if (!outcome.status && !outcome.refused) this.unanswered.add(wire.token);
    if (outcome.status && outcome.status < 300) {
      const body = wire.body && wire.body.length < 65_536 ? wire.body.toString('utf8') : '';
      this.accepted.set(wire.token, { label: wire.label, body });
    }
  }

  violation(label: string, ...problems: string[]): void {
    this.violations.push({ label, problems });
  }
}

export interface Target {
  baseUrl: string;
  ledger: Ledger;
  timeoutMs: number;
  alive: () => boolean;
}

/** Sends one spec (`times` times) and checks each reply; returns the problems found. */
export async function fire(target: Target, spec: Spec): Promise<{ problems: string[]; wire: Wire }> {
  const wire = materialize(spec, { token: target.ledger.token(), nowSeconds: Math.floor(Date.now() / 1000) });
  const problems: string[] = [];
  for (let i = 0; i < (spec.times ?? 1); i++) {
    const outcome = await send(target.baseUrl, wire, target.timeoutMs);
    target.ledger.record(wire, outcome);
    const found = checkReply(spec, wire, outcome);
    if (found.length > 0) problems.push(...found, `      ${repro(wire, target.baseUrl)}`);
  }
  if (!target.alive()) problems.push('the service is not running any more');
  return { problems, wire };
}

/** Sends every spec of the corpus, `concurrency` at a time. */
export async function runCorpus(target: Target, concurrency: number, specs: readonly Spec[] = CORPUS): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < specs.length && target.alive()) {
      const spec = specs[next++]!;
      const { problems, wire } = await fire(target, spec);
      if (problems.length > 0) target.ledger.violation(`corpus: ${spec.label}`, ...problems, `repro: ${repro(wire, target.baseUrl)}`);
    }
  }));
}

/**
 * Runs a property `runs` times as `concurrency` fast-check runners side by side (seeds seed, seed+1, ...). A
 * failure is shrunk by fast-check; its report (counterexample, seed, path) is returned and recorded.
 */
export async function runProperty(target: Target, property: FuzzProperty, runs: number, seed: number, concurrency = 1): Promise<string | undefined> {
  const perRunner = Math.max(1, Math.ceil(runs / concurrency));
  const settled = await Promise.allSettled(Array.from({ length: concurrency }, (_, i) =>
    fc.assert(fc.asyncProperty(property.arbitrary, async (spec) => {
      const { problems, wire } = await fire(target, spec);
      if (problems.length > 0) throw new Error(`${problems.join('; ')}\n    repro: ${repro(wire, target.baseUrl)}`);
    }), { seed: seed + i, numRuns: perRunner })));
  const failures = settled.flatMap((r) => {
    if (r.status === 'fulfilled') return [];
    const err = r.reason as Error & { cause?: unknown };
    return [`${err.message}${err.cause instanceof Error ? `\nGot error: ${err.cause.message}` : ''}`];
  });
  if (failures.length === 0) return undefined;
  target.ledger.violation(`property: ${property.name}`, ...failures);
  return failures.join('\n\n');
}

// ---- storage ------------------------------------------------------------------------------------------------

async function queueJobs(baseUrl: string): Promise<Record<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const jobs: Record<string, number> = {};
  for (const m of (await res.text()).matchAll(/^vertigo_queue_jobs\{queue="persist",state="([^"]+)"\} (\S+)$/gm)) jobs[m[1]!] = Number(m[2]);
  return jobs;
}

/** Waits until the persist queue has nothing waiting, active or delayed; returns the job counts by state. */
export async function waitForDrain(baseUrl: string, timeoutMs = 180_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let jobs: Record<string, number> = {};
  for (let quiet = 0; Date.now() < deadline; await sleep(250)) {
    jobs = await queueJobs(baseUrl);
    const pending = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'].reduce((n, s) => n + (jobs[s] ?? 0), 0);
    quiet = pending === 0 ? quiet + 1 : 0;
    if (quiet >= 4) return jobs;
  }
  throw new Error(`the persist queue did not drain within ${timeoutMs} ms: ${JSON.stringify(jobs)}`);
}

const tokensOf = (expr: string) => `ARRAY(SELECT DISTINCT m[1] FROM regexp_matches(${expr}, $1, 'g') AS m)`;

/**
 * Every stored row must carry the token of a request answered 202, and every accepted event must be stored
 * and not failed. Returns webhook_events rows by status.
 */
export async function auditStorage(pool: pg.Pool, ledger: Ledger): Promise<Record<string, number>> {
  const pattern = [`(${ledger.tokenPattern})`];
  const events = await pool.query<{ source: string; delivery_id: string; status: string; error: string | null; tokens: string[] }>(
    `SELECT source, delivery_id, status, error, ${tokensOf("delivery_id || ' ' || payload::text")} AS tokens FROM webhook_events`, pattern);
  const seen = new Set<string>();
  const statuses: Record<string, number> = {};
  const describe = (tokens: string[]) => tokens.map((t) => `${t} (${ledger.labels.get(t) ?? 'not sent'})`).join(', ');
  for (const row of events.rows) {
    statuses[row.status] = (statuses[row.status] ?? 0) + 1;
    for (const t of row.tokens) seen.add(t);
    const where = `webhook_events ${row.source} ${JSON.stringify(row.delivery_id.slice(0, 80))} (${row.status})`;
    if (row.tokens.length === 0) ledger.violation('storage', `${where}: no request of this run carries its token`);
    else if (!row.tokens.some((t) => ledger.accepted.has(t) || ledger.unanswered.has(t))) ledger.violation('storage', `${where}: stored from a rejected request: ${describe(row.tokens)}`);
    if (row.status === 'failed') ledger.violation('storage', `${where}: accepted, then failed: ${row.error} (${describe(row.tokens)})`);
    else if (row.status === 'received') ledger.violation('storage', `${where}: never processed`);
  }
  for (const [token, { label, body }] of ledger.accepted) {
    if (seen.has(token)) continue;
    ledger.violation('storage', `${token} (${label}) was accepted, but nothing of it is stored: ${body.slice(0, 300)}`);
  }
  const traces = await pool.query<{ tbl: string; external_id: string; tokens: string[] }>(
    `SELECT 'live_traces' AS tbl, external_id, ${tokensOf("external_id || ' ' || metadata::text")} AS tokens FROM live_traces
     UNION ALL SELECT 'live_trace_tombstones', external_id, ${tokensOf('external_id')} FROM live_trace_tombstones`, pattern);
  for (const row of traces.rows) {
    if (!row.tokens.some((t) => ledger.accepted.has(t) || ledger.unanswered.has(t))) {
      ledger.violation('storage', `${row.tbl} ${JSON.stringify(row.external_id.slice(0, 80))}: not from an accepted request (${describe(row.tokens)})`);
    }
  }
  return statuses;
}

// ---- the service's memory -----------------------------------------------------------------------------------

const PROBE = "import{writeFileSync}from'node:fs';process.on('SIGUSR2',()=>{for(let i=0;i<4;i++)globalThis.gc();"
  + 'writeFileSync(process.env.FUZZ_HEAP_FILE,JSON.stringify(process.memoryUsage()))});';
const PROBE_URL = `data:text/javascript,${PROBE.replace(/[^A-Za-z0-9]/g, (ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;

/** Node flags for the service: --expose-gc and a probe that, on SIGUSR2, collects garbage and writes memoryUsage(). */
export const HEAP_PROBE_FLAGS = ['--expose-gc', `--import=${PROBE_URL}`];
export const heapFile = () => join(tmpdir(), `vertigo-fuzz-heap-${randomBytes(4).toString('hex')}.json`);

export async function heapAfterGc(pid: number, file: string): Promise<NodeJS.MemoryUsage> {
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 200; i++, await sleep(50)) {
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as NodeJS.MemoryUsage;
      } catch {
        // still being written
      }
    }
  }
  throw new Error('the heap probe did not answer');
}

/** Samples VmRSS of `pid` every second (MB). */
export function sampleRss(pid: number): { samples: number[]; stop(): void } {
  const samples: number[] = [];
  const read = () => {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (kb) samples.push(Number(kb) / 1024);
    } catch {
      // the process is gone
    }
  };
  read();
  const timer = setInterval(read, 1000);
  return { samples, stop: () => clearInterval(timer) };
}

/** Least-squares slope of `ys` (one sample per `stepSeconds`), in units per minute. */
export function slopePerMinute(ys: readonly number[], stepSeconds = 1): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return (num / den) * (60 / stepSeconds);
}

/** Heap growth after GC allowed between the end of the first cycle and the end: 10 MB or 20 %, whichever is more. */
export const heapGrowthLimit = (startBytes: number) => Math.max(10 * 1024 * 1024, 0.2 * startBytes);

/** The service settings under fuzz (besides the secrets): no rate limit, failing writes given up quickly. */
export const FUZZ_SERVICE_ENV: Record<string, string> = {
  ...FUZZ_SECRET_ENV,
  WEBHOOK_RATE_LIMIT_MAX: '0',
  PERSIST_MAX_ATTEMPTS: '2',
  PERSIST_BACKOFF_MS: '10',
  PERSIST_MAX_BACKOFF_MS: '100',
};

// ---- the long run -------------------------------------------------------------------------------------------

interface Args {
  requests: number;
  concurrency: number;
  seed: number;
  timeoutMs: number;
}

export function parseFuzzArgs(argv: readonly string[]): Args {
  const args: Args = { requests: 20_000, concurrency: 8, seed: Math.floor(Math.random() * 2 ** 31), timeoutMs: 30_000 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2);
    const value = () => Number(inline ?? argv[++i]);
    if (flag === '--requests') args.requests = value();
    else if (flag === '--concurrency') args.concurrency = value();
    else if (flag === '--seed') args.seed = value();
    else if (flag === '--timeout') args.timeoutMs = value();
    else throw new Error(`unknown option ${argv[i]}; expected --requests N, --concurrency N, --seed N, --timeout ms`);
  }
  for (const [key, flag] of [['requests', '--requests'], ['concurrency', '--concurrency'], ['seed', '--seed'], ['timeoutMs', '--timeout']] as const) {
    if (!Number.isInteger(args[key]) || args[key] < (key === 'seed' ? 0 : 1)) throw new Error(`${flag} must be a positive integer`);
  }
  return args;
}

const say = (line = '') => process.stdout.write(`${line}\n`);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const cleanups: (() => Promise<unknown>)[] = [];

async function startService(databaseUrl: string, redisUrl: string, queuePrefix: string, heap: string) {
  const port = await freePort();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NODE_ENV|ROLE|PORT|QUEUE_PREFIX|DATABASE_|REDIS_|WEBHOOK_|PERSIST_|[A-Z]+_WEBHOOK_SECRET)/.test(k)));
  const child: ChildProcess = spawn(process.execPath, [...HEAP_PROBE_FLAGS, '--import', 'tsx', 'src/server.ts'], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    env: { ...inherited, ...FUZZ_SERVICE_ENV, NODE_ENV: 'test', ROLE: 'all', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, QUEUE_PREFIX: queuePrefix, FUZZ_HEAP_FILE: heap },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => { output = (output + chunk.toString('utf8')).slice(-200_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => { exit = `code ${code}, signal ${signal}`; resolve(); }));
  cleanups.push(async () => { if (!exit) { child.kill('SIGTERM'); await Promise.race([exited, sleep(10_000)]); if (!exit) child.kill('SIGKILL'); } });
  const baseUrl = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
    if (exit || Date.now() > deadline) throw new Error(`the service did not start (${exit ?? 'timeout'}):\n${output}`);
    const res = await fetch(`${baseUrl}/health/startup`).catch(() => undefined);
    if (res?.status === 200) break;
  }
  return { pid: child.pid!, baseUrl, output: () => output, exit: () => exit };
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseFuzzArgs(argv);
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const name = `vertigo_fuzz_${randomBytes(5).toString('hex')}`;
  const queuePrefix = `vt-fuzz-${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  cleanups.push(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });
  cleanups.push(async () => {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    for (let cursor = '0'; ;) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      if ((cursor = next) === '0') break;
    }
    redis.disconnect();
  });
  const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  const heap = heapFile();
  cleanups.push(async () => rmSync(heap, { force: true }));
  const service = await startService(databaseUrl, redisUrl, queuePrefix, heap);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  cleanups.push(() => pool.end());
  const rss = sampleRss(service.pid);
  const ledger = new Ledger();
  const target: Target = { baseUrl: service.baseUrl, ledger, timeoutMs: args.timeoutMs, alive: () => !service.exit() };
  say(`fuzzing ${service.baseUrl} (pid ${service.pid}, database ${name}, queue prefix ${queuePrefix}): ${args.requests} requests, `
    + `concurrency ${args.concurrency}, seed ${args.seed}; corpus of ${CORPUS.length} entries, ${PROPERTIES.length} properties`);

  const perCycle = CORPUS.length * 5;
  const runs = Math.max(args.concurrency, Math.floor((perCycle - CORPUS.length) / PROPERTIES.length));
  const heapSeries: number[] = [];
  let heapStart: NodeJS.MemoryUsage | undefined;
  const started = Date.now();
  for (let cycle = 0; ledger.requests < args.requests && target.alive(); cycle++) {
    await runCorpus(target, args.concurrency);
    for (const [i, property] of PROPERTIES.entries()) {
      if (ledger.requests >= args.requests || !target.alive()) break;
      await runProperty(target, property, runs, args.seed + cycle * 1000 + i * 64, args.concurrency);
    }
    if (!target.alive()) break;
    if (!heapStart) await waitForDrain(service.baseUrl);
    const usage = await heapAfterGc(service.pid, heap);
    heapStart ??= usage;
    heapSeries.push(usage.heapUsed);
    say(`  cycle ${cycle + 1}: ${ledger.requests} requests in ${((Date.now() - started) / 1000).toFixed(0)} s, heap after GC ${mb(usage.heapUsed)}, `
      + `RSS ${rss.samples.at(-1)?.toFixed(1)} MB, violations ${ledger.violations.length}`);
  }

  let heapEnd: NodeJS.MemoryUsage | undefined;
  if (target.alive()) {
    const jobs = await waitForDrain(service.baseUrl);
    await sleep(1000); // failed jobs mark their events a moment after the job fails
    heapEnd = await heapAfterGc(service.pid, heap);
    const statuses = await auditStorage(pool, ledger);
    say(`webhook_events by status: ${JSON.stringify(statuses)}; persist jobs: ${JSON.stringify(jobs)}`);
    if (heapStart && heapEnd.heapUsed - heapStart.heapUsed > heapGrowthLimit(heapStart.heapUsed)) {
      ledger.violation('memory', `heap after GC grew from ${mb(heapStart.heapUsed)} to ${mb(heapEnd.heapUsed)}`);
    }
  } else {
    ledger.violation('crash', `the service exited (${service.exit()}) during the run; its output:\n${service.output().slice(-20_000)}`);
  }
  rss.stop();

  say();
  say(`requests: ${ledger.requests} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  say('replies:');
  for (const [key, n] of [...ledger.replies].sort((a, b) => b[1] - a[1])) say(`  ${String(n).padStart(7)}  ${key}`);
  const s = rss.samples;
  const half = s.slice(Math.floor(s.length / 2));
  say(`RSS (MB, ${s.length} samples): first ${s[0]?.toFixed(1)}, last ${s.at(-1)?.toFixed(1)}, peak ${Math.max(...s).toFixed(1)}, `
    + `slope over the second half ${slopePerMinute(half).toFixed(2)} MB/min`);
  if (heapStart && heapEnd) say(`heap after GC: ${mb(heapStart.heapUsed)} after the first cycle, ${mb(heapEnd.heapUsed)} at the end (series: ${heapSeries.map(mb).join(', ')})`);
  const errors = service.output().split('\n').filter((l) => /"level":("error"|"fatal"|50|60)/.test(l));
  if (errors.length > 0) say(`the last 200 KB of the service's output hold ${errors.length} error lines, e.g.:\n  ${errors.slice(-3).map((l) => l.slice(0, 400)).join('\n  ')}`);
  for (const v of ledger.violations.slice(0, 20)) say(`\nVIOLATION ${v.label}:\n  ${v.problems.join('\n  ').slice(0, 6000)}`);
  if (ledger.violations.length > 20) say(`\n... and ${ledger.violations.length - 20} more violations`);
  const failed = ledger.violations.length > 0;
  say(`\n${failed ? 'FAILED' : 'PASSED'}: ${ledger.violations.length} violations (seed ${args.seed})`);
  return failed ? 1 : 0;
}

async function cleanup(): Promise<void> {
  // Last registered, first undone: the pool, the service, the heap file, the Redis keys, the database.
  for (const step of cleanups.splice(0).reverse()) await step().catch((err: Error) => say(`cleanup: ${err.message}`));
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  main(process.argv.slice(2))
    .catch((err: unknown) => {
      say(`fuzz: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      return 1;
    })
    .then(async (code) => {
      await cleanup();
      process.exit(code);
    });
}
