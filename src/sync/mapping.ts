import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TRACE_SOURCES, TRACE_VALUE_FIELDS } from '../ingest/ingest-event.js';
import { DEFAULT_MAPPINGS } from './default-mappings.js';

/**
 * Collection mappings: which Firestore collections to read, the cursor field, and how document fields become a
 * trace. They are configuration, read from the JSON file named by FIRESTORE_SYNC_MAPPINGS_FILE (the shipped
 * defaults otherwise) and validated once at start; docs/firestore-sync.md explains how to write one.
 */

export const TRANSFORMS = ['string', 'number', 'integer', 'timestamp', 'seconds_to_ms', 'status', 'sum', 'json'] as const;
export type Transform = (typeof TRANSFORMS)[number];

/** A trace field read from one path, or the first present of several (`paths`), with an optional transform. */
const fieldSpec = z.union([
  z.string().min(1),
  z
    .object({
      path: z.string().min(1).optional(),
      paths: z.array(z.string().min(1)).min(1).optional(),
      transform: z.enum(TRANSFORMS).optional(),
      /** For `status`: document values (case-insensitive) to trace statuses, before the built-in aliases. */
      map: z.record(z.string(), z.enum(['success', 'error', 'running', 'cancelled'])).optional(),
      /** Used when the document has no value at the path(s). */
      default: z.union([z.string(), z.number()]).optional(),
    })
    .strict()
    .refine((s) => (s.path === undefined) !== (s.paths === undefined), 'give exactly one of path or paths'),
]);
export type FieldSpec = z.infer<typeof fieldSpec>;

export const MAPPED_FIELDS = ['id', ...TRACE_VALUE_FIELDS] as const;
export type MappedField = (typeof MAPPED_FIELDS)[number];

const collectionName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be a top-level collection id: 1-100 letters, digits, - or _');

export const collectionMapping = z
  .object({
    collection: collectionName,
    /** The `source` of the traces it yields; a webhook source name makes Firestore and webhooks share traces. */
    source: z.enum(TRACE_SOURCES).default('firestore'),
    cursor: z
      .object({
        field: z.string().min(1),
        /** How the cursor field is stored: a Firestore Timestamp, or epoch milliseconds as a number. */
        type: z.enum(['timestamp', 'epoch_millis']).default('timestamp'),
      })
      .strict(),
    intervalSeconds: z.number().int().min(5).max(86400).optional(),
    batchSize: z.number().int().min(1).max(10000).optional(),
    live: z.boolean().default(true),
    fields: z
      .object(Object.fromEntries(MAPPED_FIELDS.map((f) => [f, fieldSpec.optional()])) as Record<MappedField, z.ZodOptional<typeof fieldSpec>>)
      .strict(),
    /** Document paths copied into the trace's metadata, under their path as key. */
    metadata: z.array(z.string().min(1)).max(100).default([]),
  })
  .strict();
export type CollectionMapping = z.infer<typeof collectionMapping>;

const mappingFile = z
  .object({ collections: z.array(collectionMapping).min(1) })
  .strict()
  .refine((f) => new Set(f.collections.map((c) => c.collection)).size === f.collections.length, 'a collection is mapped twice');

export class MappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingError';
  }
}

/** Validates mappings (parsed JSON); the error names the first wrong field as `collections[1].fields.status`. */
export function parseMappings(value: unknown, origin = 'mappings'): CollectionMapping[] {
  const parsed = mappingFile.safeParse(value);
  if (!parsed.success) {
    const issue = mostSpecific(parsed.error.issues[0]!);
    const path = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
    throw new MappingError(`${origin}: ${path ? `${path}: ` : ''}${issue.message}`);
  }
  return parsed.data.collections;
}

/** Of a union's failed branches, the issue that got deepest: `fields.status.transform`, not "Invalid input". */
function mostSpecific(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const candidates = issue.errors.flat().map((inner) => mostSpecific({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue));
  return candidates.reduce((best, c) => (c.path.length > best.path.length ? c : best));
}

/** The mappings in force: the file's when a path is given, the shipped defaults otherwise. */
export function loadMappings(path: string | undefined): CollectionMapping[] {
  if (!path) return parseMappings(DEFAULT_MAPPINGS, 'default mappings');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new MappingError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new MappingError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return parseMappings(json, path);
}
