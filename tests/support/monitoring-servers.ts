import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/dev/free-port.js';
import { waitFor } from './wait-for.js';

/**
 * The real Prometheus and Alertmanager binaries (Debian's `prometheus` and `prometheus-alertmanager`) on free
 * loopback ports, each with its own temp folder, stopped by PID; and an HTTP sink standing in for a webhook
 * receiver.
 */

export function findBinary(...names: string[]): string | undefined {
  return names.find((name) => !spawnSync(name, ['--version']).error);
}

export interface RunningServer {
  url: string;
  dir: string;
  output(): string;
  stop(): Promise<void>;
}

async function startServer(binary: string, args: (port: number, dir: string) => string[], files: Record<string, string>): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vertigo-monitoring-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  const port = await freePort();
  let output = '';
  const child: ChildProcess = spawn(binary, args(port, dir), { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const server: RunningServer = {
    url,
    dir,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`${binary} exited: ${output}`);
      return (await fetch(`${url}/-/ready`)).ok;
    }, 30_000, 100);
  } catch (err) {
    await server.stop();
    throw new Error(`${binary} did not become ready: ${String(err)}\n${output}`);
  }
  return server;
}

/** Prometheus with `prometheus.yml` (paths in it may be relative to its folder) and extra files beside it. */
export function startPrometheus(binary: string, config: string, files: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(
    binary,
    (port, dir) => [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Without it the first alert can be lost while Alertmanager is not yet discovered.
      '--rules.alert.resend-delay=1s',
    ],
    { 'prometheus.yml': config, ...files },
  );
}

export function startAlertmanager(binary: string, config: string): Promise<RunningServer> {
  return startServer(
    binary,
    (port, dir) => [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { 'alertmanager.yml': config },
  );
}

/** Instant query through Prometheus's HTTP API. */
export async function promQuery(prometheusUrl: string, expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown } };
  if (body.status !== 'success') throw new Error(`query failed: ${expr}: ${body.error}`);
  const result = body.data!.result;
  return Array.isArray(result) ? (result as { metric: Record<string, string>; value: [number, string] }[]) : [];
}

export interface AlertmanagerWebhook {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

/** Collects what Alertmanager's webhook receivers POST. */
export async function startWebhookSink(): Promise<{ url: string; received: AlertmanagerWebhook[]; close(): Promise<void> }> {
  const received: AlertmanagerWebhook[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      try {
        received.push(JSON.parse(body) as AlertmanagerWebhook);
      } catch {
        // not JSON: ignored, the assertions only look at deliveries
      }
      res.writeHead(200).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
