import type { ScenarioResult } from './harness.js';

/**
 * The final table, one row per scenario, counted in events (an event sent several times counts once):
 * sent, acknowledged (some attempt answered 2xx), rejected (never acknowledged, every attempt answered 5xx),
 * errored (never acknowledged, some attempt got no answer), stored (has its webhook_events row), missing
 * (acknowledged, not stored), duplicated (ids with more than one row), stale-version (traces whose row is not
 * their newest acknowledged version).
 */

export const TABLE_COLUMNS = ['scenario', 'sent', 'acknowledged', 'rejected (5xx)', 'errored', 'stored', 'missing', 'duplicated', 'stale-version', 'result', 'seconds'] as const;

export function resultTable(results: ScenarioResult[]): string {
  const rows = results.map((r) => {
    const c = r.reconciliation;
    const n = (v: number | undefined) => (v === undefined ? '-' : String(v));
    return [
      r.name, n(c?.sent), n(c?.acked), n(c?.rejected), n(c?.errored), n(c?.stored), n(c?.missing), n(c?.duplicated), n(c?.stale),
      r.ok ? 'ok' : 'FAIL', r.seconds.toFixed(1),
    ];
  });
  const all = [[...TABLE_COLUMNS], ...rows];
  const widths = TABLE_COLUMNS.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(all[0]!), rule, ...rows.map(line)].join('\n');
}

/** The checks and the evidence of each scenario, failures first. */
export function resultDetails(results: ScenarioResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`${r.name}: ${r.ok ? 'ok' : 'FAIL'}`);
    if (r.error) out.push(`  error: ${r.error}`);
    for (const c of r.checks) out.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  return out.join('\n');
}
