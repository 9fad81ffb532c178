import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { parse, stringify } from 'yaml';
import { type FirestoreEmulator, startFirestoreEmulator } from '../support/firestore-emulator.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';

/**
 * The Prometheus side of the monitoring stack (prometheus/, docs/runbooks/): promtool accepts the configs and
 * rules and passes the rule unit tests; the relabelling of both configs gives the jobs and labels the rules
 * expect (a real Prometheus on fake discovered targets); every alert is labelled, annotated, documented in a
 * runbook and covered by a firing and a quiet test; every metric a rule reads exists.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROM_DIR = path.join(ROOT, 'prometheus');
const RULES_DIR = path.join(PROM_DIR, 'rules');
const TESTS_DIR = path.join(PROM_DIR, 'tests');
const RUNBOOKS_DIR = path.join(ROOT, 'docs/runbooks');
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
const PROMETHEUS = process.env.PROMETHEUS ?? 'prometheus';

const RUNBOOK_BASE = 'https://github.com/vertigo-live/vertigo-live/blob/main/docs/runbooks/';
const JOBS = ['vertigo-api', 'vertigo-worker', 'postgres', 'redis', 'node', 'blackbox-health'];
const DASHBOARD_UIDS = ['vertigo-overview', 'vertigo-llm-usage', 'vertigo-errors', 'vertigo-queue', 'vertigo-sync', 'vertigo-alerts', 'vertigo-logs'];
const SEVERITIES = ['critical', 'warning', 'info'];
const TEAMS = ['ingest', 'data-sync', 'llm-quality', 'platform'];
const SLO_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];
const RECORDING_RULES = [
  'vertigo:webhook_requests:rate5m',
  'vertigo:webhook_rejections:ratio_rate5m',
  'vertigo:webhook_request_duration_seconds:p99_5m',
  'vertigo:webhook_events:rate5m',
  'vertigo:persist_events:rate5m',
  'vertigo:ingest_freshness_seconds:p99_5m',
  'gen_ai:requests:rate5m',
  'gen_ai:error_ratio:rate5m',
  'gen_ai:operation_duration_seconds:p50_5m',
  'gen_ai:operation_duration_seconds:p95_5m',
  'gen_ai:operation_duration_seconds:p99_5m',
  'gen_ai:token_usage:rate5m',
  'gen_ai:cost_usd:increase1h',
  ...SLO_WINDOWS.map((w) => `vertigo:slo_ingest_errors:ratio_rate${w}`),
  ...SLO_WINDOWS.map((w) => `vertigo:slo_freshness_slow:ratio_rate${w}`),
];
const EXPORTER_PREFIXES = ['pg_', 'redis_', 'node_', 'probe_'];

// ---------------------------------------------------------------------------------------------------------
// Files

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  file: string;
  groups: { name: string; rules: Rule[] }[];
}
interface AlertRuleTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[];
}
interface TestFile {
  file: string;
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: AlertRuleTest[]; promql_expr_test?: unknown[] }[];
}
interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  kubernetes_sd_configs?: Record<string, unknown>[];
  relabel_configs?: { source_labels?: string[]; target_label?: string; action?: string; regex?: string; replacement?: string }[];
  [key: string]: unknown;
}
interface PrometheusConfig {
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
  [key: string]: unknown;
}

const yamlFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.yml')).sort().map((f) => path.join(dir, f));
const readYaml = <T>(file: string): T => parse(readFileSync(file, 'utf8')) as T;
const rel = (file: string) => path.relative(ROOT, file);

const ruleFiles: RuleFile[] = yamlFiles(RULES_DIR).map((file) => ({ file, ...readYaml<Omit<RuleFile, 'file'>>(file) }));
const allRules = ruleFiles.flatMap((f) => f.groups.flatMap((g) => g.rules.map((rule) => ({ file: f.file, group: g.name, rule }))));
const alertRules = allRules.filter((r) => r.rule.alert);
const recordingRules = allRules.filter((r) => r.rule.record);
const testFiles: TestFile[] = yamlFiles(TESTS_DIR).map((file) => ({ file, ...readYaml<Omit<TestFile, 'file'>>(file) }));

// ---------------------------------------------------------------------------------------------------------
// promtool

function toolAvailable(tool: string): boolean {
  return !spawnSync(tool, ['--version'], { stdio: 'ignore' }).error;
}

/** Skips the test when the tool is missing on a developer machine; in CI (.ci/run installs it) that fails. */
function requireTool(context: TestContext, variable: 'PROMTOOL' | 'PROMETHEUS'): void {
  const tool = variable === 'PROMTOOL' ? PROMTOOL : PROMETHEUS;
  if (toolAvailable(tool)) return;
  const message = `${tool} is not installed (apt-get install prometheus, or set ${variable} to its path)`;
  if (process.env.CI) throw new Error(message);
  console.warn(`skipped: ${message}`);
  context.skip(message);
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(PROMTOOL, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, output: `$ promtool ${args.join(' ')}\n${result.stdout ?? ''}${result.stderr ?? ''}` };
}

