/**
 * The keyset cursor of the API's lists (newest first by received_at, then id), and the exact instant text it
 * and the `since`/`until` parameters use.
 *
 * Instants travel as text in UTC with all six fractional digits (`2026-11-21T10:00:00.123456Z`): a JS Date
 * keeps milliseconds only, and a cursor that lost the microseconds would skip or repeat rows.
 */

import { badRequest } from '../http/errors.js';

/** Where a page ended: the last row's `received_at` (canonical UTC text, microseconds) and id. */
export interface KeysetCursor {
  receivedAt: string;
  id: string;
}

/** The SQL of a timestamptz column as canonical instant text (what formatInstant writes). */
export const instantText = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const MAX_BIGINT = 9223372036854775807n;

/** Whether a decimal string is an id PostgreSQL's bigint can hold. */
export const isBigintId = (value: string): boolean => /^[0-9]{1,19}$/.test(value) && BigInt(value) <= MAX_BIGINT;

/**
 * The cursor is opaque to clients (base64url of JSON), so its content may change; it is still checked field
 * by field, because a malformed one must be answered 400, never become a query error.
 */
export function encodeCursor(cursor: KeysetCursor): string {
  return Buffer.from(JSON.stringify({ r: cursor.receivedAt, i: cursor.id })).toString('base64url');
}

/** The cursor, or undefined when it is not one encodeCursor made. */
export function decodeCursor(text: string): KeysetCursor | undefined {
  // Buffer's base64url decoder skips characters outside the alphabet: refuse them rather than guess.
  if (text.length === 0 || text.length > 512 || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { r, i } = value as { r?: unknown; i?: unknown };
  if (typeof r !== 'string' || typeof i !== 'string' || !isBigintId(i)) return undefined;
  // Only the canonical form the list query writes: anything else did not come from us.
  const micros = parseInstant(r);
  if (micros === undefined || formatInstant(micros) !== r) return undefined;
  return { receivedAt: r, id: i };
}

/** The `cursor` query parameter: absent, or one encodeCursor made (400 invalid_cursor otherwise). */
export function cursorParam(text: string | undefined): KeysetCursor | undefined {
  if (text === undefined) return undefined;
  const cursor = decodeCursor(text);
  if (!cursor) throw badRequest('invalid_cursor', 'cursor is not one this API returned; start again without it');
  return cursor;
}

// RFC 3339 date-time, as the `date-time` format of the query schema accepts it (offsets included).
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/;

// What PostgreSQL's timestamptz and our canonical text both hold: years 0001 to 9999.
const MIN_MICROS = -62135596800000000n; // 0001-01-01T00:00:00Z
const MAX_MICROS = 253402300799999999n; // 9999-12-31T23:59:59.999999Z

/**
 * Microseconds since the epoch of an RFC 3339 date-time, or undefined when it names no instant (February 30)
 * or one outside years 1 to 9999. Digits past the microsecond are dropped. Done here rather than by
 * PostgreSQL, so that a bad value is a 400 and `since > until` can be told before any query; JS Date is no
 * help (milliseconds only, and it rolls February 30 over to March 2).
 */
export function parseInstant(text: string): bigint | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // 23:59:60 is a leap second in RFC 3339; PostgreSQL reads it as the next second, and so do we.
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const offsetHours = Number(m[9] ?? 0);
  const offsetMinutes = Number(m[10] ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const offset = (m[8] === '-' ? -1 : 1) * (offsetHours * 3600 + offsetMinutes * 60);
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  const fraction = BigInt((m[7] ?? '').slice(0, 6).padEnd(6, '0'));
  const micros = BigInt(seconds) * 1_000_000n + fraction;
  return micros < MIN_MICROS || micros > MAX_MICROS ? undefined : micros;
}

/** The canonical text of an instant: UTC, six fractional digits — what the list query writes. */
export function formatInstant(micros: bigint): string {
  const fraction = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const seconds = (micros - fraction) / 1_000_000n;
  // toISOString is exact to the second and writes four-digit years for 0001-9999.
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction.toString().padStart(6, '0')}Z`;
}

const isLeapYear = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
