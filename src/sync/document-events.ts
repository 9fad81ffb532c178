import type { IngestEvent } from '../ingest/ingest-event.js';
import type { DocumentOutcome } from '../metrics/sync.metrics.js';
import type { PersistOutcome } from '../store/event-persister.js';
import type { SyncDocument } from './collection-reader.js';
import type { CursorCodec } from './cursor.js';
import { mapDocument } from './document-mapper.js';
import { toJson } from './firestore-values.js';
import type { CollectionMapping } from './mapping.js';

/**
 * Firestore documents as ingest events, so they take the webhooks' idempotent path. The event id is the
 * document's path and Firestore update time: reading the same version twice stores it once, and a newer
 * version is a new event. The event time (the trace's version) is the document's cursor field, its own
 * update time: a trace that also arrives by webhook ends as whichever of the two is newer.
 */

export const documentEventId = (collection: string, doc: SyncDocument) => `firestore:${collection}/${doc.id}@${doc.version}`;

export function documentEvent(mapping: CollectionMapping, codec: CursorCodec, doc: SyncDocument, receivedAt: string): IngestEvent {
  const mapped = mapDocument(mapping, doc.id, doc.data);
  return {
    source: mapping.source,
    deliveryId: documentEventId(mapping.collection, doc),
    eventType: 'firestore.document',
    eventAt: codec.toDate(doc.cursor).toISOString(),
    receivedAt,
    payload: { collection: mapping.collection, document: doc.id, cursor: doc.cursor, update_time: doc.version, data: toJson(doc.data) },
    action: mapped.ok ? { kind: 'upsert', trace: mapped.trace } : { kind: 'reject', reason: mapped.reason },
  };
}

/** A trace whose document is gone from Firestore: deleted (with a tombstone) as of `deletedAt`. */
export function deletionEvent(mapping: CollectionMapping, documentId: string, externalId: string, deletedAt: Date): IngestEvent {
  const at = deletedAt.toISOString();
  return {
    source: mapping.source,
    deliveryId: `firestore:${mapping.collection}/${documentId}@deleted:${at}`,
    eventType: 'firestore.document.deleted',
    eventAt: at,
    receivedAt: new Date().toISOString(),
    payload: { collection: mapping.collection, document: documentId, deleted_at: at },
    action: { kind: 'delete', externalId },
  };
}

/** What became of each document of a committed batch, for `vertigo_sync_documents_total{outcome}`. */
export function documentOutcomes(events: readonly IngestEvent[], outcome: PersistOutcome): DocumentOutcome[] {
  const byId = new Map(events.map((e) => [e.deliveryId, e]));
  return outcome.events.map((o) => {
    const event = byId.get(o.deliveryId);
    if (o.status === 'duplicate') return 'unchanged';
    if (event?.action.kind === 'reject') return 'malformed';
    if (event?.action.kind === 'delete') return o.status === 'processed' ? 'deleted' : 'unchanged';
    return o.status === 'processed' ? 'written' : 'superseded';
  });
}
