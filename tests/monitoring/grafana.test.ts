import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { parser as logqlParser } from '@grafana/lezer-logql';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DASHBOARDS } from '../../grafana/src/index.js';
import { type FirestoreEmulator, startFirestoreEmulator } from '../support/firestore-emulator.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { startTestService, type TestService } from '../support/test-runtime.js';
import { waitFor } from '../support/wait-for.js';
import { customTrace, sendSigned } from '../support/webhook-client.js';

/**
 * Guards the Grafana dashboards generated from grafana/src: the committed JSON is what the builders produce, every
 * PromQL and LogQL expression parses, every metric exists (in the service's /metrics, the recording rules, or an
 * exporter), every query filters by the dashboard's variables, and every time, size, money or ratio has a unit.
 */

// The uids of the shared context.
const EXPECTED_UIDS = ['vertigo-overview', 'vertigo-llm-usage', 'vertigo-errors', 'vertigo-queue', 'vertigo-sync', 'vertigo-alerts', 'vertigo-logs'];

// Recording rules (prometheus/rules/recording.yml) and the labels they keep besides `environment`.
const SLO_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];
const RECORDING_RULES: Record<string, string[]> = {
  'vertigo:webhook_requests:rate5m': ['source', 'outcome'],
  'vertigo:webhook_rejections:ratio_rate5m': ['source'],
  'vertigo:webhook_request_duration_seconds:p99_5m': ['source'],
  'vertigo:webhook_events:rate5m': ['source', 'event_type'],
  'vertigo:persist_events:rate5m': ['source', 'status'],
  'vertigo:ingest_freshness_seconds:p99_5m': ['source'],
  'gen_ai:requests:rate5m': ['source', 'model', 'status'],
  'gen_ai:error_ratio:rate5m': ['source', 'model'],
  'gen_ai:operation_duration_seconds:p50_5m': ['source', 'model'],
  'gen_ai:operation_duration_seconds:p95_5m': ['source', 'model'],
  'gen_ai:operation_duration_seconds:p99_5m': ['source', 'model'],
  'gen_ai:token_usage:rate5m': ['source', 'model', 'token_type'],
  'gen_ai:cost_usd:increase1h': ['source', 'model'],
  ...Object.fromEntries(SLO_WINDOWS.flatMap((w) => [[`vertigo:slo_ingest_errors:ratio_rate${w}`, []], [`vertigo:slo_freshness_slow:ratio_rate${w}`, []]])),
};
const PROMETHEUS_SERIES: Record<string, string[]> = { up: [], ALERTS: ['severity', 'team', 'alertstate'], ALERTS_FOR_STATE: ['severity', 'team'] };
const EXPORTER = /^(pg|redis|node|probe)_/;
const LOKI_LABELS = new Set(['service', 'role', 'level']);
const FILTER_VARIABLES = ['environment', 'source', 'model', 'severity', 'team', 'collection'];

// ---- the committed dashboards, flattened to what the checks read -------------------------------------------

interface Target { refId?: string; expr?: string; datasource?: { type?: string } }
interface Panel {
  id: number; type: string; title: string; description?: string; datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number }; targets?: Target[]; panels?: Panel[];
  fieldConfig?: { defaults?: { unit?: string }; overrides?: { matcher: { id: string; options: string }; properties: { id: string; value: unknown }[] }[] };
  options?: { yAxis?: { unit?: string } };
  transformations?: { id: string; options: { renameByName?: Record<string, string> } }[];
}
interface Variable { name: string; type: string; query?: string; datasource?: { type?: string } }
interface Dashboard { uid: string; title: string; panels: Panel[]; templating: { list?: Variable[] } }

const dashboardsDir = new URL('../../grafana/dashboards/', import.meta.url);
const committed: Dashboard[] = readdirSync(dashboardsDir)
  .filter((file) => file.endsWith('.json'))
  .map((file) => JSON.parse(readFileSync(new URL(file, dashboardsDir), 'utf8')) as Dashboard);

