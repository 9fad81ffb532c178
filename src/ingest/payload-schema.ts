import { z } from 'zod';
import { badRequest, type HttpError } from '../http/errors.js';
import { TRACE_STATUSES, type TraceStatus } from './ingest-event.js';

/** Building blocks for the senders' payload schemas, and the one way a schema violation becomes a 400. */

export const shortText = (max = 256) => z.string().max(max, `must be at most ${max} characters`);
export const id = z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters');
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31);
/**
 * An ISO 8601 time with a zone, normalised to UTC (`...Z`). Bounded to what `timestamptz` stores: PostgreSQL
 * refuses year 0 and offsets beyond ±15:59, so anything it would refuse is a 400 here, never a stuck job.
 */
export const isoTimestamp = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 timestamp with a time zone' })
  .refine((v) => {
    const t = Date.parse(v);
    return t >= EARLIEST && t <= LATEST;
  }, 'must be between 1970-01-01 and 9999-12-31')
  .refine((v) => {
    const offset = /([+-])(\d{2}):?(\d{2})$/.exec(v);
    return !offset || Number(offset[2]) * 60 + Number(offset[3]) <= 14 * 60;
  }, 'must have a time zone offset within ±14:00')
  .transform((v) => new Date(v).toISOString());
export const count = z.number().int('must be a whole number').nonnegative('must not be negative').max(1e15);
export const amount = z.number().nonnegative('must not be negative').max(1e12);
/** Money in USD: `numeric(20, 10)` holds less than 1e10. */
export const usd = z.number().nonnegative('must not be negative').max(1e9, 'must be at most 1000000000');

const STATUS_ALIASES: Record<string, TraceStatus> = {
  success: 'success',
  succeeded: 'success',
  ok: 'success',
  completed: 'success',
  error: 'error',
  failed: 'error',
  failure: 'error',
  timeout: 'error',
  running: 'running',
  pending: 'running',
  started: 'running',
  in_progress: 'running',
  cancelled: 'cancelled',
  canceled: 'cancelled',
};

export const traceStatus = z
  .string()
  .transform((v, ctx) => {
    const status = STATUS_ALIASES[v.toLowerCase()];
    if (!status) {
      ctx.addIssue({ code: 'custom', message: `must be one of ${TRACE_STATUSES.join(', ')}` });
      return z.NEVER;
    }
    return status;
  });

export const metadata = z.record(z.string(), z.unknown());

/** A trace as any sender describes it (webhook body, mapped Firestore document): the same limits everywhere. */
export const traceFieldsSchema = z.object({
  id,
  name: shortText(512).nullish(),
  model: shortText().nullish(),
  provider: shortText().nullish(),
  status: traceStatus.nullish(),
  latency_ms: amount.nullish(),
  input_tokens: count.nullish(),
  output_tokens: count.nullish(),
  cost_usd: usd.nullish(),
  user_id: shortText().nullish(),
  session_id: shortText().nullish(),
  started_at: isoTimestamp.nullish(),
  ended_at: isoTimestamp.nullish(),
  metadata: metadata.nullish(),
});

/** Formats a zod path the way a sender writes it: `events[2].data.latency_ms`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, prefix: readonly PropertyKey[] = []): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = fieldPath([...prefix, ...issue.path]);
  return schemaError(path, issue.message);
}

export function schemaError(path: string, message: string): never {
  const err: HttpError = badRequest('invalid_payload', path ? `${path}: ${message}` : message);
  throw err;
}
