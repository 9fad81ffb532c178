import { startFirestoreEmulator } from '../../tests/support/firestore-emulator.js';
import { relaxEmulatorFreezing } from './sync-emulator-immer.js';

/**
 * The Firestore emulator in a process of its own (`npm run bench:sync -- --emulator-process`): started by
 * scripts/bench/sync-emulator.ts, it prints `{"host":"127.0.0.1:<port>"}` once listening and runs until SIGTERM.
 */

relaxEmulatorFreezing();
const emulator = await startFirestoreEmulator(process.argv[2] ?? 'vertigo-bench');
process.stdout.write(`${JSON.stringify({ host: emulator.host })}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void emulator.stop().finally(() => process.exit(0));
  });
}