const panelsOf = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');

interface Query { dashboard: Dashboard; where: string; language: 'promql' | 'logql'; expr: string; panel?: Panel; refId?: string; variable?: string }

function queriesOf(d: Dashboard): Query[] {
  const out: Query[] = [];
  for (const panel of panelsOf(d)) {
    for (const target of panel.targets ?? []) {
      const type = target.datasource?.type ?? panel.datasource?.type;
      if (!target.expr) continue;
      out.push({ dashboard: d, where: `${d.uid} / "${panel.title}" ${target.refId}`, language: type === 'loki' ? 'logql' : 'promql', expr: target.expr, panel, ...(target.refId ? { refId: target.refId } : {}) });
    }
  }
  for (const variable of d.templating.list ?? []) {
    if (variable.type !== 'query' || typeof variable.query !== 'string') continue;
    // label_values(<selector>, <label>): the selector is the expression.
    const match = /^label_values\((.*),\s*(\w+)\)$/.exec(variable.query.trim());
    expect(match, `${d.uid} variable ${variable.name}: expected label_values(selector, label), got ${variable.query}`).not.toBeNull();
    const language = variable.datasource?.type === 'loki' ? 'logql' : 'promql';
    out.push({ dashboard: d, where: `${d.uid} variable ${variable.name}`, language, expr: match![1]!, variable: variable.name });
  }
  return out;
}
const allQueries = committed.flatMap(queriesOf);

// ---- parsing -------------------------------------------------------------------------------------------------

/** Grafana variables to text the grammar accepts: intervals become 5m, `$name` / `${name:format}` become `var_name`. */
const substitute = (expr: string) =>
  expr
    .replace(/\$\{?__(rate_interval|interval|range|auto)(:\w+)?\}?/g, '5m')
    .replace(/\$\{(\w+)(:\w+)?\}/g, 'var_$1')
    .replace(/\$(\w+)/g, 'var_$1');

interface Node { name: string; text: string; parent?: Node; children: Node[]; error: boolean }

function parseTree(parser: Pick<typeof promqlParser, 'parse'>, source: string): Node {
  const root: Node = { name: 'root', text: source, children: [], error: false };
  const stack = [root];
  parser.parse(source).iterate({
    enter(ref) {
      const node: Node = { name: ref.name, text: source.slice(ref.from, ref.to), parent: stack.at(-1)!, children: [], error: ref.type.isError };
      stack.at(-1)!.children.push(node);
      stack.push(node);
    },
    leave() {
      stack.pop();
    },
  });
  return root;
}

function* walk(node: Node): Generator<Node> {
  yield node;
  for (const child of node.children) yield* walk(child);
}
const find = (node: Node, name: string) => [...walk(node)].filter((n) => n.name === name);
const parsed = new Map(allQueries.map((q) => [q, parseTree(q.language === 'promql' ? promqlParser : logqlParser, substitute(q.expr))]));
const promQueries = allQueries.filter((q) => q.language === 'promql');
const lokiQueries = allQueries.filter((q) => q.language === 'logql');

interface Selector { metric: string; matchers: { label: string; op: string; value: string }[] }
/** Vector selectors of a PromQL tree with their label matchers (a variable reads `var_<name>`). */
function selectors(q: Query): Selector[] {
  return find(parsed.get(q)!, 'VectorSelector').map((selector) => ({
    metric: selector.children.find((c) => c.name === 'Identifier')?.text ?? '',
    matchers: find(selector, 'UnquotedLabelMatcher').map((m) => ({
      label: m.children.find((c) => c.name === 'LabelName')?.text ?? '',
      op: m.children.find((c) => c.name === 'MatchOp')?.text ?? '',
      value: JSON.parse(m.children.find((c) => c.name === 'StringLiteral')?.text ?? '""') as string,
    })),
  }));
}

// ---- the checks ------------------------------------------------------------------------------------------------

