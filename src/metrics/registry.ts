import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * The service's own registry (never prom-client's global one), so tests and several app instances in one
 * process each see only their metrics. Node's default metrics are on, prefixed as prom-client does.
 */
export function createMetricsRegistry(labels: { version: string; role: string }): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const info = new Gauge({
    name: 'vertigo_build_info',
    help: 'Always 1; the labels say which version and role of Vertigo Live is running.',
    labelNames: ['version', 'role', 'node_version'],
    registers: [registry],
  });
  info.set({ version: labels.version, role: labels.role, node_version: process.version }, 1);
  return registry;
}
