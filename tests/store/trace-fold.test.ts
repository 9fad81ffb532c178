import { describe, expect, it } from 'vitest';
import type { IngestEvent, TraceFields } from '../../src/ingest/ingest-event.js';
import { foldTraceEvents } from '../../src/store/trace-fold.js';

const upsert = (id: string, at: number, trace: Partial<TraceFields>): IngestEvent => ({
  source: 'custom',
  deliveryId: id,
  eventType: 'trace.updated',
  eventAt: new Date(Date.UTC(2026, 0, 1, 0, 0, at)).toISOString(),
  receivedAt: new Date(Date.UTC(2026, 0, 2, 0, 0, at)).toISOString(),
  payload: {},
  action: { kind: 'upsert', trace: { external_id: 't', ...trace } },
});
const remove = (id: string, at: number): IngestEvent => ({
  ...upsert(id, at, {}),
  eventType: 'trace.deleted',
  action: { kind: 'delete', externalId: 't' },
});

describe('foldTraceEvents', () => {
  it('merges the events of one trace in version order, whatever the arrival order', () => {
    const events = [
      upsert('e3', 3, { status: 'error', metadata: { b: 2 } }),
      upsert('e1', 1, { status: 'running', model: 'm', latency_ms: 5, metadata: { a: 1, b: 1 } }),
      upsert('e2', 2, { latency_ms: 9 }),
    ];
    for (const order of [events, [...events].reverse()]) {
      const folded = foldTraceEvents(order);
      expect(folded.upserts).toHaveLength(1);
      expect(folded.upserts[0]).toMatchObject({
        external_id: 't',
        status: 'error',
        model: 'm',
        latency_ms: 9,
        metadata: { a: 1, b: 2 },
        updated_at: '2026-01-01T00:00:03.000Z',
        last_event_id: 'e3',
        received_at: '2026-01-02T00:00:01.000Z',
      });
      expect(folded.upsertEvents[0]!.map((e) => e.deliveryId)).toEqual(['e1', 'e2', 'e3']);
    }
  });

  it('breaks equal timestamps by event id', () => {
    const folded = foldTraceEvents([upsert('b', 1, { status: 'error' }), upsert('a', 1, { status: 'success' })]);
    expect(folded.upserts[0]).toMatchObject({ status: 'error', last_event_id: 'b' });
  });

  it('lets a delete supersede older updates but not newer ones', () => {
    const folded = foldTraceEvents([upsert('u1', 1, { status: 'running' }), remove('d2', 2), upsert('u3', 3, { status: 'success' })]);
    expect(folded.deletes).toEqual([{ source: 'custom', external_id: 't', deleted_at: '2026-01-01T00:00:02.000Z', last_event_id: 'd2' }]);
    expect(folded.superseded.map((e) => e.deliveryId)).toEqual(['u1']);
    expect(folded.upserts).toHaveLength(1);
    expect(folded.upserts[0]).toMatchObject({ status: 'success', last_event_id: 'u3' });
    expect(folded.upserts[0]!.model).toBeUndefined();
  });

  it('keeps traces apart by source and ignores non-trace events', () => {
    const other = { ...upsert('x', 1, {}), source: 'langwatch' as const };
    const record = { ...upsert('r', 1, {}), action: { kind: 'record' as const } };
    expect(foldTraceEvents([upsert('a', 1, {}), other, record]).upserts).toHaveLength(2);
  });
});