describe('generated dashboards', () => {
  it('regenerating them in memory gives the committed grafana/dashboards/*.json, one file per expected uid', () => {
    expect(Object.keys(DASHBOARDS).sort()).toEqual([...EXPECTED_UIDS].sort());
    expect(committed.map((d) => d.uid).sort()).toEqual([...EXPECTED_UIDS].sort());
    for (const [uid, build] of Object.entries(DASHBOARDS)) {
      const file = new URL(`${uid}.json`, dashboardsDir);
      expect(existsSync(file), `grafana/dashboards/${uid}.json missing: run npm run dashboards`).toBe(true);
      const fresh = JSON.parse(JSON.stringify(build()));
      expect(JSON.parse(readFileSync(file, 'utf8')), `grafana/dashboards/${uid}.json is stale: run npm run dashboards`).toEqual(fresh);
      expect(fresh.uid).toBe(uid);
    }
  });

  it('every panel has a unique id, a title, a description, a known data source and fits the 24-column grid', () => {
    for (const d of committed) {
      const ids = d.panels.flatMap((p) => [p.id, ...(p.panels ?? []).map((c) => c.id)]);
      expect(new Set(ids).size, `${d.uid}: duplicate panel ids`).toBe(ids.length);
      for (const panel of panelsOf(d)) {
        expect(panel.title, `${d.uid} panel ${panel.id}`).toBeTruthy();
        expect(panel.description?.length ?? 0, `${d.uid} / "${panel.title}" has no description`).toBeGreaterThan(20);
        expect(['prometheus', 'loki'], `${d.uid} / "${panel.title}" data source`).toContain(panel.datasource?.uid);
        expect(panel.gridPos.x + panel.gridPos.w, `${d.uid} / "${panel.title}" overflows the grid`).toBeLessThanOrEqual(24);
        expect(panel.targets?.length ?? 0, `${d.uid} / "${panel.title}" has no query`).toBeGreaterThan(0);
      }
    }
  });

  it('every PromQL expression (targets and label_values selectors) parses without error nodes', () => {
    expect(promQueries.length).toBeGreaterThan(50);
    const failures = promQueries.filter((q) => [...walk(parsed.get(q)!)].some((n) => n.error)).map((q) => `${q.where}: ${q.expr}`);
    expect(failures).toEqual([]);
  });

  it('every LogQL expression parses and uses only the labels service, role and level', () => {
    expect(lokiQueries.length).toBeGreaterThanOrEqual(5);
    for (const q of lokiQueries) {
      const tree = parsed.get(q)!;
      expect([...walk(tree)].some((n) => n.error), `${q.where} does not parse: ${q.expr}`).toBe(false);
      const labels = [...find(tree, 'Matcher'), ...find(tree, 'Grouping')].flatMap((n) => find(n, 'Identifier')).map((n) => n.text);
      expect(labels.length, `${q.where}: no label found in ${q.expr}`).toBeGreaterThan(0);
      expect(labels.filter((l) => !LOKI_LABELS.has(l)), `${q.where}: ${q.expr}`).toEqual([]);
    }
    const labelVariables = committed.flatMap((d) => d.templating.list ?? []).filter((v) => v.datasource?.type === 'loki');
    for (const v of labelVariables) expect(LOKI_LABELS.has(/,\s*(\w+)\)$/.exec(v.query ?? '')?.[1] ?? ''), `variable ${v.name}`).toBe(true);
  });

  it('every panel showing a time, size, money or ratio sets a matching unit', () => {
    const allowed = {
      money: ['currencyUSD'],
      size: ['bytes', 'decbytes'],
      time: ['s', 'ms', 'dtdurations', 'dtdurationms'],
      ratio: ['percentunit', 'percent', 'suffix:×'],
    } as const;
    const problems: string[] = [];
    for (const q of promQueries.filter((query) => query.panel)) {
      const tree = parsed.get(q)!;
      const metrics = selectors(q).map((s) => s.metric);
      const kind = metrics.some((m) => m.includes('cost_usd'))
        ? 'money'
        : metrics.some((m) => m.endsWith('_bytes'))
          ? 'size'
          : metrics.some((m) => /_seconds(_sum|_bucket)?$|_seconds:|^ALERTS_FOR_STATE$/.test(m))
            ? 'time'
            : metrics.some((m) => /(^|[_:])ratio([_:]|$)/.test(m)) || find(tree, 'Div').length > 0
              ? 'ratio'
              : undefined;
      if (!kind) continue;
      const unit = unitOf(q.panel!, q.refId ?? '');
      if (!(allowed[kind] as readonly string[]).includes(unit ?? '')) problems.push(`${q.where} shows a ${kind} with unit ${unit ?? '(none)'}: ${q.expr}`);
    }
    expect(problems).toEqual([]);
  });
});

