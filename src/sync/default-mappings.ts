/**
 * The shipped mappings (the same JSON a FIRESTORE_SYNC_MAPPINGS_FILE holds; docs/firestore-sync.md shows them).
 * `traces`: one document per LLM call, as the original toolkit wrote them. `meetings`: one document per meeting
 * processed by an LLM meeting assistant (transcription + summary), with its model, token counts and duration.
 */
export const DEFAULT_MAPPINGS = {
  collections: [
    {
      collection: 'traces',
      source: 'firestore',
      cursor: { field: 'updatedAt', type: 'timestamp' },
      fields: {
        id: { paths: ['traceId', 'id'] },
        name: 'name',
        model: { paths: ['model', 'llm.model'] },
        provider: { paths: ['provider', 'llm.provider'] },
        status: { path: 'status', transform: 'status' },
        latency_ms: { paths: ['latencyMs', 'latency_ms'], transform: 'number' },
        input_tokens: { paths: ['usage.inputTokens', 'usage.promptTokens', 'inputTokens'], transform: 'integer' },
        output_tokens: { paths: ['usage.outputTokens', 'usage.completionTokens', 'outputTokens'], transform: 'integer' },
        cost_usd: { paths: ['costUsd', 'cost.totalUsd', 'cost'], transform: 'number' },
        user_id: { paths: ['userId', 'user.id'] },
        session_id: 'sessionId',
        started_at: { path: 'startedAt', transform: 'timestamp' },
        ended_at: { path: 'endedAt', transform: 'timestamp' },
      },
      metadata: ['environment', 'tags', 'release'],
    },
    {
      collection: 'meetings',
      source: 'firestore',
      cursor: { field: 'updatedAt', type: 'timestamp' },
      fields: {
        id: { paths: ['meetingId', 'id'] },
        name: { paths: ['title', 'name'], default: 'meeting' },
        model: { paths: ['processing.model', 'model'] },
        provider: { paths: ['processing.provider', 'provider'] },
        status: {
          path: 'processingStatus',
          transform: 'status',
          map: { transcribing: 'running', summarizing: 'running', queued: 'running', done: 'success', processed: 'success' },
        },
        latency_ms: { path: 'processing.durationSeconds', transform: 'seconds_to_ms' },
        input_tokens: { paths: ['processing.tokens.input', 'tokens.input'], transform: 'integer' },
        output_tokens: { paths: ['processing.tokens.output', 'tokens.output'], transform: 'integer' },
        cost_usd: { paths: ['processing.costUsd', 'costUsd'], transform: 'number' },
        user_id: { paths: ['ownerId', 'userId'] },
        session_id: 'seriesId',
        started_at: { path: 'processing.startedAt', transform: 'timestamp' },
        ended_at: { path: 'processing.completedAt', transform: 'timestamp' },
      },
      metadata: ['meetingDurationSeconds', 'participantCount', 'language'],
    },
  ],
} as const;
