import { fileURLToPath } from 'node:url';
import { Firestore } from '@google-cloud/firestore';
import { type FirestoreEmulator, startFirestoreEmulator } from '../../tests/support/firestore-emulator.js';
import { startChild, whileRunning } from './children.js';
import { relaxEmulatorFreezing } from './sync-emulator-immer.js';
import { REPO_ROOT } from './settings.js';
import { syncSettings } from './sync-settings.js';

/**
 * The benchmark's Firestore emulator: in this process (tests/support/firestore-emulator.ts, the default), or with
 * --emulator-process in a child process of its own (scripts/bench/sync-emulator-child.ts), so that its work
 * (it re-sorts the collection on every query and resends a listener's whole result on every write) does not
 * share this process's event loop with the code measured.
 */

export interface BenchEmulator extends FirestoreEmulator {
  /** The emulator's own process, when it has one (its CPU is then measured apart). */
  pid: number | undefined;
}

const CHILD_SCRIPT = fileURLToPath(new URL('./sync-emulator-child.ts', import.meta.url));

export async function startBenchEmulator(projectId: string): Promise<BenchEmulator> {
  if (!syncSettings.emulatorProcess) {
    relaxEmulatorFreezing();
    return { ...(await startFirestoreEmulator(projectId)), pid: undefined };
  }
  let announce: (host: string) => void = () => undefined;
  const announced = new Promise<string>((resolve) => (announce = resolve));
  const child = startChild({
    name: `firestore-emulator-${projectId}`,
    command: process.execPath,
    args: ['--import', 'tsx', CHILD_SCRIPT, projectId],
    cwd: REPO_ROOT,
    env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
    onLine: (line, stream) => {
      const host = /^\{"host":"([^"]+)"\}$/.exec(line)?.[1];
      if (host) announce(host);
      else if (stream === 'stderr' && line.trim() !== '') process.stdout.write(`  [emulator] ${line}\n`);
    },
  });
  const host = await whileRunning(child, announced, 'starting');
  const [hostname, port] = [host.slice(0, host.lastIndexOf(':')), Number(host.slice(host.lastIndexOf(':') + 1))];
  const clients: Firestore[] = [];
  return {
    host,
    projectId,
    pid: child.pid,
    env: { FIRESTORE_EMULATOR_HOST: host, GOOGLE_CLOUD_PROJECT: projectId, METADATA_SERVER_DETECTION: 'none' },
    client() {
      const client = new Firestore({ projectId, host: hostname, port, ssl: false, customHeaders: { Authorization: 'Bearer owner' } });
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.terminate().catch(() => undefined)));
      await child.stop(5000);
    },
  };
}
