import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * docker-compose.monitoring.yml cannot be started here (no Docker), so it is checked statically: what it
 * mounts exists in the repository with the right kind (a missing file would be mounted as an empty directory),
 * every service has a healthcheck unless its image cannot run one, volumes are declared, no secret is written
 * in it, and it agrees with the Prometheus, Alertmanager, Grafana, Loki and promtail configurations it mounts.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const yamlFile = <T = any>(path: string): T => parse(read(path), { merge: true }) as T;

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  volumes?: (string | { type: string; source: string; target: string })[];
  ports?: string[];
  labels?: Record<string, string>;
  healthcheck?: { test: string[] | string; disable?: boolean };
  depends_on?: string[] | Record<string, { condition: string }>;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const COMPOSE_FILE = 'docker-compose.monitoring.yml';
const composeText = read(COMPOSE_FILE);
const compose = parse(composeText, { merge: true }) as Compose;
const services = compose.services;

/** Every service of the stack, with the port it listens on inside the compose network. */
const LISTEN_PORTS: Record<string, number> = {
  'vertigo-api': 3000,
  'vertigo-worker': 3001,
  postgres: 5432,
  redis: 6379,
  prometheus: 9090,
  alertmanager: 9093,
  grafana: 3000,
  loki: 3100,
  promtail: 9080,
  'postgres-exporter': 9187,
  'redis-exporter': 9121,
  'node-exporter': 9100,
  'blackbox-exporter': 9115,
};

/** Images that cannot run a health check command (no shell, no HTTP client), and why. */
const NO_HEALTHCHECK: Record<string, string> = {
  'redis-exporter': 'oliver006/redis_exporter is built FROM scratch: no shell, no wget; Prometheus up{job="redis"} watches it',
};

/** Host paths outside the repository that a service may mount (read-only), and why. */
const HOST_MOUNTS: Record<string, string> = {
  '/': 'node-exporter reads the host filesystems under /host',
  '/var/run/docker.sock': 'promtail discovers the vertigo containers and reads their logs',
};

/** Services Prometheus must scrape (target host -> job). */
const SCRAPED: Record<string, string> = {
  'vertigo-api': 'vertigo-api',
  'vertigo-worker': 'vertigo-worker',
  'postgres-exporter': 'postgres',
  'redis-exporter': 'redis',
  'node-exporter': 'node',
  'blackbox-exporter': 'blackbox-health',
};

interface Mount {
  service: string;
  source: string;
  target: string;
  readOnly: boolean;
}

function mounts(): Mount[] {
  return Object.entries(services).flatMap(([service, s]) =>
    (s.volumes ?? []).map((v) => {
      if (typeof v !== 'string') return { service, source: v.source, target: v.target, readOnly: false };
      const [source, target, mode = ''] = v.split(':') as [string, string, string?];
      return { service, source, target, readOnly: mode.split(',').includes('ro') };
    }),
  );
}
const bindMounts = () => mounts().filter((m) => m.source.startsWith('.') || m.source.startsWith('/'));
const namedMounts = () => mounts().filter((m) => !m.source.startsWith('.') && !m.source.startsWith('/'));

/** The container path a config file refers to -> the repository path mounted there, if any. */
function repoPathOf(service: string, containerPath: string): string | undefined {
  for (const m of bindMounts().filter((b) => b.service === service && b.source.startsWith('.'))) {
    if (containerPath === m.target) return posix.normalize(m.source);
    if (containerPath.startsWith(`${m.target}/`)) return posix.join(m.source, containerPath.slice(m.target.length + 1));
  }
  return undefined;
}

function hostPort(address: string): { host: string; port: number } {
  const url = new URL(/^[a-z]+:\/\//.test(address) ? address : `tcp://${address}`);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return { host: url.hostname, port };
}

function filesUnder(dir: string, ext: RegExp): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => ext.test(f))
    .map((f) => posix.join(dir, f.split('\\').join('/')));
}

