import { type ChildProcess, execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Child processes of the benchmark: every process is started through `startChild`, remembered, and stopped by
 * its own PID (SIGTERM, then SIGKILL after a grace period) by `stopAllChildren`, also when the benchmark fails.
 */

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  exited: Promise<ExitResult>;
  readonly running: boolean;
  /** The last lines the process wrote (stdout and stderr). */
  tail(lines?: number): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<ExitResult>;
}

export interface StartChildOptions extends Pick<SpawnOptions, 'cwd' | 'env'> {
  name: string;
  command: string;
  args: string[];
  /** Called with each complete output line (stdout and stderr); the default echoes nothing. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Adds an IPC channel (for a child that reports with process.send). */
  ipc?: boolean;
}

const children = new Set<Child>();
const TAIL_LINES = 200;

export function startChild(options: StartChildOptions): Child {
  const proc = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`cannot start ${options.name}: ${options.command} ${options.args.join(' ')}`);
  const lines: string[] = [];
  let done: ExitResult | undefined;
  const exited = new Promise<ExitResult>((resolve) => {
    proc.once('exit', (code, signal) => {
      done = { code, signal };
      resolve(done);
    });
    proc.once('error', (err) => {
      lines.push(`[spawn error] ${err.message}`);
      if (!done && proc.exitCode === null && proc.signalCode === null && proc.pid === undefined) {
        done = { code: null, signal: null };
        resolve(done);
      }
    });
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    let partial = '';
    proc[stream]?.setEncoding('utf8');
    proc[stream]?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > TAIL_LINES) lines.shift();
        options.onLine?.(line, stream);
      }
    });
  }
  const child: Child = {
    name: options.name,
    pid: proc.pid,
    process: proc,
    exited,
    get running() {
      return done === undefined && proc.exitCode === null && proc.signalCode === null;
    },
    tail: (n = 40) => lines.slice(-n).join('\n'),
    async stop(graceMs = 15_000) {
      if (child.running) {
        proc.kill('SIGTERM');
        const result = await Promise.race([exited, sleep(graceMs).then(() => undefined)]);
        if (!result && child.running) {
          process.stderr.write(`bench: ${options.name} (pid ${proc.pid}) did not stop within ${graceMs} ms: SIGKILL\n`);
          proc.kill('SIGKILL');
        }
      }
      const result = await exited;
      children.delete(child);
      return result;
    },
  };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

/** Stops every child still running, in reverse start order. */
export async function stopAllChildren(graceMs = 15_000): Promise<void> {
  for (const child of [...children].reverse()) {
    await child.stop(graceMs).catch((err: unknown) => process.stderr.write(`bench: cannot stop ${child.name}: ${String(err)}\n`));
  }
}

/** Rejects when the child exits before `promise` settles, with its last output in the message. */
export async function whileRunning<T>(child: Child, promise: Promise<T>, what: string): Promise<T> {
  const exit = child.exited.then((r) => {
    throw new Error(`${child.name} exited (code ${r.code}, signal ${r.signal}) while ${what}; last output:\n${child.tail()}`);
  });
  return Promise.race([promise, exit]);
}

/** Runs a command to completion with inherited output (e.g. `npm run build`); throws when it fails. */
export async function runToCompletion(name: string, command: string, args: string[], cwd: string): Promise<void> {
  const child = startChild({ name, command, args, cwd, onLine: (line) => process.stdout.write(`  [${name}] ${line}\n`) });
  const result = await child.exited;
  if (result.code !== 0) throw new Error(`${name} failed (code ${result.code}, signal ${result.signal})`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until `accept(status)` holds; rejects after `timeoutMs`. */
export async function waitForHttp(url: string, accept: (status: number) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (accept(response.status)) return;
      last = `HTTP ${response.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms (${last})`);
}

// --- CPU time from /proc (Linux) ---------------------------------------------------------------------------

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU time of a process in microseconds, or undefined when /proc cannot tell. */
export function processCpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1e6) / ticksPerSecond() : undefined;
  } catch {
    return undefined;
  }
}

/** The command name of a process (`/proc/<pid>/comm`), or undefined. */
export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}


