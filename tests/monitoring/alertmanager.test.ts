import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort } from '../../src/dev/free-port.js';
import { waitFor } from '../support/wait-for.js';

/**
 * alertmanager/alertmanager.yml and alertmanager/templates/vertigo.tmpl, checked with the real Alertmanager 0.25
 * tools: `amtool check-config`, `amtool config routes test` for every severity x team, `amtool template render`
 * for every notification template, then the real `alertmanager` binary running the repository's route tree and
 * inhibition rules, whose receivers keep their kind (webhook, Slack, PagerDuty, e-mail) but point at local sinks:
 * an HTTP server for webhook/Slack/PagerDuty and a minimal SMTP server for e-mail, with the *_file secrets
 * written to a temporary directory.
 *
 * Needs amtool and alertmanager (Debian: apt-get install -y --no-install-recommends prometheus-alertmanager;
 * or AMTOOL_BIN / ALERTMANAGER_BIN). Skipped with a message when they are missing, unless CI is set: then it fails.
 */

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONFIG = path.join(REPO_ROOT, 'alertmanager/alertmanager.yml');
const TEMPLATES = path.join(REPO_ROOT, 'alertmanager/templates/vertigo.tmpl');
const GRAFANA = 'https://grafana.vertigo-live.example';
const RUNBOOK = 'https://github.com/vertigo-live/vertigo-live/blob/main/docs/runbooks/ingest.md#persist-failures';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
function findBinary(variable: string, names: string[]): string | undefined {
  const fromEnv = process.env[variable];
  if (fromEnv) return executable(fromEnv) ? fromEnv : undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    for (const name of names) {
      if (executable(path.join(dir, name))) return path.join(dir, name);
    }
  }
  return undefined;
}

const AMTOOL = findBinary('AMTOOL_BIN', ['amtool']);
const ALERTMANAGER = findBinary('ALERTMANAGER_BIN', ['prometheus-alertmanager', 'alertmanager']);
const MISSING = [AMTOOL ? undefined : 'amtool', ALERTMANAGER ? undefined : 'prometheus-alertmanager (alertmanager)'].filter(Boolean);
const SKIP = MISSING.length > 0;
if (SKIP && !process.env.CI) {
  console.warn(
    `[alertmanager.test] skipped: ${MISSING.join(', ')} not found. Install: apt-get install -y --no-install-recommends prometheus-alertmanager ` +
      '(or set AMTOOL_BIN / ALERTMANAGER_BIN). With CI set these tests fail instead of skipping.',
  );
}
// In CI a missing binary is a failure, counted as such (not a silently skipped file).
if (SKIP && process.env.CI) {
  it('has amtool and alertmanager installed (CI installs prometheus-alertmanager)', () => {
    throw new Error(`${MISSING.join(', ')} not found: CI must install prometheus-alertmanager (apt-get install -y --no-install-recommends prometheus-alertmanager)`);
  });
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}
function run(file: string, args: string[], timeout = 20_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout, cwd: REPO_ROOT }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
const amtool = (args: string[]) => run(AMTOOL!, args);