describe(COMPOSE_FILE, () => {
  it('has every service of the stack', () => {
    expect(Object.keys(services).sort()).toEqual(Object.keys(LISTEN_PORTS).sort());
    expect(services['vertigo-api']!.environment).toMatchObject({ ROLE: 'api', PORT: '3000' });
    expect(services['vertigo-worker']!.environment).toMatchObject({ ROLE: 'worker', PORT: '3001' });
    for (const name of ['vertigo-api', 'vertigo-worker']) {
      expect(services[name]!.build).toEqual({ context: '.', dockerfile: 'infrastructure/Dockerfile' });
      expect(services[name]!.environment!.DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(services[name]!.environment!.REDIS_URL).toBe('redis://redis:6379');
      expect(services[name]!.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    }
    expect(services.postgres!.image).toMatch(/^postgres:16/);
    expect(services.redis!.image).toMatch(/^redis:7/);
    const redisCommand = ([] as string[]).concat(services.redis!.command ?? []).join(' ');
    expect(redisCommand).toMatch(/--appendonly yes/);
    expect(redisCommand).toMatch(/--maxmemory-policy noeviction/);
  });

  it('bind-mounts only paths that exist in the repository, files as files and folders as folders', () => {
    const problems: string[] = [];
    for (const m of bindMounts()) {
      if (m.source.startsWith('/')) {
        if (!(m.source in HOST_MOUNTS)) problems.push(`${m.service}: host path ${m.source} is not an expected host mount`);
        if (!m.readOnly) problems.push(`${m.service}: host path ${m.source} must be mounted read-only`);
        continue;
      }
      if (!m.readOnly) problems.push(`${m.service}: ${m.source} must be mounted read-only (:ro)`);
      const abs = join(ROOT, m.source);
      if (!existsSync(abs)) {
        problems.push(`${m.service}: ${m.source} does not exist`);
        continue;
      }
      // A path with an extension is a config file; without one, a folder. Docker mounts a missing file as a folder.
      const wantFile = /\.[a-z]+$/.test(posix.basename(m.source));
      if (wantFile !== statSync(abs).isFile()) problems.push(`${m.service}: ${m.source} should be a ${wantFile ? 'file' : 'folder'}`);
    }
    expect(problems).toEqual([]);
    // the paths the other configuration folders are expected at
    const sources = bindMounts().map((m) => `${m.service} ${m.source}`);
    expect(sources).toEqual(
      expect.arrayContaining([
        'prometheus ./prometheus/prometheus.yml',
        'prometheus ./prometheus/rules',
        'blackbox-exporter ./prometheus/blackbox.yml',
        'alertmanager ./alertmanager/alertmanager.yml',
        'alertmanager ./alertmanager/templates',
        'alertmanager ./infrastructure/secrets/alertmanager',
        'grafana ./grafana/provisioning',
        'grafana ./grafana/dashboards',
        'loki ./loki/loki-config.yml',
        'promtail ./loki/promtail-config.yml',
      ]),
    );
  });

  it('gives every service a healthcheck, except images that cannot run one', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name in NO_HEALTHCHECK) {
        expect(service.healthcheck, name).toBeUndefined();
        continue;
      }
      expect(service.healthcheck, `${name} has no healthcheck`).toBeDefined();
      expect(service.healthcheck!.disable).not.toBe(true);
      const test = ([] as string[]).concat(service.healthcheck!.test);
      expect(['CMD', 'CMD-SHELL'], name).toContain(test[0]);
      // an HTTP check targets the service's own port
      const url = test.join(' ').match(/https?:\/\/127\.0\.0\.1:(\d+)/);
      if (url) expect(Number(url[1]), name).toBe(LISTEN_PORTS[name]);
    }
  });

  it('keeps its data in declared named volumes, and declares none it does not use', () => {
    const used = new Set(namedMounts().map((m) => m.source));
    expect(Object.keys(compose.volumes ?? {}).sort()).toEqual([...used].sort());
    const dataOf = (service: string) => namedMounts().find((m) => m.service === service)?.target;
    expect(dataOf('postgres')).toBe('/var/lib/postgresql/data');
    expect(dataOf('redis')).toBe('/data');
    expect(dataOf('prometheus')).toBe('/prometheus');
    expect(dataOf('loki')).toBe('/loki');
    expect(dataOf('grafana')).toBe('/var/lib/grafana');
  });

  it('documents every service and published port in its header, and publishes no port twice', () => {
    const header = composeText.slice(0, composeText.indexOf('\nservices:'));
    const published: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      expect(header, `${name} missing from the ports table`).toMatch(new RegExp(`^#\\s+${name}\\s+\\S+\\s+${LISTEN_PORTS[name]}\\s`, 'm'));
      for (const port of service.ports ?? []) {
        const parts = port.split(':');
        expect(Number(parts.at(-1)), `${name} publishes ${port}`).toBe(LISTEN_PORTS[name]);
        published.push(parts.slice(0, -1).join(':'));
      }
    }
    expect(new Set(published).size).toBe(published.length);
    expect(services.grafana!.ports).toEqual([expect.stringMatching(/:\$\{GRAFANA_PORT:-3002\}:3000$/)]);
  });

  it('writes no secret: they come from required or optional variables of monitoring.env', () => {
    const secretLike = /PASSWORD|PASS$|SECRET|DSN|TOKEN|API_KEY|DATABASE_URL|LOKI_URL/;
    for (const [name, service] of Object.entries(services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (!secretLike.test(key)) continue;
        if (key === 'DATABASE_URL') expect(String(value), `${name} ${key}`).toContain('${POSTGRES_PASSWORD:?');
        else expect(String(value), `${name} ${key}`).toMatch(/^\$\{[A-Z_]+(:\?[^}]+|:-)\}$/);
      }
    }
    const interpolated = new Set([...composeText.matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]!));
    const example = read('infrastructure/monitoring.env.example');
    const listed = new Set([...example.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]!));
    expect([...interpolated].filter((v) => !listed.has(v))).toEqual([]);
    // the required ones are empty in the example: compose refuses to start until they are filled in
    for (const [, variable] of composeText.matchAll(/\$\{([A-Z_]+):\?/g)) expect(example).toMatch(new RegExp(`^${variable}=$`, 'm'));
    expect(read('infrastructure/.gitignore')).toMatch(/^monitoring\.env$/m);
  });

  it('ships the logs of exactly the vertigo services to promtail, with their role', () => {
    const shipped = Object.entries(services).filter(([, s]) => s.labels?.['vertigo.logs'] === 'promtail');
    expect(shipped.map(([n]) => n).sort()).toEqual(['vertigo-api', 'vertigo-worker']);
    for (const [, s] of shipped) expect(s.labels!['vertigo.role']).toBe(s.environment!.ROLE);
  });
});

