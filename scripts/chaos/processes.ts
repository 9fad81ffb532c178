import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The chaos run's child processes (PostgreSQL, Redis, the service's API and worker, the load generator). Each
 * is started here, remembered by its PID, and stopped by that PID only: `stopAll()` runs on success, failure
 * and SIGINT. Output is kept as a tail of lines, shown when a scenario fails.
 */

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  exited: Promise<ExitResult>;
  readonly running: boolean;
  /** The last lines the process wrote (stdout and stderr). */
  tail(lines?: number): string;
  /** Sends a signal if the process still runs. */
  signal(signal: NodeJS.Signals): boolean;
  /** `signal` (SIGTERM by default), then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number, signal?: NodeJS.Signals): Promise<ExitResult>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this user (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
  /** Adds an IPC channel (the load generator reports over it). */
  ipc?: boolean;
  /** Called with each complete output line. */
  onLine?: (line: string) => void;
  /** Appends everything the process writes to this file as well. */
  logFile?: string;
}

const TAIL_LINES = 300;
const running = new Set<Proc>();

export function startProcess(options: StartOptions): Proc {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  if (child.pid === undefined) throw new Error(`cannot start ${options.name}: ${options.command} ${options.args.join(' ')}`);
  const lines: string[] = [];
  let result: ExitResult | undefined;
  const exited = new Promise<ExitResult>((resolve) => {
    child.once('exit', (code, signal) => {
      result = { code, signal };
      resolve(result);
    });
  });
  child.on('error', (err) => lines.push(`[${options.name}] process error: ${err.message}`));
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  log?.on('error', () => undefined);
  void exited.then(() => log?.end());
  for (const stream of [child.stdout, child.stderr]) {
    if (log) stream?.on('data', (chunk: string) => log.write(chunk));
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > TAIL_LINES) lines.shift();
        options.onLine?.(line);
      }
    });
  }
  const proc: Proc = {
    name: options.name,
    pid: child.pid,
    child,
    exited,
    get running() {
      return result === undefined;
    },
    tail: (n = 40) => lines.slice(-n).map((l) => `  [${options.name} ${child.pid}] ${l}`).join('\n'),
    signal(signal) {
      if (result !== undefined) return false;
      try {
        process.kill(child.pid!, signal);
        return true;
      } catch {
        return false;
      }
    },
    async stop(graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM') {
      if (result === undefined) {
        proc.signal(signal);
        const done = await Promise.race([exited, sleep(graceMs).then(() => undefined)]);
        if (!done) proc.signal('SIGKILL');
      }
      return exited;
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/**
 * Stops every process still running, newest first (the load generator and the service before Redis and
 * PostgreSQL). `signalFor` may choose another first signal per process (PostgreSQL: SIGINT, a fast shutdown).
 */
export async function stopAll(graceMs = 5_000, signalFor: (proc: Proc) => NodeJS.Signals = () => 'SIGTERM'): Promise<void> {
  for (const proc of [...running].reverse()) {
    await proc.stop(graceMs, signalFor(proc)).catch(() => undefined);
  }
}

/** Synchronous last resort (process 'exit'): SIGKILL whatever is left, by PID. */
export function killAllNow(): void {
  for (const proc of running) proc.signal('SIGKILL');
}

/** Polls `check` until it returns a value other than undefined; throws after `timeoutMs` with the last error. */
export async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last: ${last})` : ''}`);
    await sleep(intervalMs);
  }
}
