/**
 * Groups concurrent submissions into one send, which receives them as they were submitted (one array each),
 * so the receiver can keep them apart. A submission is sent at once when a slot is free; while all
 * slots are busy, submissions accumulate and leave together when one frees ("adaptive flush"): low latency at
 * low load, large batches at high load, and no timer that makes every request wait.
 */
interface Submission<T> {
  items: T[];
  resolve: () => void;
  reject: (err: unknown) => void;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
}

export class SubmissionTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`not sent within ${timeoutMs} ms`);
    this.name = 'SubmissionTimeoutError';
  }
}

export class MicroBatcher<T> {
  private readonly pending: Submission<T>[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly send: (submissions: T[][]) => Promise<void>,
    private readonly maxItems: number,
    private readonly maxInFlight: number,
  ) {}

  /**
   * Resolves once the items are sent. A submission is never split: it travels whole in one send. After
   * `timeoutMs` it rejects with a SubmissionTimeoutError; if it was still waiting it is dropped, if it was
   * already being sent that send goes on (its caller has been told it failed).
   */
  submit(items: T[], timeoutMs?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const submission: Submission<T> = { items, resolve, reject, settled: false, timer: undefined };
      submission.resolve = () => this.settle(submission, () => resolve());
      submission.reject = (err) => this.settle(submission, () => reject(err));
      if (timeoutMs !== undefined) {
        // A plain timer, cleared on settlement: AbortSignal.timeout() cost ~30 µs per request here.
        submission.timer = setTimeout(() => submission.reject(new SubmissionTimeoutError(timeoutMs)), timeoutMs);
      }
      this.pending.push(submission);
      this.pump();
    });
  }

  get busy(): boolean {
    return this.inFlight > 0 || this.pending.length > 0;
  }

  /** Resolves when nothing is pending or in flight (used at shutdown). */
  drain(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settle(submission: Submission<T>, done: () => void): void {
    if (submission.settled) return;
    submission.settled = true;
    clearTimeout(submission.timer);
    done();
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight) {
      const taken: Submission<T>[] = [];
      let count = 0;
      while (this.pending.length > 0) {
        const next = this.pending[0]!;
        if (next.settled) {
          this.pending.shift(); // timed out while waiting: dropped
          continue;
        }
        if (taken.length > 0 && count + next.items.length > this.maxItems) break;
        this.pending.shift();
        taken.push(next);
        count += next.items.length;
      }
      if (taken.length === 0) break;
      this.inFlight++;
      this.send(taken.map((s) => s.items)).then(
        () => taken.forEach((s) => s.resolve()),
        (err: unknown) => taken.forEach((s) => s.reject(err)),
      ).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
    if (!this.busy) this.idleWaiters.splice(0).forEach((w) => w());
  }
}