/** The receivers amtool resolves for a label set, in order. */
async function routesFor(labels: Record<string, string>, configFile = CONFIG): Promise<string[]> {
  const result = await amtool(['config', 'routes', 'test', `--config.file=${configFile}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim().split(',');
}

// ------------------------------------------------------------------------------------------------------------
// Routing table: every severity x team, plus the fallbacks. Exact receiver lists, in notification order.
// ------------------------------------------------------------------------------------------------------------
const ROUTES: Array<{ team?: string; severity?: string; receivers: string[] }> = [
  { team: 'ingest', severity: 'critical', receivers: ['ingest-pagerduty', 'ingest-slack', 'ingest-email'] },
  { team: 'ingest', severity: 'warning', receivers: ['ingest-slack', 'ingest-email'] },
  { team: 'ingest', severity: 'info', receivers: ['info-webhook'] },
  { team: 'data-sync', severity: 'critical', receivers: ['data-sync-pagerduty', 'data-sync-slack', 'data-sync-email'] },
  { team: 'data-sync', severity: 'warning', receivers: ['data-sync-slack', 'data-sync-email'] },
  { team: 'data-sync', severity: 'info', receivers: ['info-webhook'] },
  { team: 'llm-quality', severity: 'critical', receivers: ['llm-quality-pagerduty', 'llm-quality-slack', 'llm-quality-email'] },
  { team: 'llm-quality', severity: 'warning', receivers: ['llm-quality-slack', 'llm-quality-email'] },
  { team: 'llm-quality', severity: 'info', receivers: ['info-webhook'] },
  { team: 'platform', severity: 'critical', receivers: ['platform-pagerduty', 'platform-slack', 'platform-email'] },
  { team: 'platform', severity: 'warning', receivers: ['platform-slack', 'platform-email'] },
  { team: 'platform', severity: 'info', receivers: ['info-webhook'] },
];
const FALLBACK_ROUTES: Array<{ team?: string; severity?: string; receivers: string[] }> = [
  // No or unknown team: platform owns it (a mislabelled critical still pages someone).
  { severity: 'critical', receivers: ['platform-pagerduty', 'platform-slack', 'platform-email'] },
  { team: 'payments', severity: 'critical', receivers: ['platform-pagerduty', 'platform-slack', 'platform-email'] },
  { severity: 'warning', receivers: ['platform-slack', 'platform-email'] },
  { severity: 'info', receivers: ['info-webhook'] },
  // Known team, no or unknown severity: that team's Slack channel only.
  { team: 'ingest', receivers: ['ingest-slack'] },
  { team: 'llm-quality', severity: 'page-me', receivers: ['llm-quality-slack'] },
  { receivers: ['platform-slack'] },
];
const labelsOf = (c: { team?: string; severity?: string }) => ({
  alertname: 'VertigoExample',
  environment: 'production',
  ...(c.team ? { team: c.team } : {}),
  ...(c.severity ? { severity: c.severity } : {}),
});

// ------------------------------------------------------------------------------------------------------------
// Template data (the JSON of https://pkg.go.dev/github.com/prometheus/alertmanager/template#Data)
// ------------------------------------------------------------------------------------------------------------
const TEMPLATE_DATA = {
  receiver: 'ingest-slack',
  status: 'firing',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'VertigoPersistJobFailures', environment: 'production', severity: 'critical', team: 'ingest', source: 'langfuse' },
      annotations: {
        summary: 'Persist failures for langfuse',
        description: '12.5% of langfuse events fail to persist (threshold > 5%) & rising',
        runbook_url: RUNBOOK,
        dashboard: '/d/vertigo-errors/vertigo-errors',
      },
      startsAt: '2026-11-21T10:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph',
      fingerprint: '0123456789abcdef',
    },
    {
      status: 'firing',
      labels: { alertname: 'VertigoPersistJobFailures', environment: 'production', severity: 'critical', team: 'ingest', source: 'custom' },
      annotations: { summary: 'Persist failures for custom', description: '7% of custom events fail to persist' },
      startsAt: '2026-11-21T10:01:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph',
      fingerprint: '0123456789abcdee',
    },
  ],
  groupLabels: { alertname: 'VertigoPersistJobFailures', environment: 'production', team: 'ingest' },
  commonLabels: { alertname: 'VertigoPersistJobFailures', environment: 'production', severity: 'critical', team: 'ingest' },
  commonAnnotations: {},
  externalURL: 'http://alertmanager:9093',
};

// Regex matchers as Alertmanager evaluates them (RE2, fully anchored); the patterns here are plain enough for JS.
function matcherMatches(matcher: string, labels: Record<string, string>): boolean {
  const m = /^\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"(.*)"\s*$/.exec(matcher);
  if (!m) throw new Error(`cannot read matcher ${matcher}`);
  const [, name, op, value] = m as unknown as [string, string, string, string];
  const actual = labels[name] ?? '';
  if (op === '=') return actual === value;
  if (op === '!=') return actual !== value;
  const re = new RegExp(`^(?:${value})$`);
  return op === '=~' ? re.test(actual) : !re.test(actual);
}

/**
 * Every Vertigo alert and the dependency-down alerts that mute it (inhibit rules 3 and 4). The test below
 * checks this table against prometheus/rules, so a new or renamed alert needs a decision here.
 */
const DEPENDENCY_SYMPTOMS: Record<string, Array<'postgres' | 'redis'>> = {
  VertigoPostgresDown: [],
  VertigoRedisDown: [],
  VertigoExporterDown: [],
  VertigoTargetDown: [],
  VertigoTargetMissing: [],
  VertigoProcessRestarting: [],
  VertigoMemoryHigh: [],
  VertigoEventLoopLagHigh: [],
  VertigoNotReady: ['postgres', 'redis'],
  VertigoWebhookRejectionsSpike: [],
  VertigoWebhookServerErrors: ['redis'],
  VertigoIngestErrorBudgetBurn: ['redis'],
  VertigoIngestSourceSilent: ['redis'],
  VertigoIngestFreshnessBudgetBurn: ['postgres', 'redis'],
  VertigoQueueBacklogGrowing: ['postgres', 'redis'],
  VertigoQueueFailedJobs: ['postgres', 'redis'],
  VertigoPersistJobFailures: ['postgres', 'redis'],
  VertigoSyncStale: ['postgres'],
  VertigoSyncErrors: ['postgres'],
  VertigoSyncLagHigh: ['postgres'],
  VertigoLLMErrorRateHigh: [],
  VertigoLLMLatencyHigh: [],
  VertigoLLMCostBudgetExceeded: [],
};

interface InhibitRule {
  source_matchers: string[];
  target_matchers: string[];
  equal: string[];
}

describe.skipIf(SKIP)('alertmanager.yml with amtool', () => {
  let tmp: string;
  let realConfig: Record<string, unknown> & { inhibit_rules: InhibitRule[]; receivers: Array<Record<string, unknown>> };

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'vertigo-amtool-'));
    realConfig = parse(await readFile(CONFIG, 'utf8'));
  });
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('passes amtool check-config (route, receivers, inhibit rules and templates), without any secret file present', async () => {
    const result = await amtool(['check-config', CONFIG]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
    expect(result.stdout).toContain(' - route');
    expect(result.stdout).toContain(' - 5 inhibit rules');
    expect(result.stdout).toContain(' - 13 receivers');
    expect(result.stdout).toContain(' - 1 templates');
  });

  it('keeps every secret out of the repository: Slack, PagerDuty and SMTP credentials come from /etc/alertmanager/secrets/ files', () => {
    const text = JSON.stringify(realConfig);
    for (const inline of ['"api_url":', '"slack_api_url":', '"routing_key":', '"service_key":', '"auth_password":', '"smtp_auth_password":', '"auth_secret":', '"credentials":']) {
      expect(text, `${inline} must not be set inline`).not.toContain(inline);
    }
    const files: string[] = [];
    for (const receiver of realConfig.receivers) {
      for (const slack of (receiver.slack_configs as Array<Record<string, string>> | undefined) ?? []) files.push(slack.api_url_file!);
      for (const pd of (receiver.pagerduty_configs as Array<Record<string, string>> | undefined) ?? []) files.push(pd.routing_key_file!);
    }
    files.push((realConfig.global as Record<string, string>).smtp_auth_password_file!);
    expect(files).toHaveLength(4 + 4 + 1);
    for (const file of files) expect(file).toMatch(/^\/etc\/alertmanager\/secrets\/[\w.-]+$/);
    expect(new Set(files).size).toBe(files.length); // one secret per team and channel
  });

  it.each(ROUTES)('routes severity=$severity team=$team to $receivers', async (c) => {
    expect(await routesFor(labelsOf(c))).toEqual(c.receivers);
  });

  it.each(FALLBACK_ROUTES)('falls back: severity=$severity team=$team goes to $receivers', async (c) => {
    expect(await routesFor(labelsOf(c))).toEqual(c.receivers);
  });

  it('groups by alertname, environment and team, with sensible timings', () => {
    const route = realConfig.route as Record<string, unknown>;
    expect(route.group_by).toEqual(['alertname', 'environment', 'team']);
    expect(route).toMatchObject({ group_wait: '30s', group_interval: '5m', repeat_interval: '4h' });
  });

  it('has the inhibition rules, and they parse', async () => {
    const rules = realConfig.inhibit_rules;
    expect(rules).toHaveLength(5);
    const bySource = (matcher: string) => {
      const rule = rules.find((r) => r.source_matchers.includes(matcher));
      expect(rule, `inhibit rule with source ${matcher}`).toBeDefined();
      return rule!;
    };
    const mutes = (rule: InhibitRule, labels: Record<string, string>) => rule.target_matchers.every((m) => matcherMatches(m, labels));

    const critical = bySource('severity="critical"');
    expect(critical.equal.slice(0, 2)).toEqual(['alertname', 'environment']);
    expect(mutes(critical, { severity: 'warning' })).toBe(true);
    expect(mutes(critical, { severity: 'critical' })).toBe(false);
    expect(bySource('severity="warning"').target_matchers).toEqual(['severity="info"']);

    const targetDown = bySource('alertname="VertigoTargetDown"');
    expect(targetDown.equal).toEqual(['environment', 'job']);
    expect(mutes(targetDown, { alertname: 'VertigoEventLoopLagHigh' })).toBe(true);
    expect(mutes(targetDown, { alertname: 'VertigoTargetDown' })).toBe(false);

    // Every alert of prometheus/rules, and whether PostgreSQL down / Redis down mutes it (same environment).
    const postgres = bySource('alertname="VertigoPostgresDown"');
    const redis = bySource('alertname="VertigoRedisDown"');
    expect(postgres.equal).toEqual(['environment']);
    expect(redis.equal).toEqual(['environment']);
    const actual = Object.fromEntries(
      Object.keys(DEPENDENCY_SYMPTOMS).map((alertname) => [
        alertname,
        [mutes(postgres, { alertname }) ? 'postgres' : '', mutes(redis, { alertname }) ? 'redis' : ''].filter(Boolean),
      ]),
    );
    expect(actual).toEqual(DEPENDENCY_SYMPTOMS);

    // Alertmanager itself parses them: a config holding only the inhibition rules passes check-config.
    const onlyRules = path.join(tmp, 'inhibit-only.yml');
    await writeFile(onlyRules, stringify({ route: { receiver: 'null' }, receivers: [{ name: 'null' }], inhibit_rules: rules }));
    const result = await amtool(['check-config', onlyRules]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(' - 5 inhibit rules');
  });

  it('knows every alert of prometheus/rules (the symptom table above covers each one, and no other)', async () => {
    const dir = path.join(REPO_ROOT, 'prometheus/rules');
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => /\.ya?ml$/.test(f));
    const names = new Set<string>();
    for (const file of files) {
      const doc = parse(await readFile(path.join(dir, file), 'utf8')) as { groups?: Array<{ rules?: Array<{ alert?: string }> }> } | null;
      for (const group of doc?.groups ?? []) for (const rule of group.rules ?? []) if (rule.alert) names.add(rule.alert);
    }
    if (names.size === 0) return; // no alert rules in this checkout yet
    expect([...names].sort()).toEqual(Object.keys(DEPENDENCY_SYMPTOMS).sort());
  });

  describe('templates (amtool template render)', () => {
    let dataFile: string;
    beforeAll(async () => {
      dataFile = path.join(tmp, 'data.json');
      await writeFile(dataFile, JSON.stringify(TEMPLATE_DATA));
    });
    const render = async (name: string, type: 'text' | 'html' = 'text') => {
      const result = await amtool(['template', 'render', `--template.glob=${TEMPLATES}`, `--template.data=${dataFile}`, `--template.type=${type}`, `--template.text={{ template "${name}" . }}`]);
      expect(result.code, result.stderr).toBe(0);
      return result.stdout;
    };
    const dashboard = `${GRAFANA}/d/vertigo-errors/vertigo-errors?var-environment=production`;

    it('Slack title and text: status, summary, description, labels, dashboard and runbook links', async () => {
      expect(await render('vertigo.slack.title')).toBe('[FIRING:2] VertigoPersistJobFailures (critical, production, team ingest)');
      const text = await render('vertigo.slack.text');
      expect(text).toContain('*Persist failures for langfuse*');
      expect(text).toContain('12.5% of langfuse events fail to persist (threshold &gt; 5%) &amp; rising'); // Slack escaping
      expect(text).toContain('`source=langfuse`');
      expect(text).toContain('`environment=production`');
      expect(text).toContain(`<${dashboard}|:bar_chart: Grafana dashboard>`);
      expect(text).toContain(`<${RUNBOOK}|:book: Runbook>`);
      // The second alert has neither annotation: the alerts dashboard and the runbooks index stand in.
      expect(text).toContain(`<${GRAFANA}/d/vertigo-alerts?var-environment=production|`);
      expect(text).toContain('<https://github.com/vertigo-live/vertigo-live/tree/main/docs/runbooks|');
      expect(await render('vertigo.slack.color')).toBe('danger');
      expect(await render('vertigo.group.dashboard_url')).toBe(dashboard);
    });

    it('e-mail subject and HTML body', async () => {
      expect(await render('vertigo.email.subject')).toBe('[FIRING:2] VertigoPersistJobFailures (critical, production, team ingest): Persist failures for langfuse (2 alerts)');
      const html = await render('vertigo.email.html', 'html');
      expect(html).toMatch(/^<!DOCTYPE html>/);
      expect(html).toContain('<strong>FIRING</strong>: Persist failures for langfuse');
      expect(html).toContain('12.5% of langfuse events fail to persist (threshold &gt; 5%) &amp; rising'); // HTML-escaped
      expect(html).toContain('<code>team=ingest</code>');
      expect(html).toContain(`<a href="${dashboard}">Grafana dashboard</a>`);
      expect(html).toContain(`<a href="${RUNBOOK}">Runbook</a>`);
      const text = await render('vertigo.email.text');
      expect(text).toContain(`Dashboard: ${dashboard}`);
      expect(text).toContain(`Runbook:   ${RUNBOOK}`);
    });

    it('PagerDuty description and details', async () => {
      expect(await render('vertigo.pagerduty.description')).toBe('[production] VertigoPersistJobFailures: Persist failures for langfuse (2 alerts)');
      const summary = await render('vertigo.pagerduty.summary');
      expect(summary.split('\n')).toEqual([
        'FIRING: Persist failures for langfuse - 12.5% of langfuse events fail to persist (threshold > 5%) & rising',
        'FIRING: Persist failures for custom - 7% of custom events fail to persist',
      ]);
      expect(await render('vertigo.group.runbook_url')).toBe(RUNBOOK);
      expect(await render('vertigo.group.labels')).toBe('alertname=VertigoPersistJobFailures, environment=production, severity=critical, team=ingest');
    });

    it('joins the dashboard annotation to the Grafana base URL in every form', async () => {
      const cases: Array<[Record<string, string>, Record<string, string>, string]> = [
        [{ dashboard: '/d/vertigo-queue/queue?orgId=1' }, { environment: 'staging' }, `${GRAFANA}/d/vertigo-queue/queue?orgId=1&var-environment=staging`],
        [{ dashboard: 'd/vertigo-queue/queue' }, { environment: 'staging' }, `${GRAFANA}/d/vertigo-queue/queue?var-environment=staging`],
        [{ dashboard: '/d/vertigo-queue/queue?var-environment=local' }, { environment: 'staging' }, `${GRAFANA}/d/vertigo-queue/queue?var-environment=local`],
        [{ dashboard: 'https://grafana.example.org/d/x' }, { environment: 'staging' }, 'https://grafana.example.org/d/x'],
        [{ dashboard: '/d/vertigo-overview/overview' }, {}, `${GRAFANA}/d/vertigo-overview/overview`],
      ];
      for (const [annotations, labels, expected] of cases) {
        const file = path.join(tmp, 'one.json');
        await writeFile(file, JSON.stringify({ ...TEMPLATE_DATA, alerts: [{ ...TEMPLATE_DATA.alerts[0], annotations, labels }] }));
        const result = await amtool(['template', 'render', `--template.glob=${TEMPLATES}`, `--template.data=${file}`, '--template.text={{ template "vertigo.group.dashboard_url" . }}']);
        expect(result.stdout, JSON.stringify(annotations)).toBe(expected);
      }
    });
  });
});

// ------------------------------------------------------------------------------------------------------------
// The real Alertmanager with the repository's route tree and inhibit rules; receivers point at local sinks.
// ------------------------------------------------------------------------------------------------------------

interface Delivery {
  kind: 'webhook' | 'slack' | 'pagerduty' | 'email';
  receiver: string;
  /** Parsed JSON body (HTTP kinds). */
  body?: Record<string, any>;
  /** HTTP body, or the decoded e-mail message. */
  text: string;
  /** E-mail: envelope and credentials. */
  mailFrom?: string;
  rcptTo?: string[];
  authPlain?: string;
  at: number;
}

/** A minimal SMTP server: enough of RFC 5321 for Go's net/smtp client (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT). */
function startSmtpSink(onMessage: (d: Delivery) => void): Promise<TcpServer> {
  const server = createTcpServer((socket) => {
    let buffer = '';
    let inData = false;
    let dataLines: string[] = [];
    let mailFrom = '';
    let rcptTo: string[] = [];
    let authPlain: string | undefined;
    const reply = (line: string) => socket.write(`${line}\r\n`);
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    reply('220 vertigo-test-sink ESMTP');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let idx: number;
      while ((idx = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            const raw = dataLines.join('\r\n');
            onMessage({ kind: 'email', receiver: rcptTo.join(','), text: decodeQuotedPrintable(raw), mailFrom, rcptTo, authPlain, at: Date.now() });
            dataLines = [];
            reply('250 2.0.0 queued');
          } else {
            dataLines.push(line.startsWith('..') ? line.slice(1) : line);
          }
          continue;
        }
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'EHLO') {
          reply('250-vertigo-test-sink');
          reply('250 AUTH PLAIN');
        } else if (verb === 'HELO') reply('250 vertigo-test-sink');
        else if (verb === 'AUTH') {
          authPlain = Buffer.from(line.split(' ')[2] ?? '', 'base64').toString('utf8');
          reply('235 2.7.0 Authentication successful');
        } else if (verb === 'MAIL') {
          mailFrom = /<(.*)>/.exec(line)?.[1] ?? '';
          rcptTo = [];
          reply('250 2.1.0 ok');
        } else if (verb === 'RCPT') {
          rcptTo.push(/<(.*)>/.exec(line)?.[1] ?? '');
          reply('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 end data with <CR><LF>.<CR><LF>');
        } else if (verb === 'QUIT') {
          reply('221 2.0.0 bye');
          socket.end();
        } else reply('250 ok');
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function decodeQuotedPrintable(raw: string): string {
  return raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function startHttpSink(onDelivery: (d: Delivery) => void): Promise<HttpServer> {
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [, kind, receiver] = (req.url ?? '').split('/');
      let body: Record<string, any> | undefined;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      onDelivery({ kind: kind as Delivery['kind'], receiver: receiver ?? '', body, text, at: Date.now() });
      if (kind === 'pagerduty') {
        res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: 'x' }));
      } else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/**
 * The repository's alertmanager.yml with: group_wait 0s / group_interval 1s everywhere, templates by absolute
 * path, and each receiver's endpoint and secret file swapped for the sinks and temp files. Route tree, inhibit
 * rules, receiver names and kinds, templates, e-mail addresses and channels stay as they are.
 */
async function buildLiveConfig(dir: string, httpSink: string, smtpPort: number): Promise<string> {
  const config = parse(await readFile(CONFIG, 'utf8')) as Record<string, any>;
  config.templates = [path.join(REPO_ROOT, 'alertmanager/templates/*.tmpl')];
  config.global = { ...config.global, smtp_smarthost: `127.0.0.1:${smtpPort}`, smtp_require_tls: false, smtp_auth_password_file: path.join(dir, 'smtp-password') };
  // Alertmanager 0.25 uses auth_password_file verbatim (a trailing newline would be part of the password),
  // unlike api_url_file and routing_key_file, which it trims: the README says to write it with printf '%s'.
  await writeFile(path.join(dir, 'smtp-password'), 'smtp-test-password');

  const fastTimings = (route: Record<string, any>) => {
    if ('group_wait' in route) route.group_wait = '0s';
    if ('group_interval' in route) route.group_interval = '1s';
    for (const child of route.routes ?? []) fastTimings(child);
  };
  config.route.group_wait = '0s';
  config.route.group_interval = '1s';
  fastTimings(config.route);

  for (const receiver of config.receivers as Array<Record<string, any>>) {
    const name = receiver.name as string;
    for (const key of Object.keys(receiver)) {
      if (key === 'name') continue;
      for (const integration of receiver[key] as Array<Record<string, any>>) {
        if (key === 'webhook_configs') integration.url = `${httpSink}/webhook/${name}`;
        else if (key === 'slack_configs') {
          integration.api_url_file = path.join(dir, `${name}.url`);
          await writeFile(integration.api_url_file, `${httpSink}/slack/${name}\n`);
        } else if (key === 'pagerduty_configs') {
          integration.url = `${httpSink}/pagerduty/${name}`;
          integration.routing_key_file = path.join(dir, `${name}.key`);
          await writeFile(integration.routing_key_file, `routing-key-of-${name}\n`);
        } else if (key !== 'email_configs') throw new Error(`the live test does not know how to sink ${key} (receiver ${name})`);
      }
    }
  }
  const file = path.join(dir, 'alertmanager.yml');
  await writeFile(file, stringify(config));
  return file;
}

describe.skipIf(SKIP)('the real Alertmanager with the repository routes and inhibition rules', () => {
  let dir: string;
  let httpSink: HttpServer;
  let smtpSink: TcpServer;
  let child: ChildProcess | undefined;
  let output = '';
  let baseUrl: string;
  const deliveries: Delivery[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vertigo-alertmanager-'));
    httpSink = await startHttpSink((d) => deliveries.push(d));
    smtpSink = await startSmtpSink((d) => deliveries.push(d));
    const httpPort = (httpSink.address() as { port: number }).port;
    const smtpPort = (smtpSink.address() as { port: number }).port;
    const configFile = await buildLiveConfig(dir, `http://127.0.0.1:${httpPort}`, smtpPort);
    const check = await amtool(['check-config', configFile]);
    expect(check.code, check.stdout + check.stderr).toBe(0);

    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    child = spawn(
      ALERTMANAGER!,
      [`--config.file=${configFile}`, `--storage.path=${path.join(dir, 'data')}`, '--cluster.listen-address=', `--web.listen-address=127.0.0.1:${port}`, '--log.level=info'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    try {
      await waitFor(async () => child?.exitCode === null && (await fetch(`${baseUrl}/-/ready`)).ok, 20_000);
    } catch (err) {
      throw new Error(`alertmanager did not become ready: ${String(err)}\n${output}`);
    }
  });

  afterAll(async () => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child?.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => (httpSink ? httpSink.close(() => resolve()) : resolve()));
    httpSink?.closeAllConnections();
    await new Promise<void>((resolve) => (smtpSink ? smtpSink.close(() => resolve()) : resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const post = async (alerts: Array<{ labels: Record<string, string>; annotations?: Record<string, string> }>) => {
    const startsAt = new Date().toISOString();
    const res = await fetch(`${baseUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts.map((a) => ({ labels: a.labels, annotations: a.annotations ?? {}, startsAt, generatorURL: 'http://prometheus.test/graph' }))),
    });
    expect(res.status, await res.text()).toBe(200);
  };
  const alertsInApi = async (env: string): Promise<Array<{ labels: Record<string, string>; receivers: Array<{ name: string }>; status: { state: string; inhibitedBy: string[] } }>> => {
    const res = await fetch(`${baseUrl}/api/v2/alerts?filter=${encodeURIComponent(`environment="${env}"`)}`);
    return (await res.json()) as never;
  };
  const annotationsFor = (token: string) => ({
    summary: `summary ${token}`,
    description: `description ${token}: value 0.42`,
    dashboard: '/d/vertigo-errors/vertigo-errors',
    runbook_url: RUNBOOK,
  });
  const deliveredWith = (token: string) => deliveries.filter((d) => d.text.includes(token));
  const fail = (why: string) => new Error(`${why}\ndeliveries: ${JSON.stringify(deliveries.map((d) => [d.kind, d.receiver]))}\n${output.slice(-3000)}`);

  it('delivers an info alert to the info webhook only, with its labels, annotations, dashboard and runbook links', async () => {
    const labels = { alertname: 'VertigoLiveInfo', environment: 'live-info', severity: 'info', team: 'llm-quality', model: 'gpt-4o' };
    await post([{ labels, annotations: annotationsFor('tok-info') }]);
    const delivery = await waitFor(() => deliveries.find((d) => d.kind === 'webhook' && d.text.includes('tok-info')), 15_000).catch(() => {
      throw fail('info alert not delivered');
    });
    expect(delivery.receiver).toBe('info-webhook');
    expect(delivery.body?.receiver).toBe('info-webhook');
    expect(delivery.body?.status).toBe('firing');
    expect(delivery.body?.groupLabels).toEqual({ alertname: 'VertigoLiveInfo', environment: 'live-info', team: 'llm-quality' });
    expect(delivery.body?.alerts).toHaveLength(1);
    expect(delivery.body?.alerts[0].labels).toEqual(labels);
    expect(delivery.body?.alerts[0].annotations).toEqual(annotationsFor('tok-info'));
    expect(delivery.body?.alerts[0].annotations.dashboard).toBe('/d/vertigo-errors/vertigo-errors');
    expect(delivery.body?.alerts[0].annotations.runbook_url).toBe(RUNBOOK);
    await new Promise((r) => setTimeout(r, 1_500)); // a group_interval and a half: nothing else may arrive
    expect(deliveredWith('tok-info').map((d) => `${d.kind}:${d.receiver}`)).toEqual(['webhook:info-webhook']);
  });

  it('pages, posts and mails a critical alert through the real PagerDuty, Slack and e-mail integrations and templates', async () => {
    const labels = { alertname: 'VertigoPersistJobFailures', environment: 'live-critical', severity: 'critical', team: 'ingest', source: 'langfuse' };
    await post([{ labels, annotations: annotationsFor('tok-critical') }]);
    await waitFor(() => deliveredWith('tok-critical').length >= 3, 15_000).catch(() => {
      throw fail('critical alert not delivered to 3 integrations');
    });
    const got = deliveredWith('tok-critical');
    expect(got.map((d) => d.kind).sort()).toEqual(['email', 'pagerduty', 'slack']);
    const dashboard = `${GRAFANA}/d/vertigo-errors/vertigo-errors?var-environment=live-critical`;

    const pd = got.find((d) => d.kind === 'pagerduty')!;
    expect(pd.receiver).toBe('ingest-pagerduty');
    expect(pd.body?.routing_key).toBe('routing-key-of-ingest-pagerduty'); // read from routing_key_file
    expect(pd.body?.event_action).toBe('trigger');
    expect(pd.body?.payload.summary).toBe('[live-critical] VertigoPersistJobFailures: summary tok-critical');
    expect(pd.body?.payload.severity).toBe('critical');
    expect(pd.body?.payload.custom_details).toMatchObject({ environment: 'live-critical', team: 'ingest', dashboard, runbook: RUNBOOK });
    expect(pd.body?.links).toEqual([
      { href: dashboard, text: 'Grafana dashboard' },
      { href: RUNBOOK, text: 'Runbook' },
    ]);

    const slack = got.find((d) => d.kind === 'slack')!;
    expect(slack.receiver).toBe('ingest-slack'); // the URL came from api_url_file
    expect(slack.body?.channel).toBe('#vertigo-ingest-alerts');
    const attachment = slack.body?.attachments[0];
    expect(attachment.title).toBe('[FIRING:1] VertigoPersistJobFailures (critical, live-critical, team ingest)');
    expect(attachment.title_link).toBe(dashboard);
    expect(attachment.color).toBe('danger');
    expect(attachment.text).toContain('*summary tok-critical*');
    expect(attachment.text).toContain('description tok-critical: value 0.42');
    expect(attachment.text).toContain('`source=langfuse`');
    expect(attachment.text).toContain(`<${dashboard}|:bar_chart: Grafana dashboard>`);
    expect(attachment.text).toContain(`<${RUNBOOK}|:book: Runbook>`);

    const mail = got.find((d) => d.kind === 'email')!;
    expect(mail.rcptTo).toEqual(['ingest-oncall@vertigo-live.example']);
    expect(mail.mailFrom).toBe('alertmanager@vertigo-live.example');
    expect(mail.authPlain).toBe('\0alertmanager@vertigo-live.example\0smtp-test-password'); // from smtp_auth_password_file
    expect(mail.text).toContain('Subject: [FIRING:1] VertigoPersistJobFailures (critical, live-critical, team ingest): summary tok-critical');
    expect(mail.text).toContain('Content-Type: text/html');
    expect(mail.text).toContain(`<a href="${dashboard}">Grafana dashboard</a>`);
    expect(mail.text).toContain(`<a href="${RUNBOOK}">Runbook</a>`);
  });

  it('runs the same route tree as amtool: the API reports the amtool receivers for every severity x team', async () => {
    await post(ROUTES.map((c) => ({ labels: { alertname: 'VertigoRouteProbe', environment: `routes-${c.team}-${c.severity}`, team: c.team!, severity: c.severity! } })));
    for (const c of ROUTES) {
      const [alert] = await waitFor(async () => {
        const found = await alertsInApi(`routes-${c.team}-${c.severity}`);
        return found.length > 0 ? found : undefined;
      });
      expect(alert!.receivers.map((r) => r.name).sort(), `${c.severity} ${c.team}`).toEqual([...c.receivers].sort());
    }
  });

  it('PostgreSQL down in environment X mutes the symptoms in X; the same symptom in Y and other alerts in X still go out', async () => {
    await post([{ labels: { alertname: 'VertigoPostgresDown', environment: 'pg-x', severity: 'critical', team: 'platform', job: 'vertigo-worker' }, annotations: annotationsFor('tok-pg-down') }]);
    await waitFor(() => deliveredWith('tok-pg-down').some((d) => d.kind === 'slack'), 15_000).catch(() => {
      throw fail('VertigoPostgresDown not delivered');
    });

    await post([
      { labels: { alertname: 'VertigoPersistJobFailures', environment: 'pg-x', severity: 'warning', team: 'ingest', source: 'custom' }, annotations: annotationsFor('tok-symptom-x') },
      { labels: { alertname: 'VertigoIngestFreshnessBudgetBurn', environment: 'pg-x', severity: 'critical', team: 'ingest' }, annotations: annotationsFor('tok-freshness-x') },
      { labels: { alertname: 'VertigoPersistJobFailures', environment: 'pg-y', severity: 'warning', team: 'ingest', source: 'custom' }, annotations: annotationsFor('tok-symptom-y') },
      { labels: { alertname: 'VertigoLLMErrorRateHigh', environment: 'pg-x', severity: 'warning', team: 'llm-quality', model: 'gpt-4o' }, annotations: annotationsFor('tok-unrelated-x') },
    ]);
    await waitFor(() => deliveredWith('tok-symptom-y').length >= 2 && deliveredWith('tok-unrelated-x').length >= 2, 15_000).catch(() => {
      throw fail('the uninhibited alerts were not delivered');
    });
    expect(deliveredWith('tok-symptom-y').map((d) => d.kind).sort()).toEqual(['email', 'slack']);
    expect(deliveredWith('tok-unrelated-x').map((d) => d.kind).sort()).toEqual(['email', 'slack']);

    const byName = async () => Object.fromEntries((await alertsInApi('pg-x')).map((a) => [a.labels.alertname, a.status]));
    const status = await byName();
    expect(status.VertigoPersistJobFailures).toMatchObject({ state: 'suppressed' });
    expect(status.VertigoPersistJobFailures!.inhibitedBy).toHaveLength(1);
    expect(status.VertigoIngestFreshnessBudgetBurn).toMatchObject({ state: 'suppressed' });
    expect(status.VertigoLLMErrorRateHigh).toMatchObject({ state: 'active' });
    expect(status.VertigoPostgresDown).toMatchObject({ state: 'active' });

    await new Promise((r) => setTimeout(r, 2_500)); // 2.5 group intervals after the others went out
    expect(deliveredWith('tok-symptom-x')).toEqual([]);
    expect(deliveredWith('tok-freshness-x')).toEqual([]);
  });

  it('applies the other inhibition rules: target down (same job), Redis down, critical over warning', async () => {
    await post([
      { labels: { alertname: 'VertigoTargetDown', environment: 'td-x', severity: 'critical', team: 'platform', job: 'vertigo-worker', instance: 'worker-1:9465' } },
      { labels: { alertname: 'VertigoRedisDown', environment: 'rd-x', severity: 'critical', team: 'platform' } },
      { labels: { alertname: 'VertigoIngestErrorBudgetBurn', environment: 'sev-x', severity: 'critical', team: 'ingest' } },
    ]);
    await post([
      // target down: same job muted, another job not
      { labels: { alertname: 'VertigoEventLoopLagHigh', environment: 'td-x', severity: 'warning', team: 'platform', job: 'vertigo-worker', instance: 'worker-1:9465' } },
      { labels: { alertname: 'VertigoMemoryHigh', environment: 'td-x', severity: 'warning', team: 'platform', job: 'vertigo-api', instance: 'api-1:3000' } },
      // Redis down: queue and ingest errors muted, LLM quality not
      { labels: { alertname: 'VertigoQueueBacklogGrowing', environment: 'rd-x', severity: 'warning', team: 'ingest', queue: 'persist' } },
      { labels: { alertname: 'VertigoWebhookServerErrors', environment: 'rd-x', severity: 'critical', team: 'ingest', source: 'langfuse' } },
      { labels: { alertname: 'VertigoIngestErrorBudgetBurn', environment: 'rd-x', severity: 'critical', team: 'ingest' } },
      { labels: { alertname: 'VertigoLLMErrorRateHigh', environment: 'rd-x', severity: 'warning', team: 'llm-quality' } },
      // critical over warning: same alertname + environment muted; another environment not
      { labels: { alertname: 'VertigoIngestErrorBudgetBurn', environment: 'sev-x', severity: 'warning', team: 'ingest' } },
      { labels: { alertname: 'VertigoIngestErrorBudgetBurn', environment: 'sev-y', severity: 'warning', team: 'ingest' } },
    ]);
    const expected: Array<[string, string, Record<string, string>, string]> = [
      ['td-x', 'VertigoEventLoopLagHigh', {}, 'suppressed'],
      ['td-x', 'VertigoMemoryHigh', {}, 'active'],
      ['td-x', 'VertigoTargetDown', {}, 'active'],
      ['rd-x', 'VertigoQueueBacklogGrowing', {}, 'suppressed'],
      ['rd-x', 'VertigoWebhookServerErrors', {}, 'suppressed'],
      ['rd-x', 'VertigoIngestErrorBudgetBurn', {}, 'suppressed'],
      ['rd-x', 'VertigoLLMErrorRateHigh', {}, 'active'],
      ['rd-x', 'VertigoRedisDown', {}, 'active'],
      ['sev-x', 'VertigoIngestErrorBudgetBurn', { severity: 'warning' }, 'suppressed'],
      ['sev-x', 'VertigoIngestErrorBudgetBurn', { severity: 'critical' }, 'active'],
      ['sev-y', 'VertigoIngestErrorBudgetBurn', { severity: 'warning' }, 'active'],
    ];
    const actual = async () => {
      const rows: string[] = [];
      for (const [env, name, extra] of expected) {
        const alerts = (await alertsInApi(env)).filter((a) => a.labels.alertname === name && Object.entries(extra).every(([k, v]) => a.labels[k] === v));
        rows.push(`${env} ${name} ${JSON.stringify(extra)} ${alerts.map((a) => a.status.state).join('|') || 'missing'}`);
      }
      return rows;
    };
    const want = expected.map(([env, name, extra, state]) => `${env} ${name} ${JSON.stringify(extra)} ${state}`);
    let last: string[] = [];
    await waitFor(async () => {
      last = await actual();
      return JSON.stringify(last) === JSON.stringify(want);
    }, 10_000).catch(() => undefined);
    expect(last).toEqual(want);
  });
});
