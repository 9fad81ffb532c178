import { setTimeout as sleep } from 'node:timers/promises';
import { type CollectionReference, Timestamp } from '@google-cloud/firestore';
import type { BenchEmulator } from './sync-emulator.js';
import { measurePhase, type PhaseFigures } from './sync-phase.js';
import { docId, traceDocument } from './sync-seed.js';
import { syncSettings } from './sync-settings.js';

/**
 * The live phases' shared parts: documents written one at a time at a steady rate (updatedAt = now), latency
 * statistics, and the live baseline: how soon the emulator itself tells a bare snapshot listener (the service's
 * query shape, `where(updatedAt > now - 60 s).orderBy(updatedAt)`) of each write, with no service at all.
 * This emulator answers every write by re-running each listener's query and resending its whole result, so
 * its cost per write grows with the documents written so far; the baseline shows how much of the service's
 * figure that is.
 */

export interface Quantiles {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank quantiles, as stats.ts's latencySummary, with p95. */
export function quantiles(values: readonly number[]): Quantiles | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  const mean = sorted.reduce((sum, v) => sum + v, 0) / sorted.length;
  return { count: sorted.length, min: sorted[0]!, mean, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

/** Latencies of one live phase, each from a write's completion to the document being seen. */
export interface LatencyFigures {
  writes: number;
  seen: number;
  latencyMs: Quantiles | undefined;
  /** The first 20 writes, while the emulator's listener result is still small. */
  first20Ms: Quantiles | undefined;
  /** In write order (ms, one decimal; null: never seen), to see a trend. */
  latencyByWriteMs: (number | null)[];
  /** Duration of each write call (set() round trip to the emulator), ms. */
  writeCallMs: Quantiles | undefined;
  achievedRatePerSecond: number;
  figures: PhaseFigures;
}

export function latencyFigures(latencies: readonly (number | undefined)[], writes: Writes, figures: PhaseFigures): LatencyFigures {
  const seen = latencies.filter((v): v is number => v !== undefined);
  return {
    writes: latencies.length,
    seen: seen.length,
    latencyMs: quantiles(seen),
    first20Ms: quantiles(latencies.slice(0, 20).filter((v): v is number => v !== undefined)),
    latencyByWriteMs: latencies.map((v) => (v === undefined ? null : Math.round(v * 10) / 10)),
    writeCallMs: quantiles(writes.callMs),
    achievedRatePerSecond: writes.achievedRatePerSecond,
    figures,
  };
}

export interface Writes {
  /** performance.now() at each write's completion, by index. */
  writtenAt: number[];
  callMs: number[];
  achievedRatePerSecond: number;
}

/** Writes `count` trace documents (trace ids `<idPrefix>-<i>`) one after the other, `rate` per second. */
export async function writeSteadily(
  ref: CollectionReference,
  count: number,
  rate: number,
  idPrefix: string,
  onWritten: (i: number, at: number) => void,
): Promise<Writes> {
  const writes: Writes = { writtenAt: [], callMs: [], achievedRatePerSecond: 0 };
  const interval = 1000 / rate;
  const first = performance.now();
  let last = first;
  for (let i = 0; i < count; i++) {
    const wait = first + i * interval - performance.now();
    if (wait > 0) await sleep(wait);
    const started = performance.now();
    await ref.doc(docId(i)).set(traceDocument(i, Timestamp.now(), idPrefix));
    last = performance.now();
    writes.writtenAt[i] = last;
    writes.callMs.push(last - started);
    onWritten(i, last);
  }
  writes.achievedRatePerSecond = count > 1 ? ((count - 1) / (last - first)) * 1000 : count;
  return writes;
}

/**
 * The live baseline: a bare listener of the emulator on the service's query shape; each write is timed from
 * its completion to the first snapshot holding it (negative when the snapshot came before the write's answer).
 */
export async function measureEmulatorListener(emulator: BenchEmulator, collection: string): Promise<LatencyFigures> {
  const { liveDocs, liveRate, liveTimeoutMs } = syncSettings;
  const listener = emulator.client();
  const seenAt = new Map<string, number>();
  let failure: Error | undefined;
  let up: () => void = () => undefined;
  let failed: (err: Error) => void = () => undefined;
  const isUp = new Promise<void>((resolve, reject) => {
    up = resolve;
    failed = reject;
  });
  const unsubscribe = listener
    .collection(collection)
    .where('updatedAt', '>', Timestamp.fromMillis(Date.now() - 60_000))
    .orderBy('updatedAt')
    .onSnapshot(
      (snapshot) => {
        const at = performance.now();
        up();
        for (const change of snapshot.docChanges()) if (change.type !== 'removed' && !seenAt.has(change.doc.id)) seenAt.set(change.doc.id, at);
      },
      (err) => {
        failure = err;
        failed(err);
      },
    );
  try {
    await isUp;
    const ref = emulator.client().collection(collection);
    const { value: writes, figures } = await measurePhase(async () => {
      const written = await writeSteadily(ref, liveDocs, liveRate, 'baseline', () => undefined);
      const deadline = performance.now() + liveTimeoutMs;
      while (seenAt.size < liveDocs && performance.now() < deadline && !failure) await sleep(10);
      if (failure) throw new Error(`the baseline listener failed: ${failure.message}`);
      return written;
    }, { emulatorPid: emulator.pid });
    const latencies = Array.from({ length: liveDocs }, (_, i) => {
      const at = seenAt.get(docId(i));
      return at === undefined ? undefined : at - writes.writtenAt[i]!;
    });
    return latencyFigures(latencies, writes, figures);
  } finally {
    unsubscribe();
  }
}
