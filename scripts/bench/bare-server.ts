import Fastify from 'fastify';
import { Registry } from 'prom-client';

/**
 * The baseline of the ingest benchmark: a bare Fastify 5 server with one POST route on the same path as the
 * webhook route, Fastify's default JSON parser, no logger, answering 202 {"status":"accepted"}; and, the
 * baseline of the scrape measurement, `GET /metrics` serving an empty prom-client registry.
 * Run as `node --import tsx scripts/bench/bare-server.ts` with PORT (and optionally HOST) set.
 */

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';

const app = Fastify({ logger: false });

app.post('/live-data/webhooks/:source', async (_request, reply) => reply.code(202).send({ status: 'accepted' }));

const registry = new Registry();
app.get('/metrics', async (_request, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));

let closing = false;
const shutdown = () => {
  if (closing) return;
  closing = true;
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

await app.listen({ port, host });
process.stdout.write(`bare fastify listening on http://${host}:${port}\n`);
