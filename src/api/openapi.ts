import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * The API's description, built from the routes' own schemas: `@fastify/swagger` must be registered before the
 * routes (it collects them as they are added), the UI after them. Served at /docs (UI) and /docs/json.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Vertigo Live',
        version,
        description:
          'Live monitoring of LLM applications: signed webhooks in; traces, metrics, sync status and alerts out. ' +
          'Every /live-data/api route needs `Authorization: Bearer <API key or JWT>` with the role it names.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: ({ schema, url, route }) => {
      const access = route.config?.access;
      const secured = access !== undefined && access !== 'public';
      const described = { ...(schema as Record<string, unknown>) };
      if (secured) {
        described.security = [{ bearer: [] }];
        described.description = [`Needs the **${access}** role.`, described.description].filter(Boolean).join(' ');
      }
      return { schema: described as typeof schema, url };
    },
  });
}

export async function registerOpenApiUi(app: FastifyInstance): Promise<void> {
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
}
