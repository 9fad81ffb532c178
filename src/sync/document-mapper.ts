import { Timestamp } from '@google-cloud/firestore';
import type { TraceFields } from '../ingest/ingest-event.js';
import { traceFieldsSchema } from '../ingest/payload-schema.js';
import { readPath, toJson } from './firestore-values.js';
import { type CollectionMapping, type FieldSpec, MAPPED_FIELDS, type MappedField } from './mapping.js';

/**
 * Turns one Firestore document into trace fields through its collection's mapping, or says why it cannot (the
 * reason names the document field). Pure: no I/O, so every mapping rule is unit-tested.
 */

export type MappedDocument = { ok: true; trace: TraceFields } | { ok: false; reason: string };


class FieldError extends Error {}

export function mapDocument(mapping: CollectionMapping, documentId: string, data: Record<string, unknown>): MappedDocument {
  const raw: Record<string, unknown> = {};
  const pathOf: Partial<Record<string, string>> = {};
  try {
    for (const field of MAPPED_FIELDS) {
      const spec = mapping.fields[field];
      if (spec === undefined) continue;
      const { value, path } = readField(spec, data, field);
      pathOf[field] = path;
      if (value !== undefined && value !== null) raw[field] = value;
    }
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, reason: err.message };
    throw err;
  }
  raw.id ??= documentId;
  const meta: Record<string, unknown> = {};
  for (const path of mapping.metadata) {
    const value = readPath(data, path);
    if (value !== undefined) meta[path] = toJson(value);
  }
  meta.firestore = { collection: mapping.collection, document: documentId };
  raw.metadata = meta;
  if (typeof raw.id === 'number') raw.id = String(raw.id);

  const parsed = traceFieldsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? '');
    const where = pathOf[field] ?? field;
    return { ok: false, reason: `${where}: ${issue.message}` };
  }
  const { id: externalId, ...fields } = parsed.data;
  const trace: TraceFields = { external_id: externalId, ...fields };
  // As for webhooks: a trace without a status is finished when it says when it ended or how long it took.
  if (!trace.status) trace.status = trace.ended_at || trace.latency_ms != null ? 'success' : null;
  return { ok: true, trace };
}

function readField(spec: FieldSpec, data: Record<string, unknown>, field: MappedField): { value: unknown; path: string } {
  const s = typeof spec === 'string' ? { path: spec } : spec;
  const paths = s.paths ?? [s.path!];
  if ('transform' in s && s.transform === 'sum') {
    let total: number | undefined;
    for (const p of paths) {
      const v = readPath(data, p);
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new FieldError(`${p}: must be a number (got ${describe(v)})`);
      total = (total ?? 0) + v;
    }
    return { value: total ?? ('default' in s ? s.default : undefined), path: paths.join('+') };
  }
  let path = paths[0]!;
  let value: unknown;
  for (const p of paths) {
    const v = readPath(data, p);
    if (v !== undefined && v !== null) {
      value = v;
      path = p;
      break;
    }
  }
  if (value === undefined && 'default' in s) value = s.default;
  if (value === undefined || value === null) return { value: undefined, path };
  const transform = 'transform' in s ? s.transform : undefined;
  try {
    return { value: applyTransform(transform, value, s, field), path };
  } catch (err) {
    if (err instanceof FieldError) throw new FieldError(`${path}: ${err.message}`);
    throw err;
  }
}

function applyTransform(transform: string | undefined, value: unknown, spec: Exclude<FieldSpec, string> | { path: string }, field: MappedField): unknown {
  switch (transform) {
    case undefined:
      // Untransformed times still arrive as Firestore Timestamps; everything else passes through to the schema.
      return value instanceof Timestamp ? value.toDate().toISOString() : value;
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw new FieldError(`must be a string (got ${describe(value)})`);
    case 'number':
    case 'integer': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw new FieldError(`must be a number (got ${describe(value)})`);
      return transform === 'integer' ? Math.round(n) : n;
    }
    case 'seconds_to_ms': {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new FieldError(`must be a number of seconds (got ${describe(value)})`);
      return value * 1000;
    }
    case 'timestamp':
      return toIsoTime(value);
    case 'status': {
      if (typeof value !== 'string') throw new FieldError(`must be a status string (got ${describe(value)})`);
      const map = 'map' in spec && spec.map ? spec.map : {};
      const mapped = Object.entries(map).find(([k]) => k.toLowerCase() === value.toLowerCase())?.[1];
      return mapped ?? value;
    }
    case 'json':
      return toJson(value);
    default:
      throw new FieldError(`unknown transform ${transform} for ${field}`);
  }
}

/** Accepts a Firestore Timestamp, a Date, an ISO 8601 string, or epoch milliseconds. */
function toIsoTime(value: unknown): string {
  if (value instanceof Timestamp) return value.toDate().toISOString();
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value < 1e14) return new Date(value).toISOString();
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  throw new FieldError(`must be a timestamp (got ${describe(value)})`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Timestamp) return 'a timestamp';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}
