import type { SyncErrorReason } from '../metrics/sync.metrics.js';
import { cappedExponentialDelay } from '../queue/queues.js';

/**
 * Retries of Firestore calls: quota and availability errors back off exponentially (with jitter) and try again;
 * everything else fails at once. gRPC status codes as the Firestore client reports them in `err.code`.
 */

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
  /** One attempt that takes longer fails as deadline_exceeded (an unreachable Firestore takes ~45 s to say so). */
  timeoutMs?: number;
  /** Told of every retryable failure before the wait (metrics, logs). */
  onRetry?: (err: unknown, reason: SyncErrorReason, attempt: number, delayMs: number) => void;
}

const GRPC = { DEADLINE_EXCEEDED: 4, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, ABORTED: 10, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 };

export function errorReason(err: unknown): SyncErrorReason {
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case GRPC.UNAVAILABLE:
    case GRPC.INTERNAL:
    case GRPC.ABORTED:
      return 'unavailable';
    case GRPC.RESOURCE_EXHAUSTED:
      return 'quota_exceeded';
    case GRPC.DEADLINE_EXCEEDED:
      return 'deadline_exceeded';
    case GRPC.UNAUTHENTICATED:
      return 'unauthenticated';
    case GRPC.PERMISSION_DENIED:
      return 'permission_denied';
  }
  if (/default credentials|could not load the default|invalid_grant|credential/i.test(message)) return 'unauthenticated';
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|socket hang up/i.test(message)) return 'unavailable';
  return 'other';
}

const RETRYABLE = new Set<SyncErrorReason>(['unavailable', 'quota_exceeded', 'deadline_exceeded']);
export const isRetryable = (err: unknown): boolean => RETRYABLE.has(errorReason(err));

/** A Firestore call that failed for good (not retryable, or out of attempts), with its bounded reason. */
export class FirestoreCallError extends Error {
  constructor(
    readonly reason: SyncErrorReason,
    cause: unknown,
  ) {
    super(`firestore ${reason}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'FirestoreCallError';
  }
}

export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (policy.timeoutMs ? withTimeout(fn(), policy.timeoutMs) : fn());
    } catch (err) {
      const reason = errorReason(err);
      if (!RETRYABLE.has(reason) || attempt >= policy.attempts) throw new FirestoreCallError(reason, err);
      const delayMs = cappedExponentialDelay(attempt, policy.baseMs, policy.maxMs);
      policy.onRetry?.(err, reason, attempt, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`no answer from Firestore within ${timeoutMs} ms`), { code: GRPC.DEADLINE_EXCEEDED })), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
