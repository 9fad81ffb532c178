import { failureMessage, loud, say } from './output.js';

/**
 * How every benchmark script runs: `main` returns the exit code; `cleanup` (children by PID, scratch database,
 * queue keys) runs on success, on failure and on SIGINT/SIGTERM, then the process exits.
 */
export async function runBenchmark(main: () => Promise<number>, cleanup: () => Promise<unknown>): Promise<never> {
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      say(`\n${signal}: stopping children and cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  let exitCode = 1;
  try {
    exitCode = await main();
  } catch (err) {
    if (interrupted) await new Promise(() => undefined); // the signal handler cleans up and exits
    loud(`BENCHMARK FAILED: ${failureMessage(err)}`);
    exitCode = 1;
  } finally {
    await cleanup();
  }
  process.exit(exitCode);
}
