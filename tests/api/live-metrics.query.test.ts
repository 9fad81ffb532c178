import { describe, expect, it } from 'vitest';
import { stepSecondsFor } from '../../src/api/metrics/live-metrics.query.js';

describe('stepSecondsFor', () => {
  it('grows the step with the window at the documented thresholds', () => {
    const cases: [number, number][] = [
      [1, 60],
      [2, 300], [6, 300],
      [7, 900], [24, 900],
      [25, 3600], [168, 3600],
      [169, 21600], [720, 21600],
    ];
    for (const [hours, step] of cases) expect(stepSecondsFor(hours), `${hours} h`).toBe(step);
  });

  it('keeps every window between 24 and ~170 points, on steps that divide a day', () => {
    for (let hours = 1; hours <= 720; hours++) {
      const step = stepSecondsFor(hours);
      expect(86_400 % step, `${hours} h`).toBe(0);
      // A window not aligned to the step touches one bucket more than it spans.
      const points = (hours * 3600) / step + 1;
      expect(points, `${hours} h`).toBeGreaterThanOrEqual(24);
      expect(points, `${hours} h`).toBeLessThanOrEqual(170);
    }
  });
});
