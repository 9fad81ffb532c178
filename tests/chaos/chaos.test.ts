import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { TABLE_COLUMNS } from '../../scripts/chaos/report.js';
import { SCENARIOS } from '../../scripts/chaos/scenarios.js';

/**
 * `npm run chaos -- --short` as CI runs it: its own PostgreSQL and Redis, the service as child processes, every
 * fault scenario under load. It must exit 0 and its table must list every scenario with nothing missing,
 * duplicated or stale. The script starts and stops everything itself (and removes its folder); this test only
 * makes sure the script itself is stopped (SIGINT: its own clean-up) if it overruns.
 */

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIMEOUT_MS = 5 * 60_000;

/** The rows of the final table, by scenario, each a map from column name to cell. */
function parseTable(output: string): Map<string, Record<string, string>> {
  const lines = output.split('\n');
  const header = lines.findLastIndex((l) => l.startsWith('| scenario '));
  const rows = new Map<string, Record<string, string>>();
  if (header < 0) return rows;
  const cells = (line: string) => line.split('|').slice(1, -1).map((c) => c.trim());
  const names = cells(lines[header]!);
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('| ')) break;
    const values = cells(line);
    rows.set(values[0]!, Object.fromEntries(names.map((n, i) => [n, values[i] ?? ''])));
  }
  return rows;
}

describe('npm run chaos -- --short', () => {
  let child: ChildProcess | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGINT');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
  }, 30_000);

  it('loses nothing acknowledged and stores nothing twice in any fault scenario', async () => {
    const { NODE_OPTIONS: _omit, ...env } = process.env;
    child = spawn(process.execPath, ['--import', 'tsx', 'scripts/chaos.ts', '--short'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const started = Date.now();
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child!.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const seconds = (Date.now() - started) / 1000;
    console.info(`chaos --short: exit ${exit.code ?? exit.signal} after ${seconds.toFixed(1)} s\n${output.slice(-6000)}`);

    expect(exit.code, output.slice(-20_000)).toBe(0);
    const table = parseTable(output);
    expect([...table.keys()].sort()).toEqual(SCENARIOS.map((s) => s.name).sort());
    expect(Object.keys(table.get(SCENARIOS[0]!.name)!)).toEqual([...TABLE_COLUMNS]);
    for (const scenario of SCENARIOS) {
      const row = table.get(scenario.name)!;
      expect(row, scenario.name).toMatchObject({ missing: '0', duplicated: '0', 'stale-version': '0', result: 'ok' });
      expect(Number(row.acknowledged), `${scenario.name}: acknowledged`).toBeGreaterThan(0);
    }
  }, TIMEOUT_MS);
});
