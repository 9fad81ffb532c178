import { describe, expect, it } from 'vitest';
import { MicroBatcher, SubmissionTimeoutError } from '../../src/queue/micro-batcher.js';

const deferred = () => {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

describe('MicroBatcher', () => {
  it('sends at once when idle and groups what arrives while a send is in flight', async () => {
    const sends: number[][][] = [];
    const gates: ReturnType<typeof deferred>[] = [];
    const batcher = new MicroBatcher<number>((items) => {
      sends.push(items);
      const gate = deferred();
      gates.push(gate);
      return gate.promise;
    }, 100, 1);
    const first = batcher.submit([1]);
    const rest = [batcher.submit([2]), batcher.submit([3, 4])];
    expect(sends).toEqual([[[1]]]);
    gates[0]!.resolve();
    await first;
    await new Promise((r) => setImmediate(r));
    expect(sends).toEqual([[[1]], [[2], [3, 4]]]);
    gates[1]!.resolve();
    await Promise.all(rest);
  });

  it('never splits a submission and respects maxItems between submissions', async () => {
    const sends: number[][][] = [];
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const batcher = new MicroBatcher<number>(async (items) => {
      sends.push(items);
      if (sends.length === 1) await blocked;
    }, 3, 1);
    const all = [batcher.submit([0]), batcher.submit([1, 2]), batcher.submit([3, 4]), batcher.submit([5, 6, 7, 8])];
    release();
    await Promise.all(all);
    expect(sends).toEqual([[[0]], [[1, 2]], [[3, 4]], [[5, 6, 7, 8]]]);
  });

  it('rejects every submission of a failed send', async () => {
    const batcher = new MicroBatcher<number>(() => Promise.reject(new Error('redis down')), 10, 1);
    await expect(batcher.submit([1])).rejects.toThrow('redis down');
  });

  it('drops a submission that times out before it is sent', async () => {
    const sends: number[][][] = [];
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const batcher = new MicroBatcher<number>(async (items) => {
      sends.push(items);
      await blocked;
    }, 10, 1);
    const first = batcher.submit([1]);
    const second = batcher.submit([2], 20);
    await expect(second).rejects.toThrow(SubmissionTimeoutError);
    release();
    await first;
    await batcher.drain();
    expect(sends).toEqual([[[1]]]);
  });
});
