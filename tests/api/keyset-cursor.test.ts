import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, formatInstant, isBigintId, parseInstant } from '../../src/api/keyset-cursor.js';
import { likePattern } from '../../src/api/traces/live-traces.query.js';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

describe('trace list cursor', () => {
  it('round-trips the last row to the microsecond, whatever the id', () => {
    for (const cursor of [
      { receivedAt: '2026-11-21T10:00:00.000001Z', id: '1' },
      { receivedAt: '2026-11-21T10:00:00.999999Z', id: '9223372036854775807' },
      { receivedAt: '1969-12-31T23:59:59.999999Z', id: '0' },
      { receivedAt: '0001-01-01T00:00:00.000000Z', id: '42' },
      { receivedAt: '9999-12-31T23:59:59.999999Z', id: '42' },
    ]) {
      const text = encodeCursor(cursor);
      expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(text)).toEqual(cursor);
    }
  });

  it('refuses anything encodeCursor did not make', () => {
    const bad = [
      '',
      'not a cursor',
      'abc+/=',
      'x'.repeat(600),
      b64('not json'),
      b64(null),
      b64(42),
      b64(['2026-11-21T10:00:00.000000Z', '1']),
      b64({ r: '2026-11-21T10:00:00.000000Z' }),
      b64({ i: '1' }),
      b64({ r: '2026-11-21T10:00:00.000000Z', i: 1 }),
      b64({ r: '2026-11-21T10:00:00.000000Z', i: '-1' }),
      b64({ r: '2026-11-21T10:00:00.000000Z', i: '1; DROP TABLE live_traces' }),
      b64({ r: '2026-11-21T10:00:00.000000Z', i: '9223372036854775808' }),
      // Not the canonical text: no microseconds, an offset, month 13, February 30, a leap second.
      b64({ r: '2026-11-21T10:00:00Z', i: '1' }),
      b64({ r: '2026-11-21T10:00:00.000000+00:00', i: '1' }),
      b64({ r: '2026-13-01T00:00:00.000000Z', i: '1' }),
      b64({ r: '2026-02-30T00:00:00.000000Z', i: '1' }),
      b64({ r: '2026-12-31T23:59:60.000000Z', i: '1' }),
      b64({ r: '0000-01-01T00:00:00.000000Z', i: '1' }),
    ];
    for (const text of bad) expect(decodeCursor(text), text).toBeUndefined();
  });
});

describe('parseInstant / formatInstant', () => {
  it('reads RFC 3339 date-times with any offset to the microsecond, in UTC', () => {
    const cases: [string, string][] = [
      ['2026-11-21T10:00:00Z', '2026-11-21T10:00:00.000000Z'],
      ['2026-11-21t10:00:00.5z', '2026-11-21T10:00:00.500000Z'],
      ['2026-11-21T10:00:00.123456789Z', '2026-11-21T10:00:00.123456Z'],
      ['2026-11-21T12:00:00.000001+02:00', '2026-11-21T10:00:00.000001Z'],
      ['2026-11-21T05:30:00-0430', '2026-11-21T10:00:00.000000Z'],
      ['2026-11-21T00:30:00-10', '2026-11-21T10:30:00.000000Z'],
      ['2026-11-21 10:00:00Z', '2026-11-21T10:00:00.000000Z'],
      ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000000Z'],
      ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000000Z'],
      ['2026-12-31T23:59:60Z', '2027-01-01T00:00:00.000000Z'],
      ['1969-12-31T23:59:59.999999Z', '1969-12-31T23:59:59.999999Z'],
      ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00.000000Z'],
      ['0001-01-01T01:00:00+01:00', '0001-01-01T00:00:00.000000Z'],
      ['9999-12-31T23:59:59.999999Z', '9999-12-31T23:59:59.999999Z'],
    ];
    for (const [input, canonical] of cases) {
      const micros = parseInstant(input);
      expect(micros, input).toBeTypeOf('bigint');
      expect(formatInstant(micros!), input).toBe(canonical);
    }
    expect(parseInstant('1970-01-01T00:00:00.000001Z')).toBe(1n);
    expect(parseInstant('1969-12-31T23:59:59.999999Z')).toBe(-1n);
  });

  it('refuses dates that do not exist and instants PostgreSQL cannot store', () => {
    for (const input of [
      '2026-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-00-10T00:00:00Z', '2026-13-01T00:00:00Z',
      '2026-01-00T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T10:60:00Z', '2026-01-01T10:00:61Z',
      '2026-01-01T10:00:00+24:00', '2026-01-01T10:00:00', '2026-01-01', 'yesterday', '',
      '0000-12-31T23:59:59Z', '0001-01-01T00:00:00+00:01', '9999-12-31T23:59:59-00:01',
    ]) {
      expect(parseInstant(input), input).toBeUndefined();
    }
  });

  it('agrees with Date for every instant Date can name', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0001-01-02T00:00:00Z'), max: new Date('9999-12-30T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        (date, offsetMinutes) => {
          // The same instant written in a zone `offsetMinutes` east of UTC.
          const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23);
          const sign = offsetMinutes < 0 ? '-' : '+';
          const abs = Math.abs(offsetMinutes);
          const text = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          expect(parseInstant(text)).toBe(BigInt(date.getTime()) * 1000n);
          expect(formatInstant(parseInstant(text)!)).toBe(date.toISOString().replace('Z', '000Z'));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('likePattern', () => {
  it('matches the text anywhere, with %, _ and backslashes taken literally', () => {
    expect(likePattern('chat')).toBe('%chat%');
    expect(likePattern('50%')).toBe('%50\\%%');
    expect(likePattern('a_b')).toBe('%a\\_b%');
    expect(likePattern('C:\\tmp')).toBe('%C:\\\\tmp%');
  });
});

describe('isBigintId', () => {
  it('accepts the ids a bigint can hold, nothing else', () => {
    expect(isBigintId('1')).toBe(true);
    expect(isBigintId('9223372036854775807')).toBe(true);
    expect(isBigintId('9223372036854775808')).toBe(false);
    expect(isBigintId('12345678901234567890')).toBe(false);
    for (const bad of ['', '-1', '1.0', '1e3', ' 1', 'abc']) expect(isBigintId(bad), bad).toBe(false);
  });
});
