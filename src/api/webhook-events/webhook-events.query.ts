import type { Pool } from 'pg';
import { instantText, isBigintId, type KeysetCursor } from '../keyset-cursor.js';

/**
 * Reads of `webhook_events` for the live data API: a newest-first list read by keyset, and one row by id for
 * the replay. Pure functions of a pool, so that the routes hold no state and tests can call them directly.
 */

/** The statuses the migration allows (CHECK on webhook_events.status). */
export const WEBHOOK_EVENT_STATUSES = ['received', 'processed', 'duplicate', 'ignored', 'failed'] as const;
export type WebhookEventStatus = (typeof WEBHOOK_EVENT_STATUSES)[number];

export interface WebhookEventRow {
  /** bigint as text: ids are not bounded by a double. */
  id: string;
  source: string;
  delivery_id: string;
  event_type: string;
  status: WebhookEventStatus;
  error: string | null;
  attempts: number;
  event_at: Date | null;
  received_at: Date;
  processed_at: Date | null;
  /** Only when asked for: payloads can be large. */
  payload?: unknown;
}


export interface ListEventsQuery {
  status?: WebhookEventStatus | undefined;
  source?: string | undefined;
  eventType?: string | undefined;
  limit: number;
  after?: KeysetCursor | undefined;
  includePayload?: boolean | undefined;
}

export interface EventPage {
  rows: WebhookEventRow[];
  /** Where the next page starts; undefined on the last page. */
  next: KeysetCursor | undefined;
}

const COLUMNS = `id::text AS id, source, delivery_id, event_type, status, error, attempts, event_at, received_at, processed_at`;

// The cursor's instant to the microsecond: `$n::timestamptz` reads it back as exactly the stored one.
const RECEIVED_AT_MICROS = `${instantText('received_at')} AS cursor_received_at`;

/**
 * One page, newest first by (received_at, id). ORDER BY names the table's columns (`w.`): a bare `id` would
 * be the text alias of the select list, where '9' sorts after '12'. The keyset condition is a row comparison,
 * which PostgreSQL turns into a range on the received_at indexes (the filters' own indexes lead with source
 * or status). One row more than the limit is read to know whether there is a next page.
 */
export async function listWebhookEvents(pool: Pool, query: ListEventsQuery): Promise<EventPage> {
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (query.status !== undefined) where.push(`status = ${param(query.status)}`);
  if (query.source !== undefined) where.push(`source = ${param(query.source)}`);
  if (query.eventType !== undefined) where.push(`event_type = ${param(query.eventType)}`);
  if (query.after) {
    where.push(`(received_at, id) < (${param(query.after.receivedAt)}::timestamptz, ${param(query.after.id)}::bigint)`);
  }
  const sql = `
    SELECT ${COLUMNS}${query.includePayload ? ', payload' : ''}, ${RECEIVED_AT_MICROS}
    FROM webhook_events AS w
    ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY w.received_at DESC, w.id DESC
    LIMIT ${param(query.limit + 1)}`;
  const { rows } = await pool.query<WebhookEventRow & { cursor_received_at: string }>(sql, values);
  const more = rows.length > query.limit;
  const page = more ? rows.slice(0, query.limit) : rows;
  const last = page.at(-1);
  return {
    rows: page.map(({ cursor_received_at: _, ...row }) => row),
    next: more && last ? { receivedAt: last.cursor_received_at, id: last.id } : undefined,
  };
}

/** What the replay needs of one event (its payload included), or undefined when there is no such id. */
export async function findWebhookEvent(pool: Pool, id: string): Promise<Required<WebhookEventRow> | undefined> {
  if (!isBigintId(id)) return undefined;
  const { rows } = await pool.query<Required<WebhookEventRow>>(
    `SELECT ${COLUMNS}, payload FROM webhook_events WHERE id = $1::bigint`,
    [id],
  );
  return rows[0];
}
