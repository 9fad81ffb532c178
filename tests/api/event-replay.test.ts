import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rebuildEvent, type StoredEvent } from '../../src/api/webhook-events/event-replay.js';
import type { IngestEvent } from '../../src/ingest/ingest-event.js';
import type { Verified } from '../../src/ingest/signatures.js';
import { WEBHOOK_SOURCES } from '../../src/ingest/sources/index.js';

// Read here rather than through webhook-client.ts, which starts from the whole runtime: this file needs none.
const fixture = (name: string): string => readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url), 'utf8');

/**
 * The replay rebuilds an event from its stored row alone. The reference is what the webhook route queued in
 * the first place: each case parses a body as the route does, stores its events as the persister would
 * (through JSON, as jsonb does), rebuilds them, and expects the same event back but for its reception time.
 */

const RECEIVED = '2026-11-21T09:00:00.000Z';
const REPLAYED = '2026-11-22T10:00:00.000Z';

function acceptedEvents(source: keyof typeof WEBHOOK_SOURCES, body: unknown, verified: Verified = {}): IngestEvent[] {
  return WEBHOOK_SOURCES[source].parse(body, { headers: {}, receivedAt: RECEIVED, verified, maxEvents: 100 });
}

/** The row as INSERT_EVENTS_SQL or markEventsFailed leaves it (timestamps come back from pg as Dates). */
const storedRow = (event: IngestEvent): StoredEvent => ({
  source: event.source,
  delivery_id: event.deliveryId,
  event_type: event.eventType,
  event_at: new Date(event.eventAt),
  received_at: new Date(event.receivedAt),
  payload: JSON.parse(JSON.stringify(event.payload)),
});

function expectSameAfterReplay(events: IngestEvent[]) {
  expect(events.length).toBeGreaterThan(0);
  for (const original of events) {
    const rebuilt = rebuildEvent(storedRow(original), REPLAYED);
    expect(rebuilt).toEqual({ ok: true, event: { ...original, receivedAt: REPLAYED } });
  }
}

const reason = (row: StoredEvent) => {
  const rebuilt = rebuildEvent(row, REPLAYED);
  if (rebuilt.ok) throw new Error('expected the event to be refused');
  return rebuilt.reason;
};

describe('rebuildEvent: the same event as the webhook route queued', () => {
  it('custom: a single trace.created, with its trace mapped again', () => {
    const events = acceptedEvents('custom', JSON.parse(fixture('custom-trace-created.json')));
    expectSameAfterReplay(events);
    const rebuilt = rebuildEvent(storedRow(events[0]!), REPLAYED);
    expect(rebuilt.ok && rebuilt.event.action).toMatchObject({
      kind: 'upsert',
      trace: { external_id: 'trace-8f14e45f', model: 'gemini-1.5-pro', input_tokens: 5120, started_at: '2026-11-20T16:20:28.801Z' },
    });
  });

  it('custom: every event of a batch (update, evaluation, delete)', () => {
    const events = acceptedEvents('custom', JSON.parse(fixture('custom-batch.json')));
    expect(events.map((e) => e.action.kind)).toEqual(['upsert', 'record', 'delete']);
    expectSameAfterReplay(events);
  });

  it('custom: a created trace without status gets the status the route derived', () => {
    const events = acceptedEvents('custom', { event_type: 'trace.created', event_id: 'e1', data: { id: 't1', latency_ms: 10 } });
    expect(events[0]!.action).toMatchObject({ kind: 'upsert', trace: { status: 'success' } });
    expectSameAfterReplay(events);
  });

  it('custom: an unknown event type is rebuilt as ignored', () => {
    const events = acceptedEvents('custom', { event_type: 'span.created', event_id: 'e2', data: {} });
    expect(events[0]!.action).toEqual({ kind: 'ignore' });
    expectSameAfterReplay(events);
  });

  it('custom: an event without event_id keeps its content-hash id and its reception time as version', () => {
    const events = acceptedEvents('custom', { event_type: 'trace.created', data: { id: 't3', status: 'ok' } });
    expect(events[0]!.deliveryId).toMatch(/^sha256:/);
    expect(events[0]!.eventAt).toBe(RECEIVED);
    expectSameAfterReplay(events);
  });

  it('custom: a batch item that itself has an `events` key is still read as one event', () => {
    const events = acceptedEvents('custom', {
      events: [{ event_type: 'trace.created', event_id: 'e4', events: ['not', 'a', 'batch'], data: { id: 't4', status: 'success' } }],
    });
    expectSameAfterReplay(events);
  });

  it('standard: batch events named by webhook-id#index and versioned by the signature timestamp', () => {
    const verified: Verified = { deliveryId: 'msg_2Yx', timestampSeconds: 1763650000 };
    const events = acceptedEvents('standard', {
      events: [
        { event_type: 'trace.created', data: { id: 's1', model: 'm', status: 'running' } },
        { event_type: 'trace.deleted', data: { id: 's0' } },
      ],
    }, verified);
    expect(events.map((e) => e.deliveryId)).toEqual(['msg_2Yx#0', 'msg_2Yx#1']);
    expect(events[0]!.eventAt).toBe('2025-11-20T14:46:40.000Z');
    expectSameAfterReplay(events);
  });

  it('standard: a single event named by webhook-id', () => {
    expectSameAfterReplay(acceptedEvents('standard', { event_type: 'alert.triggered', data: { rule: 'x' } }, { deliveryId: 'msg_9' }));
  });

  it('langfuse: prompt-version (its type derived from the action) and monitor-alert are recorded', () => {
    const prompt = acceptedEvents('langfuse', JSON.parse(fixture('langfuse-prompt-version.json')));
    expect(prompt[0]!.eventType).toBe('prompt-version.created');
    expectSameAfterReplay(prompt);
    const alert = acceptedEvents('langfuse', JSON.parse(fixture('langfuse-monitor-alert.json')));
    expect(alert[0]!.action).toEqual({ kind: 'record' });
    expectSameAfterReplay(alert);
  });

  it('langwatch: a gateway request becomes its trace again, a budget event is recorded', () => {
    const events = acceptedEvents('langwatch', JSON.parse(fixture('langwatch-batch.json')));
    expect(events.map((e) => e.action.kind)).toEqual(['upsert', 'record']);
    expectSameAfterReplay(events);
    const rebuilt = rebuildEvent(storedRow(events[0]!), REPLAYED);
    expect(rebuilt.ok && rebuilt.event.action).toMatchObject({
      kind: 'upsert',
      trace: { external_id: 'req_01JD4X8Q2V', model: 'gpt-4o-mini', latency_ms: 1840, input_tokens: 1203, output_tokens: 311 },
    });
  });

  it('uses the stored reception time as version when a row has no event time', () => {
    const [event] = acceptedEvents('custom', { event_type: 'trace.created', event_id: 'e5', data: { id: 't5' } });
    const rebuilt = rebuildEvent({ ...storedRow(event!), event_at: null, received_at: '2026-11-20T01:02:03.456Z' }, REPLAYED);
    expect(rebuilt.ok && rebuilt.event.eventAt).toBe('2026-11-20T01:02:03.456Z');
  });
});

