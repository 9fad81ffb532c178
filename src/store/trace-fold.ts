import { type IngestEvent, TRACE_VALUE_FIELDS, type TraceFields } from '../ingest/ingest-event.js';

/**
 * Turns a batch of events into at most one write per trace. Events of one trace are ordered by version (the
 * event's own time, then its delivery id to break ties), so the result is the same whatever order the events
 * arrived in. PostgreSQL cannot upsert one row twice in a statement, so this folding is also required.
 */

export interface Version {
  at: string;
  eventId: string;
}

export const compareVersions = (a: Version, b: Version): number =>
  a.at < b.at ? -1 : a.at > b.at ? 1 : a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;

export interface TraceUpsert extends TraceFields {
  source: string;
  received_at: string;
  updated_at: string;
  last_event_id: string;
}

export interface TraceDelete {
  source: string;
  external_id: string;
  deleted_at: string;
  last_event_id: string;
}

export interface FoldedBatch {
  deletes: TraceDelete[];
  upserts: TraceUpsert[];
  /** For each upsert (same index): the events folded into it. */
  upsertEvents: IngestEvent[][];
  /** Upserts older than a delete of the same trace in this batch: they never reach the database. */
  superseded: IngestEvent[];
}


const versionOf = (e: IngestEvent): Version => ({ at: e.eventAt, eventId: e.deliveryId });

export function foldTraceEvents(events: readonly IngestEvent[]): FoldedBatch {
  const byTrace = new Map<string, IngestEvent[]>();
  for (const event of events) {
    const action = event.action;
    if (action.kind !== 'upsert' && action.kind !== 'delete') continue;
    const externalId = action.kind === 'upsert' ? action.trace.external_id : action.externalId;
    const key = `${event.source}\u0000${externalId}`;
    const list = byTrace.get(key);
    if (list) list.push(event);
    else byTrace.set(key, [event]);
  }

  const result: FoldedBatch = { deletes: [], upserts: [], upsertEvents: [], superseded: [] };
  // Sorted keys: every transaction takes row locks in the same order, which keeps deadlocks away.
  for (const key of [...byTrace.keys()].sort()) {
    const list = byTrace.get(key)!.sort((a, b) => compareVersions(versionOf(a), versionOf(b)));
    let lastDelete = -1;
    list.forEach((e, i) => {
      if (e.action.kind === 'delete') lastDelete = i;
    });
    if (lastDelete >= 0) {
      const d = list[lastDelete]!;
      result.deletes.push({
        source: d.source,
        external_id: (d.action as { externalId: string }).externalId,
        deleted_at: d.eventAt,
        last_event_id: d.deliveryId,
      });
      for (const e of list.slice(0, lastDelete)) if (e.action.kind === 'upsert') result.superseded.push(e);
    }
    const upserts = list.slice(lastDelete + 1);
    if (upserts.length === 0) continue;
    const newest = upserts[upserts.length - 1]!;
    const merged: TraceUpsert = {
      source: newest.source,
      external_id: '',
      received_at: upserts.reduce((min, e) => (e.receivedAt < min ? e.receivedAt : min), newest.receivedAt),
      updated_at: newest.eventAt,
      last_event_id: newest.deliveryId,
    };
    let metadata: Record<string, unknown> | null = null;
    for (const e of upserts) {
      const trace = (e.action as { trace: TraceFields }).trace;
      merged.external_id = trace.external_id;
      for (const field of TRACE_VALUE_FIELDS) {
        const value = trace[field];
        if (value !== undefined && value !== null) (merged as unknown as Record<string, unknown>)[field] = value;
      }
      if (trace.metadata) metadata = { ...(metadata ?? {}), ...trace.metadata };
    }
    if (metadata) merged.metadata = metadata;
    result.upserts.push(merged);
    result.upsertEvents.push(upserts);
  }
  return result;
}
