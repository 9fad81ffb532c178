import { SOURCE_NAMES } from '../config/config.js';

/** Where a trace comes from: a webhook sender, or a pull (Firestore); a bounded label on /metrics. */
export const TRACE_SOURCES = [...SOURCE_NAMES, 'firestore'] as const;
export type TraceSource = (typeof TRACE_SOURCES)[number];

/** Trace statuses after normalisation; `running` is the only one that is not final. */
export const TRACE_STATUSES = ['success', 'error', 'running', 'cancelled'] as const;
export type TraceStatus = (typeof TRACE_STATUSES)[number];
export const isFinalStatus = (status: string | null | undefined): boolean =>
  status === 'success' || status === 'error' || status === 'cancelled';

/**
 * A trace as a sender describes it, in the column names of `live_traces`. Every field but the id is optional:
 * an update carries only what changed, and absent fields keep their stored value.
 */
export interface TraceFields {
  external_id: string;
  name?: string | null;
  model?: string | null;
  provider?: string | null;
  status?: TraceStatus | null;
  latency_ms?: number | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  cost_usd?: number | null;
  user_id?: string | null;
  session_id?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  metadata?: Record<string, unknown> | null;
}

/** The value columns of a trace (all but its id and metadata), in one place for every path that fills them. */
export const TRACE_VALUE_FIELDS = [
  'name',
  'model',
  'provider',
  'status',
  'latency_ms',
  'input_tokens',
  'output_tokens',
  'cost_usd',
  'user_id',
  'session_id',
  'started_at',
  'ended_at',
] as const satisfies readonly (keyof TraceFields)[];

/** What storing an event does to `live_traces`. */
export type EventAction =
  | { kind: 'upsert'; trace: TraceFields }
  | { kind: 'delete'; externalId: string }
  /** A known event that is kept in `webhook_events` only (prompt versions, alerts, evaluations). */
  | { kind: 'record' }
  /** Read from a pull source but unusable (a malformed document): kept as `ignored` with the reason. */
  | { kind: 'reject'; reason: string }
  /** An event type we do not know: kept, marked `ignored`, never retried by the sender. */
  | { kind: 'ignore' };

/** One event, verified and validated, as it travels through the queue to the persist worker. */
export interface IngestEvent {
  source: TraceSource;
  /** The sender's id for this event: unique per source, the idempotency key of `webhook_events`. */
  deliveryId: string;
  eventType: string;
  /** The event's own time (ISO 8601): the version used to decide which of two updates is newer. */
  eventAt: string;
  receivedAt: string;
  payload: unknown;
  action: EventAction;
}

/** Event types counted on /metrics under their own name; everything else is `other` (bounded labels). */
export const KNOWN_EVENT_TYPES = new Set([
  'trace.created',
  'trace.updated',
  'trace.deleted',
  'evaluation.completed',
  'alert.triggered',
  'prompt-version.created',
  'prompt-version.updated',
  'prompt-version.deleted',
  'monitor-alert',
  'gateway.request.completed',
  'gateway.request.failed',
  'gateway.budget.threshold_crossed',
  'firestore.document',
  'firestore.document.deleted',
]);
export const eventTypeLabel = (eventType: string): string => (KNOWN_EVENT_TYPES.has(eventType) ? eventType : 'other');
