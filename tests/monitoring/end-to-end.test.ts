import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Timestamp } from '@google-cloud/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  type AlertmanagerWebhook,
  findBinary,
  promQuery,
  type RunningServer,
  startAlertmanager,
  startPrometheus,
  startWebhookSink,
} from '../support/monitoring-servers.js';
import { type FirestoreEmulator, startFirestoreEmulator } from '../support/firestore-emulator.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';
import { waitFor } from '../support/wait-for.js';
import { post, sendSigned } from '../support/webhook-client.js';

/**
 * The monitoring stack against the real programs: the service (api and worker roles) scraped by a real
 * Prometheus that loads this repo's rules, alerting a real Alertmanager that uses this repo's route tree with
 * every receiver pointed at a local sink. Only time is compressed: 1 s scrapes and evaluations, and every
 * alert's `for:` set to 0 s.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PROMETHEUS = findBinary('prometheus');
const ALERTMANAGER = findBinary('prometheus-alertmanager', 'alertmanager');
const missing = !PROMETHEUS || !ALERTMANAGER;
if (missing && process.env.CI) throw new Error('CI needs the prometheus and prometheus-alertmanager packages');

const ENVIRONMENT = 'e2e';

/**
 * Panels whose query legitimately returns nothing here: they read exporters this test does not run, or
 * series that exist only in situations this test does not create.
 */
const NO_DATA_EXPECTED: { match: RegExp; why: string }[] = [
  { match: /\b(pg|redis|node|probe)_\w+/, why: 'exporter metrics (postgres, redis, node, blackbox exporters are not run here)' },
];

function rulesWithoutWaiting(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(`${REPO}prometheus/rules`).filter((f) => f.endsWith('.yml'))) {
    const text = readFileSync(`${REPO}prometheus/rules/${name}`, 'utf8');
    files[`rules-${name}`] = text.replace(/^(\s+)for: \S+$/gm, '$1for: 0s');
  }
  return files;
}

function prometheusConfig(api: string, worker: string, alertmanager: string, ruleFiles: string[]): string {
  const target = (job: string, url: string) => ({
    job_name: job,
    static_configs: [{ targets: [new URL(url).host], labels: { environment: ENVIRONMENT } }],
  });
  return stringify({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(alertmanager).host] }] }] },
    scrape_configs: [target('vertigo-api', api), target('vertigo-worker', worker)],
  });
}

/** This repo's alertmanager.yml with fast timings and every receiver delivering to the sink. */
function alertmanagerConfig(sinkUrl: string): string {
  const config = parse(readFileSync(`${REPO}alertmanager/alertmanager.yml`, 'utf8')) as {
    route: Route;
    receivers: { name: string }[];
    templates?: string[];
  };
  type Route = { group_wait?: string; group_interval?: string; repeat_interval?: string; routes?: Route[] };
  const fast = (route: Route) => {
    if (route.group_wait !== undefined || route === config.route) route.group_wait = '0s';
    if (route.group_interval !== undefined || route === config.route) route.group_interval = '1s';
    route.routes?.forEach(fast);
  };
  fast(config.route);
  config.receivers = config.receivers.map((r) => ({ name: r.name, webhook_configs: [{ url: sinkUrl, send_resolved: true }] }));
  config.templates = [`${REPO}alertmanager/templates/*.tmpl`];
  return stringify(config);
}

/** Every Prometheus query of every panel, with Grafana's variables replaced as "All" would. */
function dashboardQueries(): { dashboard: string; panel: string; expr: string }[] {
  const queries: { dashboard: string; panel: string; expr: string }[] = [];
  for (const file of readdirSync(`${REPO}grafana/dashboards`).filter((f) => f.endsWith('.json'))) {
    const dashboard = JSON.parse(readFileSync(`${REPO}grafana/dashboards/${file}`, 'utf8')) as { uid: string; panels: Panel[] };
    type Panel = { title?: string; datasource?: { type?: string }; targets?: { expr?: string }[]; panels?: Panel[] };
    const walk = (panels: Panel[]) => {
      for (const panel of panels) {
        if (panel.panels) walk(panel.panels);
        if (panel.datasource?.type !== 'prometheus') continue;
        for (const target of panel.targets ?? []) {
          if (target.expr) queries.push({ dashboard: dashboard.uid, panel: panel.title ?? '?', expr: withVariables(target.expr) });
        }
      }
    };
    walk(dashboard.panels);
  }
  return queries;
}

