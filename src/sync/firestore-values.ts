import { DocumentReference, GeoPoint, Timestamp } from '@google-cloud/firestore';

/**
 * Conversions between Firestore's value types and what the rest of the service stores: ISO strings for
 * times, plain JSON for payloads. The cursor keeps Firestore's full precision (nanoseconds) as RFC 3339 text,
 * so that a stored cursor reproduces the exact value it was read as.
 */

export function timestampToRfc3339(ts: Timestamp): string {
  const base = new Date(ts.seconds * 1000).toISOString().slice(0, 19);
  return `${base}.${String(ts.nanoseconds).padStart(9, '0')}Z`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/;

export function rfc3339ToTimestamp(text: string): Timestamp {
  const match = RFC3339.exec(text);
  if (!match) throw new Error(`not an RFC 3339 UTC timestamp: ${text}`);
  const seconds = Date.parse(`${match[1]}Z`) / 1000;
  const nanos = Number((match[2] ?? '').padEnd(9, '0'));
  return new Timestamp(seconds, nanos);
}

/** A Firestore document's data as JSON: Timestamps become ISO strings, references their path. */
export function toJson(value: unknown, depth = 0): unknown {
  if (depth > 64) return null;
  if (value === null || value === undefined) return null;
  if (value instanceof Timestamp) return value.toDate().toISOString();
  if (value instanceof Date) return value.toISOString();
  if (value instanceof DocumentReference) return value.path;
  if (value instanceof GeoPoint) return { latitude: value.latitude, longitude: value.longitude };
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map((v) => toJson(v, depth + 1));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = toJson(v, depth + 1);
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  // PostgreSQL's jsonb refuses the NUL character.
  if (typeof value === 'string') return value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
  return value;
}

/** Reads a dotted path (`usage.input_tokens`) out of a document's data. */
export function readPath(data: Record<string, unknown>, path: string): unknown {
  let current: unknown = data;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object' || current instanceof Timestamp) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}
