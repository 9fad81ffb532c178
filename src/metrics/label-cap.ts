/**
 * Keeps a label's set of values bounded: the first `max` distinct values are used as they are, any value
 * after that is reported as `other`. Model names come from senders, so without a cap a typo-prone or hostile
 * sender could create unbounded series.
 */
export class LabelCap {
  private readonly seen = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly overflow = 'other',
    private readonly maxLength = 100,
  ) {}

  value(raw: string | null | undefined, missing = 'unknown'): string {
    if (raw === null || raw === undefined || raw === '') return missing;
    const value = raw.length > this.maxLength ? raw.slice(0, this.maxLength) : raw;
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return this.overflow;
    this.seen.add(value);
    return value;
  }
}
