import type { Pool, PoolClient } from 'pg';
import { isFinalStatus, type IngestEvent } from '../ingest/ingest-event.js';
import { foldTraceEvents } from './trace-fold.js';
import { deleteTraces, upsertTraces, type WrittenTrace } from './trace.repository.js';

/**
 * Writes a batch of events in one transaction: the `webhook_events` rows (deduplicated on source + delivery
 * id), their effect on `live_traces`, and each event's final status. A batch either commits whole or not at
 * all, so a worker killed at any point leaves nothing half-stored and the retried job finds the same state.
 */

export type EventStatus = 'processed' | 'duplicate' | 'ignored' | 'failed';

export interface EventOutcome {
  source: string;
  deliveryId: string;
  eventType: string;
  status: EventStatus;
}

export interface PersistOutcome {
  events: EventOutcome[];
  /** Traces that reached a final status (success, error, cancelled) for the first time in this batch. */
  completed: WrittenTrace[];
  rows: { eventsInserted: number; tracesWritten: number; tracesDeleted: number };
}

interface InsertedEvent {
  source: string;
  delivery_id: string;
  inserted: boolean;
}

/**
 * Each event is inserted with its final status. A redelivery conflicts on (source, delivery_id): it only adds
 * to `attempts`, except that it heals an event whose job had failed for good (its effect has just been applied).
 */
const INSERT_EVENTS_SQL = `
INSERT INTO webhook_events AS w
  (source, delivery_id, event_type, payload, event_at, received_at, attempts, status, error, processed_at)
SELECT source, delivery_id, event_type, payload, event_at, received_at, attempts, status, error, now()
FROM jsonb_to_recordset($1::jsonb) AS i(source text, delivery_id text, event_type text, payload jsonb,
                                         event_at timestamptz, received_at timestamptz, attempts integer,
                                         status text, error text)
ORDER BY source, delivery_id
ON CONFLICT (source, delivery_id) DO UPDATE SET
  attempts = w.attempts + EXCLUDED.attempts,
  status = CASE WHEN w.status = 'failed' THEN EXCLUDED.status ELSE w.status END,
  error = CASE WHEN w.status = 'failed' THEN EXCLUDED.error ELSE w.error END,
  processed_at = CASE WHEN w.status = 'failed' THEN EXCLUDED.processed_at ELSE w.processed_at END
RETURNING source, delivery_id, (xmax = 0) AS inserted`;

const eventKey = (source: string, deliveryId: string) => `${source}\u0000${deliveryId}`;

type Status = { status: EventStatus; error: string | null };

/**
 * Writes a batch in one transaction: trace effects first, then every event with its final status. A
 * redelivered event goes through the trace step too, where it changes nothing (its version is already
 * stored), and is then recognised by the conflict on (source, delivery_id).
 */
