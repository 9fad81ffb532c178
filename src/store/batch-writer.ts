/**
 * Merges the events of concurrently processed jobs into one write. A write starts when `maxItems` are
 * waiting, when every caller that can still come is waiting (`maxParts` callers at most, less those whose part
 * is being written: every worker slot is then blocked on us), or `maxWaitMs` after the first arrived; up to `maxConcurrent` writes run at once, and whatever queued up
 * while they ran leaves as soon as one finishes. Each caller's promise settles with its own part.
 *
 * When a merged write fails, each part is written again on its own, so one bad job cannot fail the others.
 */
interface Part<T> {
  items: T[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface BatchWriterOptions {
  maxItems: number;
  maxWaitMs: number;
  maxParts?: number;
  maxConcurrent?: number;
}

export class BatchWriter<T> {
  private parts: Part<T>[] = [];
  private count = 0;
  private flushing = 0;
  /** Parts taken by the writes in progress: their callers cannot add more until those writes end. */
  private partsWriting = 0;
  private due = false;
  private timer: NodeJS.Timeout | undefined;
  private idle: (() => void)[] = [];
  private readonly maxParts: number;
  private readonly maxConcurrent: number;

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    private readonly options: BatchWriterOptions,
  ) {
    this.maxParts = options.maxParts ?? Infinity;
    this.maxConcurrent = options.maxConcurrent ?? 1;
  }

  write(items: T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.parts.push({ items, resolve, reject });
      this.count += items.length;
      this.schedule();
    });
  }

  /** Writes what is waiting now and resolves when nothing is left (shutdown). */
  async drain(): Promise<void> {
    this.due = true;
    this.schedule();
    if (this.flushing === 0 && this.parts.length === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.parts.length === 0) {
      if (this.flushing === 0) this.idle.splice(0).forEach((r) => r());
      return;
    }
    if (this.flushing >= this.maxConcurrent) return;
    const full = this.count >= this.options.maxItems || this.parts.length >= this.maxParts - this.partsWriting;
    if (this.due || full || this.options.maxWaitMs === 0) {
      this.startFlush();
      this.schedule(); // another write may start if enough is still waiting
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.due = true;
        this.schedule();
      }, this.options.maxWaitMs);
    }
  }

  private startFlush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = false;
    const taken: Part<T>[] = [];
    let n = 0;
    while (this.parts.length > 0 && (taken.length === 0 || n + this.parts[0]!.items.length <= this.options.maxItems)) {
      const part = this.parts.shift()!;
      taken.push(part);
      n += part.items.length;
    }
    this.count -= n;
    this.flushing++;
    this.partsWriting += taken.length;
    void this.writeParts(taken).finally(() => {
      this.flushing--;
      this.partsWriting -= taken.length;
      // What arrived during the write has already waited long enough.
      if (this.parts.length > 0) this.due = true;
      this.schedule();
    });
  }

  private async writeParts(taken: Part<T>[]): Promise<void> {
    try {
      await this.flush(taken.length === 1 ? taken[0]!.items : taken.flatMap((p) => p.items));
      taken.forEach((p) => p.resolve());
    } catch (err) {
      if (taken.length === 1) {
        taken[0]!.reject(err);
        return;
      }
      for (const part of taken) await this.flush(part.items).then(part.resolve, part.reject);
    }
  }
}
