import type { QueryDocumentSnapshot } from '@google-cloud/firestore';
import { compareDocuments, type CursorCodec, cursorCodec } from './cursor.js';
import { type FirestoreSource, resolveFirestore } from './firestore-client.js';
import type { CollectionMapping } from './mapping.js';
import { type RetryPolicy, withRetry } from './retry.js';

/** One document as the sync reads it. */
export interface SyncDocument {
  id: string;
  /** The cursor field as cursor text. */
  cursor: string;
  data: Record<string, unknown>;
  /** Firestore's own update time of this version, `<seconds>.<nanos>`: part of the event id. */
  version: string;
}

/**
 * The two queries the sync needs, with retries: the next documents after a cursor value, and all documents at
 * one value. Both use only `where` + `orderBy` + `limit`, which every Firestore backend (and the emulator we
 * test against) implements; results come back in (cursor, id) order whatever the backend's tie order.
 */
export class CollectionReader {
  readonly codec: CursorCodec;
  /** Calls still running, including ones a timeout gave up on: the client must not be terminated under them. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly firestore: FirestoreSource,
    readonly mapping: CollectionMapping,
    private readonly retry: RetryPolicy,
  ) {
    this.codec = cursorCodec(mapping);
  }

  /** Up to `limit` documents whose cursor is greater than `value` (or at least it, with `inclusive`). */
  async after(value: string, limit: number, inclusive = false): Promise<SyncDocument[]> {
    const { field } = this.mapping.cursor;
    const snapshot = await withRetry(async () => {
      const firestore = await resolveFirestore(this.firestore);
      return this.track(
        firestore
          .collection(this.mapping.collection)
          .where(field, inclusive ? '>=' : '>', this.codec.toQuery(value))
          .orderBy(field)
          .limit(limit)
          .get(),
      );
    }, this.retry);
    return this.toDocuments(snapshot.docs);
  }

  /** Every document whose cursor equals `value` (a group of ties), in id order. */
  async at(value: string): Promise<SyncDocument[]> {
    const snapshot = await withRetry(async () => {
      const firestore = await resolveFirestore(this.firestore);
      return this.track(firestore.collection(this.mapping.collection).where(this.mapping.cursor.field, '==', this.codec.toQuery(value)).get());
    }, this.retry);
    return this.toDocuments(snapshot.docs);
  }

  /**
   * Resolves once no call of this reader is running, or after `timeoutMs`. A call abandoned by its timeout goes
   * on retrying inside the client, and terminating the client under it rejects promises inside the SDK that
   * nobody awaits: wait for this before terminating.
   */
  async idle(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  private track<T>(call: Promise<T>): Promise<T> {
    this.inFlight.add(call);
    const forget = () => this.inFlight.delete(call);
    call.then(forget, forget);
    return call;
  }

  toDocument(doc: QueryDocumentSnapshot): SyncDocument | undefined {
    const cursor = this.codec.fromDocument(doc.get(this.mapping.cursor.field));
    if (cursor === undefined) return undefined;
    return { id: doc.id, cursor, data: doc.data(), version: versionOf(doc) };
  }

  private toDocuments(docs: QueryDocumentSnapshot[]): SyncDocument[] {
    const out: SyncDocument[] = [];
    for (const doc of docs) {
      const d = this.toDocument(doc);
      if (d) out.push(d);
    }
    return out.sort(compareDocuments(this.codec));
  }
}

export function versionOf(doc: { updateTime?: { seconds: number; nanoseconds: number } }): string {
  const t = doc.updateTime;
  return t ? `${t.seconds}.${String(t.nanoseconds).padStart(9, '0')}` : '0.000000000';
}
