/**
 * The benchmark's terminal output: plain lines, loud lines for what must not be missed, the compact echo of a
 * Vertigo child's pino lines, and the failure that is reported by its message alone.
 */

export const say = (line = '') => process.stdout.write(`${line}\n`);
export const loud = (text: string) => process.stdout.write(`\n!!!!!!!! ${text}\n\n`);

/** A failure whose message says everything: reported without a stack trace. */
export class BenchFailure extends Error {}

export const failureMessage = (err: unknown): string =>
  err instanceof BenchFailure ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);

const LEVELS: Record<number | string, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const QUIET_FIELDS = new Set(['level', 'time', 'msg', 'service', 'role', 'version', 'pid', 'hostname']);

/** Echoes a child's pino lines of level warn and above (and anything that is not JSON), compactly. */
export function echoLogLine(name: string, minLevel: 'info' | 'warn' = 'warn') {
  const rank = (level: string) => ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].indexOf(level);
  return (line: string) => {
    if (line.trim() === '') return;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      say(`  [${name}] ${line}`);
      return;
    }
    const level = String(LEVELS[entry.level as number] ?? entry.level ?? 'info');
    if (rank(level) < rank(minLevel)) return;
    const extra = Object.fromEntries(Object.entries(entry).filter(([k]) => !QUIET_FIELDS.has(k)));
    say(`  [${name}] ${level}: ${String(entry.msg ?? '')}${Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : ''}`);
  };
}