/** The unit a query's values are shown in: an override for its column or refId, the heatmap's y axis, or the default. */
function unitOf(panel: Panel, refId: string): string | undefined {
  const column = panel.transformations?.find((t) => t.id === 'organize')?.options.renameByName?.[`Value #${refId}`];
  for (const override of panel.fieldConfig?.overrides ?? []) {
    const { id, options } = override.matcher;
    const matches = (id === 'byFrameRefID' && options === refId) || (id === 'byName' && (options === column || options === `Value #${refId}`));
    const unit = override.properties.find((p) => p.id === 'unit')?.value;
    if (matches && typeof unit === 'string') return unit;
  }
  if (panel.type === 'heatmap') return panel.options?.yAxis?.unit;
  return panel.fieldConfig?.defaults?.unit;
}

describe('metrics used by the dashboards', () => {
  let db: TestDatabase;
  let service: TestService;
  let emulator: FirestoreEmulator;
  /** Metric name -> label names, from the running service's /metrics. */
  const exposed = new Map<string, Set<string>>();

  beforeAll(async () => {
    db = await createTestDatabase();
    emulator = await startFirestoreEmulator();
    service = await startTestService(db.url, { ...emulator.env, ENABLE_FIRESTORE_SYNC: 'true' });
    expect((await sendSigned(service.baseUrl, 'custom', customTrace('grafana-ok', { model: 'gpt-4o-mini', status: 'success' }))).status).toBe(202);
    expect((await sendSigned(service.baseUrl, 'custom', customTrace('grafana-err', { model: 'gpt-4o-mini', status: 'error' }))).status).toBe(202);
    const text = await waitFor(async () => {
      const body = await (await fetch(`${service.baseUrl}/metrics`)).text();
      return /^gen_ai_client_errors_total\{/m.test(body) && /^vertigo_persist_events_total\{/m.test(body) ? body : undefined;
    });
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\w+)/.exec(line);
      const names = type ? (type[2] === 'histogram' ? ['_bucket', '_sum', '_count'] : type[2] === 'summary' ? ['', '_sum', '_count'] : ['']).map((s) => type[1] + s) : [];
      const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? /.exec(line);
      if (sample) names.push(sample[1]!);
      for (const name of names) if (!exposed.has(name)) exposed.set(name, new Set());
      if (sample?.[2]) for (const m of sample[2].matchAll(/(\w+)="/g)) if (m[1] !== 'le' && m[1] !== 'quantile') exposed.get(sample[1]!)!.add(m[1]!);
    }
  });
  afterAll(async () => {
    await service?.stop();
    await emulator?.stop();
    await db?.drop();
  });

  /** Labels a series carries in Prometheus, or undefined for an unknown name. */
  function labelsOf(metric: string): Set<string> | undefined {
    const own = exposed.get(metric) ?? RECORDING_RULES[metric] ?? PROMETHEUS_SERIES[metric] ?? (EXPORTER.test(metric) ? [] : undefined);
    return own && new Set(['environment', ...own]);
  }

  it('every metric name is exposed by the service, a recording rule, a Prometheus series or an exporter', () => {
    expect(exposed.has('gen_ai_client_operation_duration_seconds_bucket')).toBe(true);
    const unknown = promQueries.flatMap((q) => selectors(q).filter((s) => !labelsOf(s.metric)).map((s) => `${s.metric || '(no name)'} in ${q.where}`));
    expect(unknown).toEqual([]);
  });

  it('recording rules used are defined in prometheus/rules/recording.yml (when that file exists)', (context) => {
    const file = new URL('../../prometheus/rules/recording.yml', import.meta.url);
    if (!existsSync(file)) return context.skip();
    const rules = parseYaml(readFileSync(file, 'utf8')) as { groups?: { rules?: { record?: string }[] }[] };
    const defined = new Set(rules.groups?.flatMap((g) => g.rules ?? []).map((r) => r.record).filter(Boolean));
    const used = new Set(promQueries.flatMap((q) => selectors(q).map((s) => s.metric)).filter((m) => m in RECORDING_RULES));
    expect([...used].filter((m) => !defined.has(m))).toEqual([]);
  });

  it('every query filters by each dashboard variable its metric has the label for, and every variable is used', () => {
    const problems: string[] = [];
    for (const d of committed) {
      const variables = (d.templating.list ?? []).map((v) => v.name);
      const queries = allQueries.filter((q) => q.dashboard === d);
      for (const name of variables) {
        if (!queries.some((q) => q.expr.includes(`$${name}`) || q.expr.includes(`\${${name}`))) problems.push(`${d.uid}: variable ${name} is used by no query`);
      }
      for (const q of queries.filter((query) => query.language === 'promql')) {
        for (const s of selectors(q)) {
          const labels = labelsOf(s.metric) ?? new Set<string>();
          // A variable's own query narrows by the environment only (source and model lists stay independent).
          const expected = q.variable ? (q.variable === 'environment' ? [] : ['environment']) : FILTER_VARIABLES;
          for (const name of expected.filter((v) => variables.includes(v) && labels.has(v))) {
            const filtered = s.matchers.some((m) => m.label === name && ((m.op === '=~' && m.value === `var_${name}`) || m.op === '='));
            if (!filtered) problems.push(`${q.where}: ${s.metric} not filtered by ${name}=~"$${name}"`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('provisioning', () => {
  const read = (path: string) => parseYaml(readFileSync(new URL(`../../grafana/provisioning/${path}`, import.meta.url), 'utf8'));

  it('provisions Prometheus, Loki and PostgreSQL with the uids the dashboards use, and no secret', () => {
    const text = readFileSync(new URL('../../grafana/provisioning/datasources/datasources.yml', import.meta.url), 'utf8');
    const { datasources } = read('datasources/datasources.yml') as { datasources: Record<string, any>[] };
    const byUid = Object.fromEntries(datasources.map((ds) => [ds.uid, ds]));
    expect(byUid.prometheus).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    expect(byUid.loki).toMatchObject({ type: 'loki', url: 'http://loki:3100' });
    expect(byUid.postgres).toMatchObject({ url: 'postgres:5432', user: '$__env{GRAFANA_POSTGRES_USER}', jsonData: { database: 'vertigo' } });
    expect(byUid.postgres.secureJsonData).toEqual({ password: '$__env{GRAFANA_POSTGRES_PASSWORD}' });
    expect(text).not.toMatch(/password:\s*(?!\$__env\{)\S/);
    const used = new Set(committed.flatMap((d) => panelsOf(d).map((p) => p.datasource?.uid)));
    for (const uid of used) expect(byUid, `data source ${uid}`).toHaveProperty(uid!);
  });

  it('loads grafana/dashboards into the "Vertigo Live" folder', () => {
    const { providers } = read('dashboards/dashboards.yml') as { providers: Record<string, any>[] };
    expect(providers).toHaveLength(1);
    expect(providers[0]).toMatchObject({ type: 'file', folder: 'Vertigo Live', options: { path: expect.any(String) } });
  });
});