describe('prometheus/prometheus.yml against the compose services', () => {
  const load = () => yamlFile<{
    rule_files?: string[];
    scrape_configs: {
      job_name: string;
      params?: { module?: string[] };
      static_configs?: { targets: string[]; labels?: Record<string, string> }[];
      relabel_configs?: { target_label?: string; replacement?: string }[];
    }[];
    alerting?: { alertmanagers?: { static_configs?: { targets: string[] }[] }[] };
  }>('prometheus/prometheus.yml');

  /** Every host:port Prometheus talks to, by job: targets, blackbox probe URLs, and __address__ rewrites. */
  function addresses() {
    const config = load();
    const found: { job: string; host: string; port: number }[] = [];
    for (const job of config.scrape_configs) {
      for (const target of (job.static_configs ?? []).flatMap((s) => s.targets)) found.push({ job: job.job_name, ...hostPort(target) });
      for (const relabel of job.relabel_configs ?? []) {
        if (relabel.target_label === '__address__' && relabel.replacement && !relabel.replacement.includes('$')) {
          found.push({ job: job.job_name, ...hostPort(relabel.replacement) });
        }
      }
    }
    for (const am of config.alerting?.alertmanagers ?? []) {
      for (const target of (am.static_configs ?? []).flatMap((s) => s.targets)) found.push({ job: 'alerting', ...hostPort(target) });
    }
    return found;
  }

  it('scrapes only compose services, on the ports they listen on', () => {
    const found = addresses();
    expect(found.length).toBeGreaterThan(0);
    for (const { job, host, port } of found) {
      expect(Object.keys(services), `${job}: ${host} is not a compose service`).toContain(host);
      expect(port, `${job}: ${host}:${port}`).toBe(LISTEN_PORTS[host]);
    }
  });

  it('scrapes every vertigo service and exporter, under its job', () => {
    const found = addresses();
    for (const [host, job] of Object.entries(SCRAPED)) {
      expect(found.some((a) => a.host === host && a.job === job), `${host} under job ${job}`).toBe(true);
    }
    expect(found.some((a) => a.job === 'alerting' && a.host === 'alertmanager')).toBe(true);
    // the blackbox job probes the vertigo services' readiness
    const probed = found.filter((a) => a.job === 'blackbox-health').map((a) => a.host);
    expect(probed).toEqual(expect.arrayContaining(['vertigo-api', 'vertigo-worker', 'blackbox-exporter']));
  });

  it('reads its rules from the mounted rules folder and probes with a module blackbox.yml defines', () => {
    const config = load();
    expect(config.rule_files?.length).toBeGreaterThan(0);
    for (const pattern of config.rule_files ?? []) {
      const inContainer = pattern.startsWith('/') ? pattern : posix.join('/etc/prometheus', pattern);
      expect(repoPathOf('prometheus', inContainer), `rule_files ${pattern} is outside the mounted folders`).toMatch(/^prometheus\/rules\//);
    }
    const modules = Object.keys(yamlFile<{ modules: Record<string, unknown> }>('prometheus/blackbox.yml').modules);
    const blackbox = config.scrape_configs.find((j) => j.job_name === 'blackbox-health');
    for (const module of blackbox?.params?.module ?? []) expect(modules).toContain(module);
  });
});

describe('alertmanager/alertmanager.yml against its mounts', () => {
  it('reads templates and secret files only from the mounted folders', () => {
    const text = read('alertmanager/alertmanager.yml');
    const config = parse(text) as { templates?: string[] };
    for (const pattern of config.templates ?? []) {
      const inContainer = pattern.startsWith('/') ? pattern : posix.join('/etc/alertmanager', pattern);
      expect(repoPathOf('alertmanager', inContainer), `template ${pattern}`).toMatch(/^alertmanager\/templates\//);
    }
    for (const [, path] of text.matchAll(/_file:\s*['"]?([^'"\s]+)/g)) {
      expect(repoPathOf('alertmanager', path!), `${path} is not in a mounted folder`).toMatch(/^infrastructure\/secrets\/alertmanager\//);
    }
  });
});

describe('grafana/provisioning against the compose services', () => {
  it('points data sources at compose services and dashboards at the mounted folder', () => {
    const files = filesUnder('grafana/provisioning', /\.ya?ml$/);
    expect(files.length).toBeGreaterThan(0);
    const urls: string[] = [];
    const dashboardPaths: string[] = [];
    for (const file of files) {
      const config = yamlFile<{ datasources?: { url?: string }[]; providers?: { options?: { path?: string } }[] }>(file);
      for (const ds of config.datasources ?? []) if (ds.url) urls.push(ds.url);
      for (const p of config.providers ?? []) if (p.options?.path) dashboardPaths.push(p.options.path);
    }
    for (const url of urls) {
      if (url.includes('$')) continue; // an environment variable: not this stack's concern
      const { host, port } = hostPort(url);
      expect(Object.keys(services), `data source ${url}`).toContain(host);
      expect(port, url).toBe(LISTEN_PORTS[host]);
    }
    for (const path of dashboardPaths) expect(repoPathOf('grafana', path), `dashboards path ${path}`).toMatch(/^grafana\/dashboards/);
  });
});

describe('loki/ configuration', () => {
  const promtail = yamlFile<{
    clients: { url: string }[];
    positions: { filename: string };
    scrape_configs: {
      docker_sd_configs?: { host: string; filters?: { name: string; values: string[] }[] }[];
      relabel_configs?: { target_label?: string; source_labels?: string[] }[];
      pipeline_stages: Record<string, any>[];
    }[];
  }>('loki/promtail-config.yml');

  it('promtail pushes to the loki service and keeps its positions on a volume', () => {
    for (const client of promtail.clients) {
      const { host, port } = hostPort(client.url);
      expect(host).toBe('loki');
      expect(port).toBe(LISTEN_PORTS.loki);
    }
    const positions = promtail.positions.filename;
    expect(namedMounts().some((m) => m.service === 'promtail' && positions.startsWith(`${m.target}/`))).toBe(true);
  });

  it('promtail finds the labelled vertigo containers and keeps only the service, role and level labels', () => {
    for (const job of promtail.scrape_configs) {
      for (const sd of job.docker_sd_configs ?? []) {
        expect(sd.host).toBe('unix:///var/run/docker.sock');
        expect(sd.filters).toContainEqual({ name: 'label', values: ['vertigo.logs=promtail'] });
      }
      const relabelled = (job.relabel_configs ?? []).map((r) => r.target_label);
      const stages = job.pipeline_stages;
      const stage = (name: string) => stages.find((s) => name in s)?.[name];
      expect(Object.keys(stage('json').expressions)).toEqual(expect.arrayContaining(['level', 'service', 'role', 'time']));
      expect(Object.keys(stage('labels')).sort()).toEqual(['level', 'role', 'service']);
      expect(stage('timestamp')).toMatchObject({ source: 'time', format: 'RFC3339Nano' });
      expect([...stage('labelallow')].sort()).toEqual(['level', 'role', 'service']);
      // labelallow must come after every stage that can add a label
      const last = stages.findIndex((s) => 'labelallow' in s);
      expect(stages.slice(last + 1).some((s) => 'labels' in s || 'static_labels' in s)).toBe(false);
      for (const label of relabelled) expect(['service', 'role', 'level']).toContain(label);
      const text = JSON.stringify(job);
      for (const unbounded of ['reqId', '"msg"', 'delivery_id', 'trace']) expect(text).not.toContain(unbounded);
    }
  });

  it('loki stores on its volume with retention applied by the compactor', () => {
    const loki = yamlFile<any>('loki/loki-config.yml');
    expect(loki.server.http_listen_port).toBe(LISTEN_PORTS.loki);
    expect(loki.common.path_prefix).toBe('/loki');
    expect(namedMounts()).toContainEqual(expect.objectContaining({ service: 'loki', target: '/loki' }));
    expect(loki.compactor.retention_enabled).toBe(true);
    expect(loki.compactor.delete_request_store).toBe('filesystem');
    const retentionHours = Number(String(loki.limits_config.retention_period).replace(/h$/, ''));
    expect(retentionHours % 24).toBe(0);
    expect(loki.schema_config.configs.at(-1)).toMatchObject({ store: 'tsdb', schema: 'v13', index: { period: '24h' } });
    expect(loki.limits_config.max_label_names_per_series).toBeLessThanOrEqual(15);
  });
});

describe('infrastructure/Dockerfile', () => {
  const text = read('infrastructure/Dockerfile');
  const lines = text.split('\n').filter((l) => !l.trim().startsWith('#'));
  const args = Object.fromEntries([...text.matchAll(/^ARG (\w+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
  const stages = lines.filter((l) => /^FROM /.test(l)).map((l) => l.replace(/\$\{(\w+)\}/g, (_, n: string) => args[n] ?? '').split(/\s+/)[1]!);

  it('builds on Node 20 in stages and runs the compiled server as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const image of stages) expect(image).toMatch(/^node:20[.-]/);
    expect(text).toMatch(/^RUN npm ci\b/m);
    expect(text).toMatch(/npm run build/);
    const runtime = text.slice(text.lastIndexOf('\nFROM '));
    const user = [...runtime.matchAll(/^USER (\S+)/gm)].at(-1)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
    expect(runtime).toMatch(/^CMD \["node", "dist\/server\.js"\]/m);
    // the migrations are read from src/store/migrations at run time
    expect(runtime).toMatch(/COPY .*src\/store\/migrations/);
  });

  it('has a build context that carries what the build copies', () => {
    const ignore = read('infrastructure/Dockerfile.dockerignore');
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/**']) expect(ignore).toContain(`!${needed}`);
    for (const [, source] of text.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)) {
      for (const path of source!.split(/\s+/)) expect(existsSync(join(ROOT, path)), `COPY ${path}`).toBe(true);
    }
  });
});
