import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type ComponentHealth, type HealthCheck, runCheck } from './checks.js';
import type { Lifecycle } from './lifecycle.js';

export interface HealthRoutesOptions {
  lifecycle: Lifecycle;
  checks: HealthCheck[];
  version: string;
  timeoutMs?: number;
}

const probeReply = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' }, reason: { type: 'string' } },
} as const;

const healthReply = {
  type: 'object',
  required: ['status', 'timestamp', 'version', 'components'],
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded', 'down'] },
    timestamp: { type: 'string' },
    version: { type: 'string' },
    components: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'status', 'response_time_ms'],
        properties: {
          name: { type: 'string' },
          status: { type: 'string' },
          response_time_ms: { type: 'number' },
          message: { type: 'string' },
        },
      },
    },
  },
} as const;

/**
 * Kubernetes probes. Liveness never looks at dependencies (a Redis outage must not restart every pod);
 * readiness says whether this pod should get traffic; startup says whether start-up has finished.
 */
async function healthRoutes(app: FastifyInstance, options: HealthRoutesOptions) {
  const { lifecycle, checks, version } = options;
  const timeoutMs = options.timeoutMs ?? 1000;
  const schema = (reply: object) => ({ schema: { response: { 200: reply, 503: reply } }, logLevel: 'warn' as const });

  app.get('/health/live', schema(probeReply), async () => ({ status: 'ok' }));

  app.get('/health/startup', schema(probeReply), async (_request, reply) =>
    lifecycle.started ? { status: 'ok' } : reply.status(503).send({ status: 'starting' }),
  );

  app.get('/health/ready', schema(probeReply), async (_request, reply) => {
    if (lifecycle.shuttingDown) return reply.status(503).send({ status: 'not_ready', reason: 'shutting down' });
    if (!lifecycle.started) return reply.status(503).send({ status: 'not_ready', reason: 'starting' });
    if (!lifecycle.migrated) return reply.status(503).send({ status: 'not_ready', reason: 'migrations not applied' });
    const results = await Promise.all(checks.filter((c) => c.critical).map((c) => runCheck(c, timeoutMs)));
    const down = results.find((r) => r.status === 'down');
    if (down) return reply.status(503).send({ status: 'not_ready', reason: `${down.name}: ${down.message ?? 'down'}` });
    return { status: 'ok' };
  });

  app.get('/health', schema(healthReply), async (_request, reply) => {
    const components: ComponentHealth[] = await Promise.all(checks.map((c) => runCheck(c, timeoutMs)));
    const criticalDown = components.some((c) => c.status === 'down' && checks.find((k) => k.name === c.name)?.critical);
    const status = lifecycle.shuttingDown || criticalDown
      ? 'down'
      : components.some((c) => c.status !== 'ok')
        ? 'degraded'
        : 'ok';
    return reply.status(status === 'down' ? 503 : 200).send({
      status,
      timestamp: new Date().toISOString(),
      version,
      components,
    });
  });
}

export default fp(healthRoutes, { name: 'health-routes', dependencies: ['error-handler'] });