export async function persistEvents(
  pool: Pool,
  events: readonly IngestEvent[],
  /** More work for the same transaction (a pull source's cursor), run after the events are written. */
  withinTransaction?: (client: PoolClient) => Promise<void>,
): Promise<PersistOutcome> {
  // Redeliveries inside one batch: the first copy is kept, the others only add to its attempts.
  const unique = new Map<string, { event: IngestEvent; copies: number }>();
  for (const event of events) {
    const key = eventKey(event.source, event.deliveryId);
    const seen = unique.get(key);
    if (seen) seen.copies++;
    else unique.set(key, { event, copies: 1 });
  }
  const items = [...unique.values()];
  const outcome: PersistOutcome = {
    events: [],
    completed: [],
    rows: { eventsInserted: 0, tracesWritten: 0, tracesDeleted: 0 },
  };
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const statuses = await applyTraceEffects(client, items.map((i) => i.event), outcome);
    const inserted = await insertEvents(client, items, statuses);
    for (const row of inserted) {
      const { event, copies } = unique.get(eventKey(row.source, row.delivery_id))!;
      const record = (status: EventStatus) =>
        outcome.events.push({ source: event.source, deliveryId: event.deliveryId, eventType: event.eventType, status });
      if (row.inserted) {
        outcome.rows.eventsInserted++;
        record(statuses.get(event)!.status);
      }
      for (let i = row.inserted ? 1 : 0; i < copies; i++) record('duplicate');
    }
    if (withinTransaction) await withinTransaction(client);
    await client.query('COMMIT');
    return outcome;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function applyTraceEffects(client: PoolClient, events: IngestEvent[], outcome: PersistOutcome): Promise<Map<IngestEvent, Status>> {
  const statuses = new Map<IngestEvent, Status>();
  const folded = foldTraceEvents(events);
  outcome.rows.tracesDeleted = await deleteTraces(client, folded.deletes);
  const written = await upsertTraces(client, folded.upserts);
  const writtenByKey = new Map(written.map((w) => [eventKey(w.source, w.external_id), w]));
  folded.upserts.forEach((upsert, index) => {
    const result = writtenByKey.get(eventKey(upsert.source, upsert.external_id));
    const applied = result?.written === true;
    if (applied) {
      outcome.rows.tracesWritten++;
      if (isFinalStatus(result.status) && !isFinalStatus(result.previous_status)) outcome.completed.push(result);
    }
    for (const e of folded.upsertEvents[index]!) {
      statuses.set(e, applied
        ? { status: 'processed', error: null }
        : { status: 'ignored', error: 'superseded: a newer version of this trace (or its deletion) is stored' });
    }
  });
  for (const e of folded.superseded) {
    statuses.set(e, { status: 'ignored', error: 'superseded: the trace was deleted by a newer event' });
  }
  for (const e of events) {
    if (statuses.has(e)) continue;
    statuses.set(e, e.action.kind === 'ignore'
      ? { status: 'ignored', error: `unknown event type "${e.eventType}"` }
      : e.action.kind === 'reject'
        ? { status: 'ignored', error: `malformed: ${e.action.reason}` }
        : { status: 'processed', error: null });
  }
  return statuses;
}

async function insertEvents(
  client: PoolClient,
  items: { event: IngestEvent; copies: number }[],
  statuses: Map<IngestEvent, Status>,
): Promise<InsertedEvent[]> {
  if (items.length === 0) return [];
  const rows = items.map(({ event, copies }) => ({
    source: event.source,
    delivery_id: event.deliveryId,
    event_type: event.eventType,
    payload: event.payload,
    event_at: event.eventAt,
    received_at: event.receivedAt,
    attempts: copies,
    ...statuses.get(event)!,
  }));
  const { rows: inserted } = await client.query<InsertedEvent>(INSERT_EVENTS_SQL, [JSON.stringify(rows)]);
  return inserted;
}

/**
 * Marks events of an exhausted job as failed, inserting rows for those never stored, so the failure is
 * visible in `webhook_events`; events of the job that were stored keep their status. Returns the source of
 * each event marked. Best effort: when the database is what failed, this fails too.
 */
export async function markEventsFailed(pool: Pool, events: readonly IngestEvent[], error: string): Promise<string[]> {
  const unique = new Map(events.map((e) => [eventKey(e.source, e.deliveryId), e]));
  const rows = [...unique.values()].map((e) => ({
    source: e.source,
    delivery_id: e.deliveryId,
    event_type: e.eventType,
    payload: e.payload,
    event_at: e.eventAt,
    received_at: e.receivedAt,
  }));
  const { rows: marked } = await pool.query<{ source: string }>(
    `INSERT INTO webhook_events AS w (source, delivery_id, event_type, payload, event_at, received_at, status, error)
     SELECT source, delivery_id, event_type, payload, event_at, received_at, 'failed', $2
     FROM jsonb_to_recordset($1::jsonb) AS i(source text, delivery_id text, event_type text, payload jsonb,
                                              event_at timestamptz, received_at timestamptz)
     ON CONFLICT (source, delivery_id) DO UPDATE SET status = 'failed', error = EXCLUDED.error
     WHERE w.status IN ('received', 'failed')
     RETURNING w.source`,
    [JSON.stringify(rows), error.slice(0, 2000)],
  );
  return marked.map((r) => r.source);
}
