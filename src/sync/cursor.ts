import { Timestamp } from '@google-cloud/firestore';
import { rfc3339ToTimestamp, timestampToRfc3339 } from './firestore-values.js';
import type { CollectionMapping } from './mapping.js';

/**
 * The sync cursor: a position in a collection ordered by (cursor field, document id). `value` is the cursor
 * field as text, exact (RFC 3339 with nanoseconds, or epoch milliseconds). `documentId` says how far the
 * documents sharing that value were read: null means all of them, a string means those with an id up to and
 * including it ('' means none yet). Firestore orders ties by document id too, but our paging does not depend on
 * it: a group of ties is read whole and ordered here, which also works where `startAfter` is unavailable.
 */
export interface Cursor {
  value: string;
  documentId: string | null;
}

export interface CursorCodec {
  /** The cursor field of a document as cursor text, or undefined when it is missing or of the wrong type. */
  fromDocument(value: unknown): string | undefined;
  /** The value to put in a Firestore query. */
  toQuery(text: string): Timestamp | number;
  fromDate(date: Date): string;
  toDate(text: string): Date;
  compare(a: string, b: string): number;
}

const timestampCodec: CursorCodec = {
  fromDocument: (v) => (v instanceof Timestamp ? timestampToRfc3339(v) : undefined),
  toQuery: (text) => rfc3339ToTimestamp(text),
  fromDate: (date) => timestampToRfc3339(Timestamp.fromDate(date)),
  toDate: (text) => rfc3339ToTimestamp(text).toDate(),
  // Fixed-width RFC 3339 (9 fractional digits, UTC) sorts as text.
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
};

const epochMillisCodec: CursorCodec = {
  fromDocument: (v) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined),
  toQuery: (text) => Number(text),
  fromDate: (date) => String(date.getTime()),
  toDate: (text) => new Date(Number(text)),
  compare: (a, b) => Number(a) - Number(b),
};

export const cursorCodec = (mapping: CollectionMapping): CursorCodec =>
  mapping.cursor.type === 'epoch_millis' ? epochMillisCodec : timestampCodec;

/** Orders documents as the cursor walks them: by cursor value, then document id. */
export const compareDocuments =
  (codec: CursorCodec) =>
  (a: { cursor: string; id: string }, b: { cursor: string; id: string }): number =>
    codec.compare(a.cursor, b.cursor) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