function promtoolAsync(...args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(PROMTOOL, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = `$ promtool ${args.join(' ')}\n`;
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (err) => resolve({ status: null, output: `${output}${err.message}` }));
    child.on('close', (status) => resolve({ status, output }));
  });
}

/** Debian's prometheus package is built without Kubernetes service discovery; upstream builds have it. */
const NO_KUBERNETES_SD = /field kubernetes_sd_configs not found/;

const KUBERNETES_SD_KEYS = new Set([
  'role', 'namespaces', 'selectors', 'api_server', 'kubeconfig_file', 'attach_metadata', 'basic_auth', 'authorization',
  'oauth2', 'bearer_token', 'bearer_token_file', 'tls_config', 'proxy_url', 'no_proxy', 'proxy_from_environment',
  'proxy_connect_header', 'follow_redirects', 'enable_http2',
]);
const KUBERNETES_ROLES = new Set(['pod', 'node', 'service', 'endpoints', 'endpointslice', 'ingress']);

/** A copy of a config with absolute rule paths and, when asked, its Kubernetes discovery swapped for `sd`. */
function deriveConfig(file: string, dir: string, sd?: (job: ScrapeConfig) => Record<string, unknown>): string {
  const config = readYaml<PrometheusConfig>(file);
  config.rule_files = config.rule_files.map((pattern) => path.resolve(path.dirname(file), pattern));
  if (sd) {
    config.scrape_configs = config.scrape_configs.map((job) => {
      if (!job.kubernetes_sd_configs) return job;
      const { kubernetes_sd_configs: _dropped, ...rest } = job;
      return { ...rest, ...sd(job) };
    });
  }
  const out = path.join(dir, path.basename(file));
  writeFileSync(out, stringify(config));
  return out;
}

