import { Timestamp } from '@google-cloud/firestore';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAPPINGS } from '../../src/sync/default-mappings.js';
import { mapDocument } from '../../src/sync/document-mapper.js';
import { parseMappings } from '../../src/sync/mapping.js';

const [traces, meetings] = parseMappings(DEFAULT_MAPPINGS);

describe('the shipped traces mapping', () => {
  it('maps a toolkit trace document onto the trace columns', () => {
    const result = mapDocument(traces!, 'doc-1', {
      traceId: 'trace-1',
      name: 'chat',
      model: 'gpt-4o',
      provider: 'openai',
      status: 'completed',
      latencyMs: 812.5,
      usage: { promptTokens: 1200, completionTokens: 300 },
      cost: { totalUsd: 0.0123 },
      user: { id: 'u-9' },
      sessionId: 's-1',
      startedAt: Timestamp.fromMillis(Date.parse('2026-11-20T10:00:00Z')),
      endedAt: '2026-11-20T10:00:00.812Z',
      environment: 'prod',
      tags: ['a', 'b'],
      secretPrompt: 'not copied',
      updatedAt: Timestamp.now(),
    });
    expect(result).toEqual({
      ok: true,
      trace: {
        external_id: 'trace-1',
        name: 'chat',
        model: 'gpt-4o',
        provider: 'openai',
        status: 'success',
        latency_ms: 812.5,
        input_tokens: 1200,
        output_tokens: 300,
        cost_usd: 0.0123,
        user_id: 'u-9',
        session_id: 's-1',
        started_at: '2026-11-20T10:00:00.000Z',
        ended_at: '2026-11-20T10:00:00.812Z',
        metadata: { environment: 'prod', tags: ['a', 'b'], firestore: { collection: 'traces', document: 'doc-1' } },
      },
    });
  });

  it('uses the document id when the document has no trace id, and infers success from a latency', () => {
    const result = mapDocument(traces!, 'doc-2', { model: 'm', latencyMs: 5 });
    expect(result).toMatchObject({ ok: true, trace: { external_id: 'doc-2', status: 'success' } });
    expect(mapDocument(traces!, 'doc-3', { model: 'm' })).toMatchObject({ ok: true, trace: { status: null } });
  });

  it('names the document field and the problem when a document is malformed', () => {
    expect(mapDocument(traces!, 'd', { latencyMs: 'fast' })).toEqual({ ok: false, reason: 'latencyMs: must be a number (got "fast")' });
    expect(mapDocument(traces!, 'd', { usage: { inputTokens: -1 } })).toEqual({ ok: false, reason: 'usage.inputTokens: must not be negative' });
    expect(mapDocument(traces!, 'd', { status: 'exploded' })).toEqual({ ok: false, reason: 'status: must be one of success, error, running, cancelled' });
    expect(mapDocument(traces!, 'd', { startedAt: { seconds: 'x' } })).toEqual({ ok: false, reason: 'startedAt: must be a timestamp (got an object)' });
    expect(mapDocument(traces!, 'd', { model: 'x'.repeat(300) })).toEqual({ ok: false, reason: 'model: must be at most 256 characters' });
    expect(mapDocument(traces!, 'd', { traceId: '' })).toEqual({ ok: false, reason: 'traceId: must not be empty' });
  });
});

describe('the shipped meetings mapping', () => {
  it('maps a processed meeting: nested model and tokens, duration in seconds, its own statuses', () => {
    const result = mapDocument(meetings!, 'm-1', {
      meetingId: 'meeting-1',
      title: 'Weekly',
      processingStatus: 'summarizing',
      processing: { model: 'gpt-4o', provider: 'openai', durationSeconds: 42.5, tokens: { input: 9000, output: 700 }, costUsd: 0.05 },
      participantCount: 5,
      ownerId: 'owner-1',
    });
    expect(result).toMatchObject({
      ok: true,
      trace: {
        external_id: 'meeting-1',
        name: 'Weekly',
        status: 'running',
        latency_ms: 42500,
        input_tokens: 9000,
        output_tokens: 700,
        user_id: 'owner-1',
        metadata: { participantCount: 5, firestore: { collection: 'meetings', document: 'm-1' } },
      },
    });
    expect(mapDocument(meetings!, 'm-2', { processingStatus: 'DONE' })).toMatchObject({ ok: true, trace: { status: 'success', name: 'meeting' } });
  });
});

describe('transforms', () => {
  const mapping = parseMappings({
    collections: [
      {
        collection: 'calls',
        cursor: { field: 'ts', type: 'epoch_millis' },
        fields: {
          input_tokens: { paths: ['tokens.prompt', 'tokens.system'], transform: 'sum' },
          output_tokens: { path: 'tokens.out', transform: 'integer' },
          model: { path: 'modelVersion', transform: 'string' },
          started_at: { path: 'startMs', transform: 'timestamp' },
        },
      },
    ],
  })[0]!;

  it('sums several paths, rounds integers, stringifies and reads epoch milliseconds', () => {
    expect(mapDocument(mapping, 'x', { tokens: { prompt: 100, system: 20, out: '7' }, modelVersion: 4, startMs: Date.parse('2026-01-01T00:00:00Z') })).toMatchObject({
      ok: true,
      trace: { input_tokens: 120, output_tokens: 7, model: '4', started_at: '2026-01-01T00:00:00.000Z' },
    });
    expect(mapDocument(mapping, 'x', { tokens: { prompt: 'many' } })).toEqual({ ok: false, reason: 'tokens.prompt: must be a number (got "many")' });
  });
});