const BUILTINS: Record<string, string> = { __rate_interval: '1m', __interval: '15s', __range: '5m', __range_s: '300', __interval_ms: '15000' };
const withVariables = (expr: string) =>
  expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => BUILTINS[(a ?? b)!] ?? '.*');

describe.skipIf(missing)('monitoring stack against real Prometheus and Alertmanager', () => {
  let db: TestDatabase;
  let api: TestService;
  let worker: TestService;
  let prometheus: RunningServer;
  let alertmanager: RunningServer;
  let sink: Awaited<ReturnType<typeof startWebhookSink>>;
  let emulator: FirestoreEmulator;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The Firestore sync runs too (the sync dashboard's panels): two good documents and a malformed one.
    emulator = await startFirestoreEmulator();
    const firestore = emulator.client();
    for (const [id, latencyMs] of [['e2e-doc-1', 120], ['e2e-doc-2', 240], ['e2e-doc-bad', 'slow']] as const) {
      await firestore.collection('traces').doc(id).set({ traceId: id, model: 'e2e-firestore', status: 'completed', latencyMs, updatedAt: Timestamp.now() });
    }
    const sync = { ...emulator.env, ENABLE_FIRESTORE_SYNC: 'true', FIRESTORE_SYNC_INTERVAL_SECONDS: '5' };
    // Langfuse left without a secret: its webhooks are answered 503, the 5xx the error panels show.
    api = await startTestService(db.url, { ...sync, ROLE: 'api', WEBHOOK_RATE_LIMIT_MAX: '0', LANGFUSE_WEBHOOK_SECRET: '' });
    worker = await startTestService(db.url, {
      ...sync,
      ROLE: 'worker',
      QUEUE_PREFIX: api.queuePrefix,
      PERSIST_MAX_ATTEMPTS: '2',
      PERSIST_BACKOFF_MS: '100',
      PERSIST_MAX_BACKOFF_MS: '200',
    });
    // A write no retry can fix, for the persist-failure panels: PostgreSQL refuses this one model.
    await db.pool.query("ALTER TABLE live_traces ADD CONSTRAINT refuse_poison CHECK (model IS DISTINCT FROM 'e2e-poison')");
    sink = await startWebhookSink();
    alertmanager = await startAlertmanager(ALERTMANAGER!, alertmanagerConfig(sink.url));
    const rules = rulesWithoutWaiting();
    prometheus = await startPrometheus(PROMETHEUS!, prometheusConfig(api.baseUrl, worker.baseUrl, alertmanager.url, Object.keys(rules)), rules);
    await waitFor(async () => (await promQuery(prometheus.url, 'up == 1')).length === 2, 20_000, 200);
  });

  afterAll(async () => {
    for (const stop of [() => prometheus?.stop(), () => alertmanager?.stop(), () => sink?.close(), () => worker?.stop(), () => api?.stop(), () => emulator?.stop(), () => db?.drop()]) {
      await stop()?.catch(() => undefined);
    }
  });

  const send = async (model: string, status: 'success' | 'error', count: number, tag: string) => {
    const events = Array.from({ length: count }, (_, i) => ({
      event_type: 'trace.created',
      event_id: `${tag}-${i}`,
      data: { id: `${tag}-${i}`, model, status, latency_ms: 400, input_tokens: 100, output_tokens: 20, cost_usd: 0.002 },
    }));
    const reply = await sendSigned(api.baseUrl, 'custom', JSON.stringify({ events }));
    expect(reply.status).toBe(202);
  };

  /** What the error panels are about: a forged signature (401), an unconfigured source (503), a poisoned write. */
  const sendFailures = async (tag: string) => {
    const body = JSON.stringify({ event_type: 'trace.created', data: { id: `${tag}-forged` } });
    expect((await post(api.baseUrl, 'custom', body, { 'content-type': 'application/json', 'x-signature': 'sha256=00' })).status).toBe(401);
    expect((await post(api.baseUrl, 'langfuse', body, { 'content-type': 'application/json' })).status).toBe(503);
    await send('e2e-poison', 'success', 1, `${tag}-poison`);
  };

  /** The deliveries of one alert in one state, or undefined while there are none (for waitFor). */
  const deliveries = (alertname: string, status: 'firing' | 'resolved') => {
    const found = sink.received.flatMap((d: AlertmanagerWebhook) =>
      d.alerts.filter((a) => a.labels.alertname === alertname && a.status === status).map((a) => ({ ...a, receiver: d.receiver })));
    return found.length > 0 ? found : undefined;
  };

  it('fires an LLM error-ratio alert that reaches the receiver with its labels and links, and resolves it', async () => {
    // Series first exist, then grow: rate() needs two samples of a counter.
    await send('e2e-flaky', 'success', 1, 'warmup-ok');
    await send('e2e-flaky', 'error', 1, 'warmup-err');
    await send('e2e-steady', 'success', 5, 'steady-1');
    await sendFailures('warmup');
    await waitFor(async () => (await promQuery(prometheus.url, 'gen_ai_client_errors_total{model="e2e-flaky"}')).length > 0, 20_000, 200);
    await new Promise((r) => setTimeout(r, 2500));
    await send('e2e-flaky', 'error', 30, 'burst-err');
    await send('e2e-steady', 'success', 30, 'steady-2');
    await sendFailures('burst');

    const [firing] = await waitFor(() => deliveries('VertigoLLMErrorRateHigh', 'firing'), 45_000, 200);
    expect(firing!.labels).toMatchObject({ environment: ENVIRONMENT, source: 'custom', model: 'e2e-flaky', severity: 'warning', team: 'llm-quality' });
    expect(['llm-quality-slack', 'llm-quality-email']).toContain(firing!.receiver);
    expect(firing!.annotations.runbook_url).toMatch(/docs\/runbooks\/llm-quality\.md#vertigollmerrorratehigh$/);
    expect(firing!.annotations.dashboard).toMatch(/^\/d\/vertigo-llm-usage\//);
    expect(firing!.annotations.description).toMatch(/e2e-flaky/);
    // The steady model never alerted.
    expect(sink.received.flatMap((d) => d.alerts).filter((a) => a.labels.model === 'e2e-steady' && a.labels.alertname === 'VertigoLLMErrorRateHigh')).toEqual([]);

    // A document written while the live listener runs: the live-changes panel.
    await emulator.client().collection('traces').doc('e2e-doc-live').set({ traceId: 'e2e-doc-live', model: 'e2e-firestore', status: 'completed', latencyMs: 90, updatedAt: Timestamp.now() });
    await waitFor(async () => (await promQuery(prometheus.url, 'vertigo_sync_live_changes_total{change="added"} > 0')).length > 0, 30_000, 200);
    await waitFor(async () => (await promQuery(prometheus.url, 'vertigo_sync_lag_seconds')).length > 0, 30_000, 200);

    // Every dashboard query has data now, apart from the documented exceptions.
    await waitFor(async () => (await promQuery(prometheus.url, 'increase(vertigo_persist_events_total{status="failed"}[1m]) > 0')).length > 0, 30_000, 200);
    const empty: string[] = [];
    for (const q of dashboardQueries()) {
      if (NO_DATA_EXPECTED.some((e) => e.match.test(q.expr))) continue;
      if ((await promQuery(prometheus.url, q.expr)).length === 0) empty.push(`${q.dashboard} / ${q.panel}: ${q.expr}`);
    }
    expect(empty).toEqual([]);

    // Recovery: the model keeps answering, the ratio falls under 10 %, the alert resolves at the receiver.
    await send('e2e-flaky', 'success', 400, 'recovered');
    const [resolved] = await waitFor(() => deliveries('VertigoLLMErrorRateHigh', 'resolved'), 45_000, 200);
    expect(resolved!.labels.model).toBe('e2e-flaky');
  });
});