describe('promtool', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'vertigo-promtool-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('check config prometheus/prometheus.yml (and the rule files it loads)', (context) => {
    requireTool(context, 'PROMTOOL');
    const { status, output } = promtool('check', 'config', 'prometheus/prometheus.yml');
    expect(status, output).toBe(0);
    expect(output).toMatch(/SUCCESS: \d+ rule files found/);
  });

  it('check config prometheus/prometheus-kubernetes.yml', (context) => {
    requireTool(context, 'PROMTOOL');
    const file = path.join(PROM_DIR, 'prometheus-kubernetes.yml');
    let { status, output } = promtool('check', 'config', file);
    if (status !== 0 && NO_KUBERNETES_SD.test(output)) {
      // This promtool cannot parse kubernetes_sd_configs: check their shape here, and everything else (the
      // relabelling, rule files, alerting) with promtool on a copy that discovers the same jobs statically.
      for (const job of readYaml<PrometheusConfig>(file).scrape_configs) {
        for (const sd of job.kubernetes_sd_configs ?? []) {
          expect(KUBERNETES_ROLES.has(String(sd.role)), `${job.job_name}: role ${String(sd.role)}`).toBe(true);
          expect(Object.keys(sd).filter((k) => !KUBERNETES_SD_KEYS.has(k)), job.job_name).toEqual([]);
        }
      }
      const copy = deriveConfig(file, tmp, () => ({ static_configs: [{ targets: ['kubernetes-sd.invalid:80'] }] }));
      console.info('promtool has no Kubernetes service discovery (Debian build): checked a copy with static targets instead');
      ({ status, output } = promtool('check', 'config', copy));
    }
    expect(status, output).toBe(0);
  });

  it('check rules prometheus/rules/*.yml', (context) => {
    requireTool(context, 'PROMTOOL');
    const { status, output } = promtool('check', 'rules', ...yamlFiles(RULES_DIR).map(rel));
    expect(status, output).toBe(0);
  });

  it('test rules prometheus/tests/*.yml', async (context) => {
    requireTool(context, 'PROMTOOL');
    // One promtool per file, side by side (the same as one run over all files, in half the time).
    const results = await Promise.all(yamlFiles(TESTS_DIR).map((file) => promtoolAsync('test', 'rules', rel(file))));
    const failed = results.filter((r) => r.status !== 0 || /FAILED/.test(r.output));
    expect(failed.length, failed.map((r) => r.output).join('\n')).toBe(0);
    expect(results.length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Scrape configs

describe('scrape configs', () => {
  const compose = readYaml<PrometheusConfig>(path.join(PROM_DIR, 'prometheus.yml'));
  const kubernetes = readYaml<PrometheusConfig>(path.join(PROM_DIR, 'prometheus-kubernetes.yml'));

  it('both have exactly the six jobs, the rules and the Alertmanager', () => {
    for (const config of [compose, kubernetes]) {
      expect(config.scrape_configs.map((j) => j.job_name).sort()).toEqual([...JOBS].sort());
      expect(config.rule_files).toEqual(['rules/*.yml']);
      expect(JSON.stringify(config.alerting)).toContain('alertmanager:9093');
      expect(config.global).toMatchObject({ scrape_interval: '15s', evaluation_interval: '15s' });
    }
  });

  it('every static target has an environment label; every discovered job sets one', () => {
    for (const job of compose.scrape_configs) {
      for (const group of job.static_configs ?? []) expect(group.labels?.environment, job.job_name).toBeTruthy();
    }
    for (const job of kubernetes.scrape_configs) {
      expect(job.kubernetes_sd_configs, job.job_name).toBeTruthy();
      expect(job.relabel_configs?.some((r) => r.target_label === 'environment'), job.job_name).toBe(true);
    }
  });

  it('blackbox.yml has the http_2xx module', () => {
    const blackbox = readYaml<{ modules: Record<string, { prober: string }> }>(path.join(PROM_DIR, 'blackbox.yml'));
    expect(blackbox.modules.http_2xx?.prober).toBe('http');
  });

  describe.concurrent('relabelling, seen by a real Prometheus', () => {
    let tmp: string;
    beforeAll(() => {
      tmp = mkdtempSync(path.join(tmpdir(), 'vertigo-prometheus-'));
    });
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));

    it('prometheus.yml: each job scrapes its target; blackbox-health probes /health/ready through the exporter', async (context) => {
      requireTool(context, 'PROMETHEUS');
      const targets = await discoveredTargets(deriveConfig(path.join(PROM_DIR, 'prometheus.yml'), tmp), path.join(tmp, 'compose'));
      const byJob = (job: string) => targets.filter((t) => t.labels.job === job);
      expect(byJob('vertigo-api').map((t) => t.scrapeUrl)).toEqual(['http://vertigo-api:3000/metrics']);
      expect(byJob('vertigo-worker').map((t) => t.scrapeUrl)).toEqual(['http://vertigo-worker:3001/metrics']);
      expect(byJob('postgres').map((t) => t.labels.instance)).toEqual(['postgres-exporter:9187']);
      expect(byJob('redis').map((t) => t.labels.instance)).toEqual(['redis-exporter:9121']);
      expect(byJob('node').map((t) => t.labels.instance)).toEqual(['node-exporter:9100']);
      const probes = byJob('blackbox-health').map((t) => ({ instance: t.labels.instance, component: t.labels.component, url: t.scrapeUrl })).sort((a, b) => a.instance!.localeCompare(b.instance!));
      expect(probes).toEqual([
        { instance: 'http://vertigo-api:3000/health/ready', component: 'api', url: 'http://blackbox-exporter:9115/probe?module=http_2xx&target=http%3A%2F%2Fvertigo-api%3A3000%2Fhealth%2Fready' },
        { instance: 'http://vertigo-worker:3001/health/ready', component: 'worker', url: 'http://blackbox-exporter:9115/probe?module=http_2xx&target=http%3A%2F%2Fvertigo-worker%3A3001%2Fhealth%2Fready' },
      ]);
      for (const t of targets) expect(t.labels.environment, t.labels.job).toBe('local');
    });

    it('prometheus-kubernetes.yml: pods map to jobs by annotations and labels', async (context) => {
      requireTool(context, 'PROMETHEUS');
      const pod = (ip: string, ports: string[], name: string, namespace: string, labels: Record<string, string>, annotations: Record<string, string>, phase = 'Running') => ({
        targets: ports.map((p) => `${ip}:${p}`),
        labels: {
          __meta_kubernetes_namespace: namespace,
          __meta_kubernetes_pod_name: name,
          __meta_kubernetes_pod_node_name: 'node-1',
          __meta_kubernetes_pod_phase: phase,
          __meta_kubernetes_pod_container_init: 'false',
          ...Object.fromEntries(Object.entries(labels).map(([k, v]) => [`__meta_kubernetes_pod_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`, v])),
          ...Object.fromEntries(Object.entries(annotations).map(([k, v]) => [`__meta_kubernetes_pod_annotation_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`, v])),
        },
      });
      const scrape = (port: string) => ({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': port, 'prometheus.io/path': '/metrics' });
      const app = (component: string, extra: Record<string, string> = {}) => ({ 'app.kubernetes.io/name': 'vertigo-live', 'app.kubernetes.io/component': component, ...extra });
      const pods = [
        // two container ports: one target, on the annotated port
        pod('10.0.0.5', ['3000', '9464'], 'vertigo-api-1', 'production', app('api'), scrape('3000')),
        // environment from the pod label, not the namespace
        pod('10.0.0.6', ['3001'], 'vertigo-worker-1', 'vertigo', app('worker', { environment: 'staging' }), scrape('3001')),
        // not scraped: no annotation; another application's api; a finished pod
        pod('10.0.0.7', ['3000'], 'vertigo-api-2', 'production', app('api'), {}),
        pod('10.0.0.8', ['8080'], 'billing-api-1', 'production', { 'app.kubernetes.io/name': 'billing', 'app.kubernetes.io/component': 'api' }, scrape('8080')),
        pod('10.0.0.9', ['3001'], 'vertigo-worker-old', 'production', app('worker'), scrape('3001'), 'Succeeded'),
        // exporters
        pod('10.0.1.1', ['9187'], 'pg-exporter-1', 'production', { 'app.kubernetes.io/name': 'prometheus-postgres-exporter' }, scrape('9187')),
        pod('10.0.1.2', ['9121'], 'redis-exporter-1', 'production', { 'app.kubernetes.io/name': 'redis-exporter' }, scrape('9121')),
        pod('10.0.1.3', ['9100'], 'node-exporter-x', 'monitoring', { 'app.kubernetes.io/name': 'prometheus-node-exporter', environment: 'production' }, scrape('9100')),
      ];
      const podsFile = path.join(tmp, 'pods.json');
      writeFileSync(podsFile, JSON.stringify(pods));
      const config = deriveConfig(path.join(PROM_DIR, 'prometheus-kubernetes.yml'), tmp, () => ({ file_sd_configs: [{ files: [podsFile] }] }));
      const targets = await discoveredTargets(config, path.join(tmp, 'kubernetes'));
      const seen = targets.map((t) => ({ job: t.labels.job, url: t.scrapeUrl, environment: t.labels.environment, pod: t.labels.pod })).sort((a, b) => `${a.job}${a.url}`.localeCompare(`${b.job}${b.url}`));
      expect(seen).toEqual([
        { job: 'blackbox-health', url: 'http://blackbox-exporter:9115/probe?module=http_2xx&target=http%3A%2F%2F10.0.0.5%3A3000%2Fhealth%2Fready', environment: 'production', pod: 'vertigo-api-1' },
        { job: 'blackbox-health', url: 'http://blackbox-exporter:9115/probe?module=http_2xx&target=http%3A%2F%2F10.0.0.6%3A3001%2Fhealth%2Fready', environment: 'staging', pod: 'vertigo-worker-1' },
        { job: 'node', url: 'http://10.0.1.3:9100/metrics', environment: 'production', pod: undefined },
        { job: 'postgres', url: 'http://10.0.1.1:9187/metrics', environment: 'production', pod: 'pg-exporter-1' },
        { job: 'redis', url: 'http://10.0.1.2:9121/metrics', environment: 'production', pod: 'redis-exporter-1' },
        { job: 'vertigo-api', url: 'http://10.0.0.5:3000/metrics', environment: 'production', pod: 'vertigo-api-1' },
        { job: 'vertigo-worker', url: 'http://10.0.0.6:3001/metrics', environment: 'staging', pod: 'vertigo-worker-1' },
      ]);
      const probe = targets.find((t) => t.labels.job === 'blackbox-health' && t.labels.pod === 'vertigo-worker-1');
      expect(probe?.labels).toMatchObject({ instance: 'http://10.0.0.6:3001/health/ready', component: 'worker' });
    });
  });
});

interface ActiveTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
}

/** Runs Prometheus on a config until its targets are discovered, and returns them. */
async function discoveredTargets(configFile: string, dataDir: string): Promise<ActiveTarget[]> {
  const port = await getPort({ host: '127.0.0.1' });
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + 30_000;
    let previous = -1;
    let stableSince = 0;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/targets?state=active`).catch(() => undefined);
      if (!response?.ok) continue;
      const body = (await response.json()) as { data: { activeTargets: ActiveTarget[] } };
      const targets = body.data.activeTargets;
      // Discovery delivers the jobs in one update after a few seconds; wait until the list stops changing.
      if (targets.length > 0 && targets.length === previous) {
        if (Date.now() - stableSince > 1000) return targets;
      } else {
        previous = targets.length;
        stableSince = Date.now();
      }
    }
    throw new Error(`no targets discovered within 30 s:\n${log}`);
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Alerts, runbooks and tests

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats. */
function githubAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Static labels that tell the rules of one alert name apart (e.g. the windows of an SLO alert). */
const ruleKey = (rule: Rule) => `${rule.alert}${JSON.stringify(rule.labels ?? {})}`;

describe('alert rules', () => {
  it('there are alerts in every rule file but recording.yml', () => {
    for (const f of ruleFiles) {
      const alerts = f.groups.flatMap((g) => g.rules).filter((r) => r.alert).length;
      if (path.basename(f.file) === 'recording.yml') expect(alerts, rel(f.file)).toBe(0);
      else expect(alerts, rel(f.file)).toBeGreaterThan(0);
    }
  });

  it('every alert has severity, team, summary, description with values, runbook_url and dashboard', () => {
    const problems: string[] = [];
    for (const { file, rule } of alertRules) {
      const where = `${rel(file)}: ${rule.alert}`;
      const { labels = {}, annotations = {} } = rule;
      if (!/^Vertigo[A-Z]\w+$/.test(rule.alert!)) problems.push(`${where}: name must start with Vertigo`);
      if (!SEVERITIES.includes(labels.severity ?? '')) problems.push(`${where}: severity ${labels.severity}`);
      if (!TEAMS.includes(labels.team ?? '')) problems.push(`${where}: team ${labels.team}`);
      for (const key of ['summary', 'description', 'runbook_url', 'dashboard']) {
        if (!annotations[key]?.trim()) problems.push(`${where}: no ${key} annotation`);
      }
      if (!/\{\{\s*\$(value|labels)\b/.test(annotations.description ?? '')) problems.push(`${where}: the description shows no value or label`);
      if (!annotations.runbook_url?.startsWith(RUNBOOK_BASE)) problems.push(`${where}: runbook_url not under ${RUNBOOK_BASE}`);
      const uid = /^\/d\/([\w-]+)\//.exec(annotations.dashboard ?? '')?.[1];
      if (!uid || !DASHBOARD_UIDS.includes(uid)) problems.push(`${where}: dashboard ${annotations.dashboard} is not /d/<known uid>/...`);
    }
    expect(problems).toEqual([]);
  });

  it('rules with the same alert name differ by their labels', () => {
    const keys = alertRules.map((r) => ruleKey(r.rule));
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });

  it("every runbook_url names an existing runbook section (GitHub's heading anchors)", () => {
    const problems: string[] = [];
    for (const { rule } of alertRules) {
      const [file, anchor] = rule.annotations!.runbook_url!.slice(RUNBOOK_BASE.length).split('#');
      let markdown: string;
      try {
        markdown = readFileSync(path.join(RUNBOOKS_DIR, file!), 'utf8');
      } catch {
        problems.push(`${rule.alert}: docs/runbooks/${file} does not exist`);
        continue;
      }
      if (!anchor) problems.push(`${rule.alert}: runbook_url has no #anchor`);
      else if (!githubAnchors(markdown).has(anchor)) problems.push(`${rule.alert}: no heading with anchor #${anchor} in docs/runbooks/${file}`);
    }
    expect(problems).toEqual([]);
  });

  it('every alert rule has a firing test case (labels and annotations) and a quiet one in prometheus/tests', () => {
    const problems: string[] = [];
    for (const { file, rule } of alertRules) {
      const covering = testFiles.filter((t) => t.rule_files.some((r) => path.resolve(path.dirname(t.file), r) === file));
      const cases = covering.flatMap((t) => t.tests.flatMap((g) => g.alert_rule_test ?? [])).filter((c) => c.alertname === rule.alert);
      const fires = cases.some((c) =>
        (c.exp_alerts ?? []).some((a) =>
          Object.entries(rule.labels ?? {}).every(([k, v]) => a.exp_labels?.[k] === v) &&
          ['summary', 'description', 'runbook_url', 'dashboard'].every((k) => a.exp_annotations?.[k])),
      );
      if (!fires) problems.push(`${ruleKey(rule)}: no case where it fires with its labels ${JSON.stringify(rule.labels)} and annotations`);
      if (!cases.some((c) => (c.exp_alerts ?? []).length === 0)) problems.push(`${rule.alert}: no case where it stays quiet`);
    }
    expect(problems).toEqual([]);
  });

  it('some recording rules have promql_expr_test cases', () => {
    const exprs = testFiles.flatMap((t) => t.tests.flatMap((g) => (g.promql_expr_test ?? []) as { expr: string }[])).map((e) => e.expr);
    const tested = RECORDING_RULES.filter((name) => exprs.some((e) => e.includes(name)));
    expect(tested.length).toBeGreaterThanOrEqual(5);
  });
});

