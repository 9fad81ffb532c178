import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';

/** `GET /metrics` in the Prometheus text format, from the service's own registry. */
async function metricsRoute(app: FastifyInstance, options: { registry: Registry }) {
  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    const body = await options.registry.metrics();
    return reply.header('content-type', options.registry.contentType).send(body);
  });
}

export default fp(metricsRoute, { name: 'metrics-route' });
