import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { errorBodySchema } from '../http/errors.js';
import { type ComponentHealth, type HealthCheck, runCheck, withTimeout } from './checks.js';
import type { Lifecycle } from './lifecycle.js';

export interface HealthRoutesOptions {
  lifecycle: Lifecycle;
  checks: HealthCheck[];
  version: string;
  role: string;
  /** Job counts per queue and state, for /health/detailed. */
  queueCounts?: () => Promise<Record<string, Record<string, number>>>;
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

const detailedReply = {
  type: 'object',
  required: ['status', 'timestamp', 'version', 'components', 'process', 'lifecycle', 'queues'],
  properties: {
    ...healthReply.properties,
    process: {
      type: 'object',
      required: ['role', 'pid', 'uptime_seconds', 'rss_bytes', 'heap_used_bytes', 'node_version'],
      properties: {
        role: { type: 'string' },
        pid: { type: 'integer' },
        uptime_seconds: { type: 'number' },
        rss_bytes: { type: 'integer' },
        heap_used_bytes: { type: 'integer' },
        node_version: { type: 'string' },
      },
    },
    lifecycle: {
      type: 'object',
      required: ['started', 'migrated', 'shutting_down'],
      properties: { started: { type: 'boolean' }, migrated: { type: 'boolean' }, shutting_down: { type: 'boolean' } },
    },
    /** Job counts per queue and state; null when Redis did not answer. */
    queues: { type: ['object', 'null'], additionalProperties: { type: 'object', additionalProperties: { type: 'integer' } } },
  },
} as const;

/**
 * Kubernetes probes. Liveness never looks at dependencies (a Redis outage must not restart every pod);
 * readiness says whether this pod should get traffic; startup says whether start-up has finished.
 */
async function healthRoutes(app: FastifyInstance, options: HealthRoutesOptions) {
  const { lifecycle, checks, version } = options;
  const timeoutMs = options.timeoutMs ?? 1000;
  // Probes are public: kubelets and load balancers call them without credentials, and they say nothing secret.
  const schema = (reply: object) => ({
    schema: { tags: ['health'], response: { 200: reply, 503: reply } },
    logLevel: 'warn' as const,
    config: { access: 'public' as const },
  });

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

  const overall = async () => {
    const components: ComponentHealth[] = await Promise.all(checks.map((c) => runCheck(c, timeoutMs)));
    const criticalDown = components.some((c) => c.status === 'down' && checks.find((k) => k.name === c.name)?.critical);
    const status = lifecycle.shuttingDown || criticalDown
      ? 'down'
      : components.some((c) => c.status !== 'ok')
        ? 'degraded'
        : 'ok';
    return { status, timestamp: new Date().toISOString(), version, components };
  };

  app.get('/health', schema(healthReply), async (_request, reply) => {
    const body = await overall();
    return reply.status(body.status === 'down' ? 503 : 200).send(body);
  });

  // For people and scripts, not probes: process and queue figures say more about this pod than a probe should
  // say to anyone, so it needs a credential.
  app.get(
    '/health/detailed',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'Components, process, lifecycle and queue figures of this pod',
        tags: ['health'],
        response: { 200: detailedReply, 503: detailedReply, 401: errorBodySchema, 403: errorBodySchema, 429: errorBodySchema },
      },
    },
    async (_request, reply) => {
      const [body, queues] = await Promise.all([
        overall(),
        options.queueCounts ? withTimeout(options.queueCounts(), timeoutMs).catch(() => null) : Promise.resolve({}),
      ]);
      const memory = process.memoryUsage();
      return reply.status(body.status === 'down' ? 503 : 200).send({
        ...body,
        process: {
          role: options.role,
          pid: process.pid,
          uptime_seconds: Math.round(process.uptime() * 10) / 10,
          rss_bytes: memory.rss,
          heap_used_bytes: memory.heapUsed,
          node_version: process.version,
        },
        lifecycle: { started: lifecycle.started, migrated: lifecycle.migrated, shutting_down: lifecycle.shuttingDown },
        queues,
      });
    },
  );
}


export default fp(healthRoutes, { name: 'health-routes', dependencies: ['error-handler'] });
