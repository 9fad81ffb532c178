import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// ---- the service's memory -----------------------------------------------------------------------------------

const PROBE = "import{writeFileSync}from'node:fs';process.on('SIGUSR2',()=>{for(let i=0;i<4;i++)globalThis.gc();"
  + 'writeFileSync(process.env.FUZZ_HEAP_FILE,JSON.stringify(process.memoryUsage()))});';
const PROBE_URL = `data:text/javascript,${PROBE.replace(/[^A-Za-z0-9]/g, (ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;

/** Node flags for the service: --expose-gc and a probe that, on SIGUSR2, collects garbage and writes memoryUsage(). */
export const HEAP_PROBE_FLAGS = ['--expose-gc', `--import=${PROBE_URL}`];
export const heapFile = () => join(tmpdir(), `vertigo-fuzz-heap-${randomBytes(4).toString('hex')}.json`);

export async function heapAfterGc(pid: number, file: string): Promise<NodeJS.MemoryUsage> {
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 200; i++, await sleep(50)) {
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as NodeJS.MemoryUsage;
      } catch {
        // still being written
      }
    }
  }
  throw new Error('the heap probe did not answer');
}

/** Samples VmRSS of `pid` every second (MB). */
export function sampleRss(pid: number): { samples: number[]; stop(): void } {
  const samples: number[] = [];
  const read = () => {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (kb) samples.push(Number(kb) / 1024);
    } catch {
      // the process is gone
    }
  };
  read();
  const timer = setInterval(read, 1000);
  return { samples, stop: () => clearInterval(timer) };
}

/** Least-squares slope of `ys` (one sample per `stepSeconds`), in units per minute. */
export function slopePerMinute(ys: readonly number[], stepSeconds = 1): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return (num / den) * (60 / stepSeconds);
}

/** Heap growth after GC allowed between the end of the first cycle and the end: 10 MB or 20 %, whichever is more. */
export const heapGrowthLimit = (startBytes: number) => Math.max(10 * 1024 * 1024, 0.2 * startBytes);
