/**
 * Reading the Prometheus text format as the benchmark needs it: one series' value, and how many series (sample
 * lines) a scrape holds.
 */

/**
 * The value of the series `name` with (at least) these labels, in any order, in a scrape; 0 when it is absent
 * (a counter not touched yet). Matches the first such line.
 */
export function seriesValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const head = pairs.length === 0 ? `${name} ` : `${name}{`;
  let at = text.startsWith(head) ? 0 : text.indexOf(`\n${head}`) + 1;
  while (at > 0 || (at === 0 && text.startsWith(head))) {
    const end = text.indexOf('\n', at);
    const line = text.slice(at, end < 0 ? undefined : end);
    const close = line.lastIndexOf('}');
    const labelText = pairs.length === 0 ? '' : line.slice(head.length, close);
    if (pairs.every((p) => labelText.split(',').includes(p))) return Number(line.slice(line.lastIndexOf(' ') + 1));
    if (end < 0) break;
    at = text.indexOf(`\n${head}`, end) + 1;
  }
  return 0;
}

/** Sample lines (series) in a scrape. */
export function seriesCount(text: string): number {
  let count = 0;
  for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) count++;
  return count;
}

/** GETs a /metrics URL and returns its text. */
export async function scrape(url: string, timeoutMs = 10_000): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}: HTTP ${response.status}: ${text.slice(0, 200)}`);
  return text;
}
