import { readFileSync } from 'node:fs';
import type { Child } from './children.js';

/**
 * Resident memory of the benchmark's server processes: every `intervalMs` the VmRSS of each tracked process is
 * read from /proc/<pid>/status, under the current phase's name. For each phase it keeps the peak of each role
 * (api, worker, bare) and the peak of the service processes' sum at one instant (api + worker running
 * together, as one ROLE=all process would hold them). VmHWM (the kernel's own high-water mark, which catches
 * peaks between samples) is read along with it.
 */

export type Role = 'api' | 'worker' | 'all' | 'bare';
const SERVICE_ROLES: ReadonlySet<Role> = new Set(['api', 'worker', 'all']);

interface Tracked {
  name: string;
  role: Role;
  pid: number;
  /** Highest VmHWM read, in KiB. */
  hwmKiB: number;
}

export interface PhaseMemory {
  phase: string;
  samples: number;
  /** Peak RSS (MB) per role, highest of any process of that role. */
  peakMB: Partial<Record<Role, number>>;
  /** Peak of the service processes' summed RSS at one sample (MB). */
  servicePeakMB: number;
}

export interface MemoryReport {
  intervalMs: number;
  phases: PhaseMemory[];
  /** Per process: the kernel's high-water mark (MB), whole life until its last sample. */
  processes: { name: string; role: Role; pid: number; hwmMB: number }[];
}

function readStatusKiB(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return rss ? { rss: Number(rss[1]), hwm: hwm ? Number(hwm[1]) : 0 } : undefined;
  } catch {
    return undefined; // exited
  }
}

export class MemorySampler {
  private readonly tracked = new Map<number, Tracked>();
  private readonly all: Tracked[] = [];
  private readonly phases = new Map<string, PhaseMemory>();
  private current = 'start';
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly intervalMs: number) {}

  track(child: Child, role: string): void {
    const entry: Tracked = { name: child.name, role: (['api', 'worker', 'bare'].includes(role) ? role : 'all') as Role, pid: child.pid, hwmKiB: 0 };
    this.tracked.set(child.pid, entry);
    this.all.push(entry);
    void child.exited.then(() => this.tracked.delete(child.pid));
    this.sample();
  }

  /** Samples from now on count under `phase`. */
  phase(name: string): void {
    this.sample();
    this.current = name;
    this.sample();
  }

  start(): void {
    this.timer ??= setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }

  private sample(): void {
    let phase = this.phases.get(this.current);
    if (!phase) {
      phase = { phase: this.current, samples: 0, peakMB: {}, servicePeakMB: 0 };
      this.phases.set(this.current, phase);
    }
    let serviceKiB = 0;
    let any = false;
    for (const entry of this.tracked.values()) {
      const read = readStatusKiB(entry.pid);
      if (!read) continue;
      any = true;
      entry.hwmKiB = Math.max(entry.hwmKiB, read.hwm);
      const mb = (read.rss * 1024) / 1e6;
      phase.peakMB[entry.role] = Math.max(phase.peakMB[entry.role] ?? 0, mb);
      if (SERVICE_ROLES.has(entry.role)) serviceKiB += read.rss;
    }
    if (!any) return;
    phase.samples++;
    phase.servicePeakMB = Math.max(phase.servicePeakMB, (serviceKiB * 1024) / 1e6);
  }

  report(): MemoryReport {
    return {
      intervalMs: this.intervalMs,
      phases: [...this.phases.values()].filter((p) => p.samples > 0),
      processes: this.all.map((t) => ({ name: t.name, role: t.role, pid: t.pid, hwmMB: (t.hwmKiB * 1024) / 1e6 })),
    };
  }
}
