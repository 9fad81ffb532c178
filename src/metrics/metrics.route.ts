import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';

/** `GET /metrics` in the Prometheus text format, from the service's own registry. */
async function metricsRoute(app: FastifyInstance, options: { registry: Registry }) {
  // Public as Prometheus scrapes it (protect it at the network, as is usual for exporters).
  app.get('/metrics', { logLevel: 'warn', config: { access: 'public' }, schema: { tags: ['monitoring'], summary: 'Prometheus metrics (text exposition format)' } }, async (_request, reply) => {
    const body = await options.registry.metrics();
    return reply.header('content-type', options.registry.contentType).send(body);
  });
}

export default fp(metricsRoute, { name: 'metrics-route' });
