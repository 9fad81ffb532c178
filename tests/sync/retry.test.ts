import { describe, expect, it } from 'vitest';
import { errorReason, FirestoreCallError, withRetry } from '../../src/sync/retry.js';

const grpcError = (code: number, message = `grpc ${code}`) => Object.assign(new Error(message), { code });

describe('Firestore call retries', () => {
  it('backs off and retries unavailable and quota errors until the call succeeds', async () => {
    const waits: number[] = [];
    let calls = 0;
    const value = await withRetry(
      async () => {
        calls++;
        if (calls === 1) throw grpcError(14, '14 UNAVAILABLE: connection reset');
        if (calls === 2) throw grpcError(8, '8 RESOURCE_EXHAUSTED: quota');
        return 'ok';
      },
      { attempts: 5, baseMs: 20, maxMs: 1000, onRetry: (_err, _reason, _attempt, delayMs) => waits.push(delayMs) },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
    // Exponential with ±20 % jitter: about 20 ms, then about 40 ms.
    expect(waits[0]).toBeGreaterThanOrEqual(16);
    expect(waits[0]).toBeLessThanOrEqual(24);
    expect(waits[1]).toBeGreaterThanOrEqual(32);
    expect(waits[1]).toBeLessThanOrEqual(48);
  });

  it('gives up after its attempts with the reason of the last error', async () => {
    let calls = 0;
    const failing = withRetry(async () => {
      calls++;
      throw grpcError(8);
    }, { attempts: 3, baseMs: 1, maxMs: 5 });
    await expect(failing).rejects.toBeInstanceOf(FirestoreCallError);
    await expect(failing).rejects.toMatchObject({ reason: 'quota_exceeded' });
    expect(calls).toBe(3);
  });

  it('does not retry errors that another attempt cannot fix', async () => {
    let calls = 0;
    await expect(withRetry(async () => {
      calls++;
      throw grpcError(7, '7 PERMISSION_DENIED: missing role');
    }, { attempts: 5, baseMs: 1, maxMs: 5 })).rejects.toMatchObject({ reason: 'permission_denied' });
    expect(calls).toBe(1);
  });

  it('names missing credentials as unauthenticated', () => {
    expect(errorReason(new Error('Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication'))).toBe('unauthenticated');
    expect(errorReason(grpcError(4))).toBe('deadline_exceeded');
    expect(errorReason(new Error('something else'))).toBe('other');
  });
});

describe('a Firestore call that never answers', () => {
  it('times out as deadline_exceeded and is retried', async () => {
    let calls = 0;
    const result = withRetry(
      () => {
        calls++;
        return calls < 3 ? new Promise<string>(() => undefined) : Promise.resolve('third time');
      },
      { attempts: 3, baseMs: 1, maxMs: 5, timeoutMs: 50 },
    );
    await expect(result).resolves.toBe('third time');
    expect(calls).toBe(3);
    await expect(withRetry(() => new Promise<string>(() => undefined), { attempts: 2, baseMs: 1, maxMs: 5, timeoutMs: 30 })).rejects.toMatchObject({ reason: 'deadline_exceeded' });
  });
});
