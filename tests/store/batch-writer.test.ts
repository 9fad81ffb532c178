import { describe, expect, it } from 'vitest';
import { BatchWriter } from '../../src/store/batch-writer.js';

describe('BatchWriter', () => {
  it('flushes on size without waiting for the timer', async () => {
    const flushes: number[][] = [];
    const writer = new BatchWriter<number>(async (items) => void flushes.push(items), { maxItems: 3, maxWaitMs: 60_000 });
    await Promise.all([writer.write([1]), writer.write([2]), writer.write([3])]);
    expect(flushes).toEqual([[1, 2, 3]]);
  });

  it('flushes on time when the batch stays small', async () => {
    const flushes: number[][] = [];
    const writer = new BatchWriter<number>(async (items) => void flushes.push(items), { maxItems: 100, maxWaitMs: 10 });
    await Promise.all([writer.write([1]), writer.write([2])]);
    expect(flushes).toEqual([[1, 2]]);
  });

  it('writes the parts of a failed merged flush one by one, so only the bad part fails', async () => {
    const writer = new BatchWriter<number>(async (items) => {
      if (items.includes(13)) throw new Error('bad row 13');
    }, { maxItems: 10, maxWaitMs: 5 });
    const results = await Promise.allSettled([writer.write([1]), writer.write([13]), writer.write([2])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('writes at once when every caller it can have is waiting', async () => {
    const flushes: number[][] = [];
    const writer = new BatchWriter<number>(async (items) => void flushes.push(items), { maxItems: 100, maxWaitMs: 60_000, maxParts: 2 });
    await Promise.all([writer.write([1]), writer.write([2])]);
    expect(flushes).toEqual([[1, 2]]);
  });

  it('starts a second write without the timer when the callers not held by the first are all waiting', async () => {
    const flushes: number[][] = [];
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const writer = new BatchWriter<number>(async (items) => {
      flushes.push(items);
      if (flushes.length === 1) await firstHeld;
    }, { maxItems: 100, maxWaitMs: 60_000, maxParts: 3, maxConcurrent: 2 });
    const first = Promise.all([writer.write([1]), writer.write([2]), writer.write([3])]);
    // Two callers are held by the first write; the one slot left is all that can come, so it is written at once.
    await writer.write([4]);
    expect(flushes).toEqual([[1, 2, 3], [4]]);
    releaseFirst();
    await first;
  });

  it('runs up to maxConcurrent writes at once', async () => {
    let running = 0;
    let peak = 0;
    const writer = new BatchWriter<number>(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
    }, { maxItems: 1, maxWaitMs: 0, maxConcurrent: 2 });
    await Promise.all([1, 2, 3, 4, 5].map((i) => writer.write([i])));
    expect(peak).toBe(2);
  });

  it('drain flushes what is waiting at once', async () => {
    const flushes: number[][] = [];
    const writer = new BatchWriter<number>(async (items) => void flushes.push(items), { maxItems: 100, maxWaitMs: 60_000 });
    const pending = writer.write([7]);
    await writer.drain();
    await pending;
    expect(flushes).toEqual([[7]]);
  });
});
