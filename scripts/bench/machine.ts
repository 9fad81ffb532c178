import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { REPO_ROOT } from './settings.js';

/** The machine and the commit a run measured, as printed in its header and kept in its results file. */

export interface Machine {
  cores: number;
  cpuModel: string;
  node: string;
  platform: string;
  totalMemoryGiB: number;
  loadAverageAtStart: number[];
}

export function describeMachine(): Machine {
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export interface GitInfo {
  commit: string;
  /** Uncommitted changes to tracked files; undefined when git cannot tell. */
  dirty: boolean | undefined;
}

export function gitInfo(): GitInfo {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    let dirty: boolean | undefined;
    try {
      dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() !== '';
    } catch {
      dirty = undefined;
    }
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: undefined };
  }
}
