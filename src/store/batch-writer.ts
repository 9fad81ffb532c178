/**
 * Merges the events of concurrently processed jobs into one write, flushed when `maxItems` are waiting or
 * `maxWaitMs` after the first arrived; one flush at a time, and whatever queued up during a flush goes out
 * right after it. Each caller's promise settles with its own part of the write.
 *
 * When a merged write fails, each part is written again on its own, so one bad job cannot fail the others.
 */
interface Part<T> {
  items: T[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class BatchWriter<T> {
  private parts: Part<T>[] = [];
  private count = 0;
  private flushing = false;
  private due = false;
  private timer: NodeJS.Timeout | undefined;
  private idle: (() => void)[] = [];

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    private readonly maxItems: number,
    private readonly maxWaitMs: number,
  ) {}

  write(items: T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.parts.push({ items, resolve, reject });
      this.count += items.length;
      this.schedule();
    });
  }

  /** Flushes what is waiting now and resolves when nothing is left (shutdown). */
  async drain(): Promise<void> {
    this.due = true;
    this.schedule();
    if (!this.flushing && this.parts.length === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.flushing) return;
    if (this.parts.length === 0) {
      this.idle.splice(0).forEach((r) => r());
      return;
    }
    if (this.due || this.count >= this.maxItems || this.maxWaitMs === 0) {
      void this.runFlush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.due = true;
        this.schedule();
      }, this.maxWaitMs);
    }
  }

  private async runFlush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = false;
    this.flushing = true;
    const taken: Part<T>[] = [];
    let n = 0;
    while (this.parts.length > 0 && (taken.length === 0 || n + this.parts[0]!.items.length <= this.maxItems)) {
      const part = this.parts.shift()!;
      taken.push(part);
      n += part.items.length;
    }
    this.count -= n;
    try {
      await this.flush(taken.length === 1 ? taken[0]!.items : taken.flatMap((p) => p.items));
      taken.forEach((p) => p.resolve());
    } catch (err) {
      if (taken.length === 1) taken[0]!.reject(err);
      else {
        for (const part of taken) {
          await this.flush(part.items).then(part.resolve, part.reject);
        }
      }
    } finally {
      this.flushing = false;
      // What arrived during the flush has already waited long enough.
      if (this.parts.length > 0) this.due = true;
      this.schedule();
    }
  }
}
