import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'pg';
import type { PersistProducer } from '../queue/persist.producer.js';
import type { FirestoreSync } from '../sync/sync-service.js';
import keysRoutes from './keys/keys.routes.js';
import liveMetricsRoutes from './metrics/live-metrics.routes.js';
import syncRoutes from './sync.routes.js';
import liveTracesRoutes from './traces/live-traces.routes.js';
import webhookEventsRoutes from './webhook-events/webhook-events.routes.js';

/**
 * The live data API under /live-data/api: every route declares its role (see auth/access.plugin.ts), replies
 * with the `{data}` envelope (envelope.ts) and the one error shape, and is described at /docs.
 */
export interface ApiPluginOptions {
  pool: Pool;
  producer: Pick<PersistProducer, 'enqueue'>;
  sync: FirestoreSync | undefined;
  defaultSyncHoursBack: number;
}

async function apiPlugin(app: FastifyInstance, options: ApiPluginOptions) {
  const { pool } = options;
  await app.register(liveMetricsRoutes, { pool });
  await app.register(liveTracesRoutes, { pool });
  await app.register(webhookEventsRoutes, { pool, producer: options.producer });
  await app.register(syncRoutes, { sync: options.sync, defaultHoursBack: options.defaultSyncHoursBack });
  await app.register(keysRoutes, { pool });
}

export default fp(apiPlugin, { name: 'live-data-api', dependencies: ['error-handler', 'access'] });
