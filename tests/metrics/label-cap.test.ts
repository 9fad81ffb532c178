import { describe, expect, it } from 'vitest';
import { LabelCap } from '../../src/metrics/label-cap.js';

describe('LabelCap', () => {
  it('keeps the first values and folds the rest into other', () => {
    const cap = new LabelCap(2);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((v) => cap.value(v))).toEqual(['a', 'b', 'other', 'a', 'other', 'b']);
  });
  it('names missing values and truncates long ones', () => {
    const cap = new LabelCap(5, 'other', 4);
    expect(cap.value(null)).toBe('unknown');
    expect(cap.value('')).toBe('unknown');
    expect(cap.value('abcdefgh')).toBe('abcd');
  });
});
