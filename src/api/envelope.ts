/**
 * The one response envelope of the live data API: `{"data": ...}` for a resource, plus `page` for lists read by
 * keyset (`next_cursor` is null on the last page). Errors use the one error shape (http/errors.ts).
 */
export const dataEnvelope = <S extends object>(data: S) =>
  ({ type: 'object', required: ['data'], additionalProperties: false, properties: { data } }) as const;

export const pageSchema = {
  type: 'object',
  required: ['limit', 'next_cursor'],
  properties: { limit: { type: 'integer' }, next_cursor: { type: ['string', 'null'] } },
} as const;

export const pageEnvelope = <S extends object>(item: S) =>
  ({
    type: 'object',
    required: ['data', 'page'],
    additionalProperties: false,
    properties: { data: { type: 'array', items: item }, page: pageSchema },
  }) as const;

/** A timestamp field of a reply that may be empty (ISO 8601 text or null). */
export const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
