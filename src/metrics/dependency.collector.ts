import { Gauge, type Registry } from 'prom-client';
import { type HealthCheck, runCheck } from '../health/checks.js';
import { sharedRead } from './scrape-once.js';

/**
 * `vertigo_dependency_up{dependency}`: 1 when PostgreSQL / Redis answered the health check run at scrape time,
 * else 0, and how long they took. Alerts on a dependency being down read this rather than the probes.
 */
export function registerDependencyCollector(registry: Registry, checks: readonly HealthCheck[], timeoutMs = 1000): void {
  const read = sharedRead(() => Promise.all(checks.map((c) => runCheck(c, timeoutMs))));
  new Gauge({
    name: 'vertigo_dependency_up',
    help: '1 when the dependency answered its health check at scrape time, else 0.',
    labelNames: ['dependency'],
    registers: [registry],
    async collect() {
      for (const result of await read()) this.set({ dependency: result.name }, result.status === 'down' ? 0 : 1);
    },
  });
  new Gauge({
    name: 'vertigo_dependency_check_duration_seconds',
    help: 'How long the dependency took to answer its health check at scrape time.',
    labelNames: ['dependency'],
    registers: [registry],
    async collect() {
      for (const result of await read()) this.set({ dependency: result.name }, result.response_time_ms / 1000);
    },
  });
}
