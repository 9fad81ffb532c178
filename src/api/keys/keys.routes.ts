import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'pg';
import { errorBodySchema, notFound } from '../../http/errors.js';
import { type ApiKeyRecord, createApiKey, listApiKeys, revokeApiKey } from '../auth/api-keys.repository.js';
import { ROLES, type Role } from '../auth/roles.js';
import { dataEnvelope, nullableDateTime } from '../envelope.js';

/**
 * API keys over HTTP (admin): list, create (the whole key is in the 201 reply and nowhere else, ever), revoke.
 * `npm run keys` does the same from a shell, for the first key.
 */

const keyItem = {
  type: 'object',
  required: ['id', 'name', 'role', 'created_at', 'revoked_at'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string', enum: [...ROLES] },
    created_at: { type: 'string', format: 'date-time' },
    created_by: { type: ['string', 'null'] },
    last_used_at: nullableDateTime,
    revoked_at: nullableDateTime,
  },
} as const;
const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema, 429: errorBodySchema } as const;

export const keyJson = (r: ApiKeyRecord) => ({
  id: r.id,
  name: r.name,
  role: r.role,
  created_at: r.created_at.toISOString(),
  created_by: r.created_by,
  last_used_at: r.last_used_at?.toISOString() ?? null,
  revoked_at: r.revoked_at?.toISOString() ?? null,
});

async function keysRoutes(app: FastifyInstance, options: { pool: Pool }) {
  const { pool } = options;

  app.get<{ Querystring: { include_revoked?: boolean } }>(
    '/live-data/api/keys',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'List API keys (never their secrets)',
        tags: ['keys'],
        querystring: { type: 'object', additionalProperties: false, properties: { include_revoked: { type: 'boolean', default: false } } },
        response: { 200: dataEnvelope({ type: 'array', items: keyItem }), ...errors },
      },
    },
    async (request) => ({ data: (await listApiKeys(pool, { includeRevoked: request.query.include_revoked ?? false })).map(keyJson) }),
  );

  app.post<{ Body: { name: string; role: Role } }>(
    '/live-data/api/keys',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Create an API key; the key is shown in this reply only',
        tags: ['keys'],
        body: {
          type: 'object',
          required: ['name', 'role'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, role: { type: 'string', enum: [...ROLES] } },
        },
        response: {
          201: dataEnvelope({ ...keyItem, required: [...keyItem.required, 'key'], properties: { ...keyItem.properties, key: { type: 'string' } } }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const { record, key } = await createApiKey(pool, { name: request.body.name, role: request.body.role, createdBy: request.principal?.name ?? null });
      request.log.info({ keyId: record.id, role: record.role, by: request.principal?.id }, 'API key created');
      return reply.status(201).send({ data: { ...keyJson(record), key } });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/live-data/api/keys/:id',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Revoke an API key (at once, on every replica)',
        tags: ['keys'],
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f]{12}$' } } },
        response: { 200: dataEnvelope(keyItem), ...errors },
      },
    },
    async (request) => {
      const record = await revokeApiKey(pool, request.params.id);
      if (!record) throw notFound('key_not_found', `no API key ${request.params.id}`);
      request.log.info({ keyId: record.id, by: request.principal?.id }, 'API key revoked');
      return { data: keyJson(record) };
    },
  );
}

export default fp(keysRoutes, { name: 'keys-routes', dependencies: ['error-handler', 'access'] });
