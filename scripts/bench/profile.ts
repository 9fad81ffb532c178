import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function, and the time spent under
 * each of a few interesting package/module groups (inclusive, so a group counts its callees). `findProfile`
 * finds the file a process wrote into its `--cpu-prof-dir`.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  location: string;
  selfMs: number;
  /** Percent of the busy (non-idle) time. */
  selfPercent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  top: ProfileEntry[];
  /** Inclusive time per group (a sample counts once per group found on its stack), percent of busy time. */
  groups: { group: string; ms: number; percent: number }[];
}

const shortUrl = (url: string): string => {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '').replace(/^.*\/work\/[^/]+\//, '');
};

function groupOf(url: string, functionName: string): string | undefined {
  if (url.includes('node_modules/')) {
    const rest = url.slice(url.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const parts = rest.split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.includes('/dist/')) return `app:${url.slice(url.indexOf('/dist/') + 6).split('/').slice(0, -1).join('/') || '.'}`;
  if (url.startsWith('node:')) return url;
  if (functionName === '(garbage collector)') return '(garbage collector)';
  return undefined;
}

export function summarizeCpuProfile(file: string, topN = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    // timeDeltas[i] is the time before sample i; attribute the next delta to this sample.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }

  let totalUs = 0;
  let idleUs = 0;
  const perFunction = new Map<string, { name: string; location: string; us: number }>();
  const groupUs = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const frame = node.callFrame;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const name = frame.functionName || '(anonymous)';
    const location = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${name}@${location}`;
    const entry = perFunction.get(key) ?? { name, location, us: 0 };
    entry.us += us;
    perFunction.set(key, entry);
    // Inclusive group time: walk up the stack once, counting each group once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      const group = groupOf(f.url, f.functionName);
      if (group && !seen.has(group)) {
        seen.add(group);
        groupUs.set(group, (groupUs.get(group) ?? 0) + us);
      }
    }
  }
  const busyUs = totalUs - idleUs;
  const top = [...perFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({ name: e.name, location: e.location, selfMs: e.us / 1000, selfPercent: busyUs > 0 ? (100 * e.us) / busyUs : 0 }));
  const groups = [...groupUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 25)
    .map(([group, us]) => ({ group, ms: us / 1000, percent: busyUs > 0 ? (100 * us) / busyUs : 0 }));
  return { file, totalMs: totalUs / 1000, busyMs: busyUs / 1000, top, groups };
}

/** The first `.cpuprofile` in `dir`, or undefined when there is none (or no such directory). */
export function findProfile(dir: string): string | undefined {
  try {
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    return file ? join(dir, file) : undefined;
  } catch {
    return undefined;
  }
}