describe('rebuildEvent: events that cannot be replayed', () => {
  const custom = (payload: unknown, eventType = 'trace.created'): StoredEvent => ({
    source: 'custom',
    delivery_id: 'evt-x',
    event_type: eventType,
    event_at: new Date(RECEIVED),
    received_at: new Date(RECEIVED),
    payload,
  });

  it('refuses Firestore documents, whichever source their mapping gives them', () => {
    const document = {
      delivery_id: 'firestore:traces/doc-1@2026-11-20T10:00:00.000000Z',
      event_type: 'firestore.document',
      event_at: new Date(RECEIVED),
      received_at: new Date(RECEIVED),
      payload: { collection: 'traces', document: 'doc-1', data: {} },
    };
    expect(reason({ ...document, source: 'firestore' })).toMatch(/sync reads them again/);
    expect(reason({ ...document, source: 'custom' })).toMatch(/sync reads them again/);
    expect(reason({ ...document, source: 'custom', event_type: 'firestore.document.deleted' })).toMatch(/sync reads them again/);
  });

  it('refuses a source without a webhook parser', () => {
    expect(reason({ ...custom({}), source: 'zapier' })).toBe('source "zapier" has no webhook parser to rebuild its events');
  });

  it('refuses a payload that no longer validates, naming the field as it is in the payload', () => {
    expect(reason(custom({ event_type: 'trace.created', event_id: 'evt-x', data: { id: 't', input_tokens: -1 } })))
      .toBe('the stored payload no longer validates: data.input_tokens: must not be negative');
    expect(reason(custom('not an object'))).toMatch(/^the stored payload no longer validates: \S/);
    expect(reason({ ...custom({ id: 'x' }), source: 'langwatch', event_type: 'gateway.request.completed' }))
      .toMatch(/^the stored payload no longer validates: type: /);
    expect(reason({ ...custom({ timestamp: 'yesterday' }), source: 'langfuse', event_type: 'monitor-alert' }))
      .toMatch(/^the stored payload no longer validates: id: /);
  });

  it('refuses a payload whose event type is not the row\'s', () => {
    expect(reason(custom({ event_type: 'trace.deleted', event_id: 'evt-x', data: { id: 't' } })))
      .toBe('the stored payload is a "trace.deleted" event, the row a "trace.created" event');
  });
});
