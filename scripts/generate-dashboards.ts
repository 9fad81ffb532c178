/**
 * Writes grafana/dashboards/<uid>.json from the TypeScript dashboards in grafana/src (`npm run dashboards`).
 * The JSON files are committed: Grafana's file provisioning loads them, and tests/monitoring/grafana.test.ts
 * fails when they differ from what this script would write. JSON files of dashboards no longer defined are removed.
 */
import { readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DASHBOARDS, dashboardJson } from '../grafana/src/index.js';

const outDir = fileURLToPath(new URL('../grafana/dashboards/', import.meta.url));
mkdirSync(outDir, { recursive: true });

const written = new Set<string>();
for (const [uid, build] of Object.entries(DASHBOARDS)) {
  const file = `${uid}.json`;
  const built = build();
  writeFileSync(join(outDir, file), dashboardJson(built));
  written.add(file);
  console.log(`grafana/dashboards/${file}: ${built.panels?.filter((p) => p.type !== 'row').length ?? 0} panels`);
}
for (const file of readdirSync(outDir)) {
  if (file.endsWith('.json') && !written.has(file)) {
    rmSync(join(outDir, file));
    console.log(`grafana/dashboards/${file}: removed (no such dashboard in grafana/src)`);
  }
}