describe('recording rules', () => {
  it('are exactly the agreed ones', () => {
    expect(recordingRules.map((r) => r.rule.record).sort()).toEqual([...RECORDING_RULES].sort());
  });

  it('keep environment in every aggregation', () => {
    const problems: string[] = [];
    for (const { rule } of recordingRules) {
      const clauses = [...rule.expr.matchAll(/\b(by|without)\s*\(([^)]*)\)/g)];
      if (clauses.length === 0) problems.push(`${rule.record}: no by clause`);
      for (const [clause, kind, labels] of clauses) {
        if (kind === 'without' || !labels!.split(',').map((l) => l.trim()).includes('environment')) problems.push(`${rule.record}: ${clause}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Metric names

const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan', 'atan2']);

/** The metric names a PromQL expression selects (strings, label matchers, ranges, grouping and functions removed). */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/#.*$/gm, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/\d[\w.]*|[a-zA-Z_:][\w:]*/g)) {
    const token = match[0];
    if (/^\d/.test(token) || PROMQL_KEYWORDS.has(token.toLowerCase())) continue;
    if (/^\s*\(/.test(stripped.slice(match.index + token.length))) continue; // a function or an aggregation
    names.add(token);
  }
  return [...names];
}

describe('metric names used by the rules', () => {
  let db: TestDatabase;
  let service: TestService;
  let exposed: Set<string>;
  let emulator: FirestoreEmulator;

  beforeAll(async () => {
    db = await createTestDatabase();
    // With the Firestore sync on: its alerts read its metrics.
    emulator = await startFirestoreEmulator();
    service = await startTestService(db.url, { ROLE: 'all', ...emulator.env, ENABLE_FIRESTORE_SYNC: 'true' });
    const text = await (await fetch(`${service.baseUrl}/metrics`)).text();
    exposed = new Set<string>();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exposed.add(name!);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exposed.add(`${name}${s}`);
      if (type === 'summary') for (const s of ['_sum', '_count']) exposed.add(`${name}${s}`);
    }
  });
  afterAll(async () => {
    await service?.stop();
    await emulator?.stop();
    await db?.drop();
  });

  it('the extractor finds metric names and nothing else', () => {
    expect(metricNames('sum by (environment, le) (rate(a_bucket{le=~"10|10\\\\.0", x="y z"}[5m] offset 1h)) / on (environment) group_left b:c:d > 0.5 and absent(up{job="x"}) or label_replace(e, "dependency", "postgres", "", "") == 0').sort())
      .toEqual(['a_bucket', 'b:c:d', 'e', 'up']);
  });

  it('are exported by the service, recorded, or from an exporter job', () => {
    const recorded = new Set(RECORDING_RULES);
    const problems: string[] = [];
    for (const { file, rule } of allRules) {
      for (const name of metricNames(rule.expr)) {
        const known = exposed.has(name) || recorded.has(name) || name === 'up' || EXPORTER_PREFIXES.some((p) => name.startsWith(p));
        if (!known) problems.push(`${rel(file)}: ${rule.alert ?? rule.record} uses ${name}, which nothing exports`);
      }
    }
    expect(problems).toEqual([]);
    // the service's own metrics used by the rules really are on its /metrics (not only in a list here)
    expect(exposed.has('vertigo_webhook_requests_total') && exposed.has('gen_ai_client_operation_duration_seconds_bucket') && exposed.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect(exposed.has('vertigo_sync_lag_seconds') && exposed.has('vertigo_sync_run_duration_seconds_bucket')).toBe(true);
  });
});
