import os from 'node:os';
import type pg from 'pg';
import { CollectionReader, type SyncDocument } from '../../src/sync/collection-reader.js';
import { processCpuMicros } from './children.js';

/**
 * How a phase of the sync benchmark is measured: wall time, CPU of this process (which holds the emulator as
 * well as the code measured), CPU of the PostgreSQL backends the phase used (found by application_name, read
 * from /proc when PostgreSQL runs on this machine), and the load average around it (other work on the box).
 */

export interface PhaseFigures {
  seconds: number;
  /** CPU of this Node process (benchmark, emulator and code under test together), in seconds. */
  nodeCpuSeconds: number;
  /** CPU of the phase's PostgreSQL backends, in seconds; undefined when /proc does not show them. */
  postgresCpuSeconds: number | undefined;
  /** CPU of the emulator's own process (--emulator-process), in seconds; undefined when it runs in this one. */
  emulatorCpuSeconds: number | undefined;
  loadAverageBefore: number[];
  loadAverageAfter: number[];
}

const load = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

async function backendCpu(monitor: pg.Pool, applicationName: string): Promise<Map<number, number | undefined>> {
  const { rows } = await monitor.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
    [applicationName],
  );
  return new Map(rows.map((r) => [r.pid, processCpuMicros(r.pid)]));
}

/**
 * Runs `fn` and measures it; `postgres` names the backends (application_name) whose CPU is counted,
 * `emulatorPid` the emulator's process when it has its own.
 */
export async function measurePhase<T>(
  fn: () => Promise<T>,
  options: { postgres?: { monitor: pg.Pool; applicationName: string }; emulatorPid?: number | undefined } = {},
): Promise<{ value: T; figures: PhaseFigures }> {
  const { postgres, emulatorPid } = options;
  const before = postgres ? await backendCpu(postgres.monitor, postgres.applicationName) : undefined;
  const emulatorBefore = emulatorPid === undefined ? undefined : processCpuMicros(emulatorPid);
  const loadAverageBefore = load();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await fn();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const emulatorAfter = emulatorPid === undefined ? undefined : processCpuMicros(emulatorPid);
  const emulatorCpuSeconds = emulatorBefore !== undefined && emulatorAfter !== undefined ? (emulatorAfter - emulatorBefore) / 1e6 : undefined;
  let postgresCpuSeconds: number | undefined;
  if (postgres && before) {
    const after = await backendCpu(postgres.monitor, postgres.applicationName);
    // Backends opened during the phase count from zero; one closed during it is lost (pools keep theirs).
    let sum = 0;
    let known = after.size > 0;
    for (const [pid, micros] of after) {
      if (micros === undefined) known = false;
      else sum += micros - (before.get(pid) ?? 0);
    }
    postgresCpuSeconds = known ? sum / 1e6 : undefined;
  }
  return {
    value,
    figures: { seconds, nodeCpuSeconds: (used.user + used.system) / 1e6, postgresCpuSeconds, emulatorCpuSeconds, loadAverageBefore, loadAverageAfter: load() },
  };
}

/** The sync's reader, counting its Firestore queries and the time spent in them. */
export class CountingReader extends CollectionReader {
  queries = 0;
  tieQueries = 0;
  readMs = 0;

  override async after(value: string, limit: number, inclusive = false): Promise<SyncDocument[]> {
    const started = performance.now();
    try {
      return await super.after(value, limit, inclusive);
    } finally {
      this.queries++;
      this.readMs += performance.now() - started;
    }
  }

  override async at(value: string): Promise<SyncDocument[]> {
    const started = performance.now();
    try {
      return await super.at(value);
    } finally {
      this.queries++;
      this.tieQueries++;
      this.readMs += performance.now() - started;
    }
  }
}
